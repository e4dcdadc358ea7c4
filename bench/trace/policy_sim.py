#!/usr/bin/python3
"""Page-granular simulation of cache policies on a Mooncake trace.

What trace_replay does to a backend, without the disk: each request probes
the longest cached prefix of its blocks (one block = one page), reads it,
and puts the pages after it. Counts the hit rate (pages found / pages
referenced) and the pages a policy copies forward per page put (region
eviction's GC). Capacity is in pages, all of one size. Used to choose the
region eviction rule (bench/RESULTS.md, "Two FIFOs"); the store's own
figures come from trace_replay.

  /usr/bin/python3 bench/trace/policy_sim.py [--trace PATH] [--capacity-pages N ...]
"""
import argparse
import collections
import json


class Lru:
    """File-per-page LRU (the trace bench's baseline)."""

    def __init__(self, cap):
        self.cap, self.pages, self.copies = cap, collections.OrderedDict(), 0

    def has(self, h):
        return h in self.pages

    def read(self, h):
        self.pages.move_to_end(h)

    def put(self, h):
        self.pages[h] = 0
        while len(self.pages) > self.cap:
            self.pages.popitem(last=False)


class Fifo:
    """One FIFO of regions: a page read keep times since written is copied forward."""

    def __init__(self, cap, keep):
        self.cap, self.keep, self.pages, self.copies = cap, keep, collections.OrderedDict(), 0

    def has(self, h):
        return h in self.pages

    def read(self, h):
        self.pages[h] += 1

    def put(self, h):
        self.pages[h] = 0
        while len(self.pages) > self.cap:
            k, reads = self.pages.popitem(last=False)
            if self.keep and reads >= self.keep:
                self.pages[k] = 0
                self.copies += 1


class TwoFifos:
    """S3-FIFO as the store does it: a small FIFO of new pages (share of the
    capacity), read ones move to the main FIFO, unread ones go to a ghost set
    (ghost x capacity pages) from which a put goes straight to main; main
    copies forward pages read main_keep times in their pass."""

    def __init__(self, cap, share, main_keep, ghost=1.0):
        self.cap, self.small_cap = cap, max(1, int(cap * share))
        self.main_keep, self.ghost_cap = main_keep, int(cap * ghost)
        self.small, self.main, self.ghost = (collections.OrderedDict() for _ in range(3))
        self.copies = 0

    def has(self, h):
        return h in self.small or h in self.main

    def read(self, h):
        if h in self.small:
            self.small[h] += 1
        else:
            self.main[h] = min(self.main[h] + 1, 3)

    def put(self, h):
        if self.ghost.pop(h, None) is not None:
            self.main[h] = 0
        else:
            self.small[h] = 0
        while len(self.small) + len(self.main) > self.cap:
            if len(self.small) > self.small_cap or not self.main:
                k, reads = self.small.popitem(last=False)
                if reads >= 1:
                    self.main[k] = 0
                    self.copies += 1
                else:
                    self.ghost[k] = 0
                    if len(self.ghost) > self.ghost_cap:
                        self.ghost.popitem(last=False)
            else:
                k, reads = self.main.popitem(last=False)
                if reads >= self.main_keep:
                    self.main[k] = 0
                    self.copies += 1


def replay(trace, policy):
    hits = refs = puts = 0
    for blocks in trace:
        refs += len(blocks)
        n = 0
        while n < len(blocks) and policy.has(blocks[n]):
            n += 1
        hits += n
        for h in blocks[:n]:
            policy.read(h)
        for h in blocks[n:]:
            if not policy.has(h):
                policy.put(h)
                puts += 1
    return hits / max(refs, 1), policy.copies / max(puts, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", default="../shared/data/mooncake_synthetic_trace.jsonl")
    # 460 and 137 MiB of 32 KiB pages: 1/3 and 1/10 of the synthetic trace's distinct KV.
    ap.add_argument("--capacity-pages", type=int, nargs="+", default=[14720, 4384])
    args = ap.parse_args()
    with open(args.trace) as f:
        trace = [json.loads(line)["hash_ids"] for line in f if line.strip()]
    policies = [("file-per-page LRU", lambda c: Lru(c))]
    policies += [(f"one FIFO, keep {k}", lambda c, k=k: Fifo(c, k)) for k in (0, 1, 2)]
    for share in (0.05, 0.1, 0.2):
        for mk in (1, 2, 3):
            policies.append((f"two FIFOs, small {share}, main keep {mk}", lambda c, s=share, m=mk: TwoFifos(c, s, m)))
    print("| policy | " + " | ".join(f"{c} pages: hit rate / copies per put" for c in args.capacity_pages) + " |")
    print("|---|" + "---|" * len(args.capacity_pages))
    for name, make in policies:
        cells = ["%.3f / %.2f" % replay(trace, make(c)) for c in args.capacity_pages]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
