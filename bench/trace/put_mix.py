#!/usr/bin/env python3
"""Put p99 of a bounded run against an unbounded one, on the same mix of put sizes.

A store under a capacity misses more, so it writes more and bigger puts than
the same store unbounded on the same trace; a put's time follows its size. The
plain ratio of the two runs' put p99 mixes the capacity's cost with that shift
in sizes. This prints both: the plain ratio, and the bounded p99 against the
unbounded run's puts re-weighted to the bounded run's sizes (each put of the
unbounded run weighs, within its size class, as many puts of that class as the
bounded run made, per put the unbounded run made), and both p99s class by class.

Input: the files that `trace_replay --put-log FILE` writes, one per run:

    ./build/bench/trace/trace_replay --backend store --capacity-mib 137 --put-log /tmp/b.log
    ./build/bench/trace/trace_replay --backend store --capacity-mib 0 --put-log /tmp/u.log
    /usr/bin/python3 bench/trace/put_mix.py /tmp/b.log /tmp/u.log
"""
import argparse
import sys


def read_log(path, backend):
    puts = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 3:
                sys.exit(f"{path}:{n}: expected 'backend pages ms'")
            if parts[0] == backend:
                puts.append((int(parts[1]), float(parts[2])))
    if not puts:
        sys.exit(f"{path}: no puts of backend {backend}")
    return puts


def size_class(pages):
    """Classes by pages written: 1, 2, 3-4, 5-8, ..., doubling."""
    c = 0
    while (1 << c) < pages:
        c += 1
    return c


def class_name(c):
    lo, hi = (1 << (c - 1)) + 1 if c > 0 else 1, 1 << c
    return str(hi) if lo == hi else f"{lo}-{hi}"


def weighted_percentile(values_weights, q):
    """The smallest value whose cumulative weight reaches q of the total."""
    pairs = sorted(values_weights)
    total = sum(w for _, w in pairs)
    acc = 0.0
    for v, w in pairs:
        acc += w
        if acc >= q * total:
            return v
    return pairs[-1][0]


def percentile(values, q):
    return weighted_percentile([(v, 1.0) for v in values], q)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bounded", help="put log of the run under a capacity")
    ap.add_argument("unbounded", help="put log of the unbounded run on the same trace")
    ap.add_argument("--backend", default="store", help="which backend's lines to read (default: store)")
    ap.add_argument("--q", type=float, default=0.99, help="the percentile (default 0.99)")
    a = ap.parse_args()
    bounded, unbounded = read_log(a.bounded, a.backend), read_log(a.unbounded, a.backend)
    by_class = {}
    for pages, ms in bounded:
        by_class.setdefault(size_class(pages), ([], []))[0].append(ms)
    for pages, ms in unbounded:
        by_class.setdefault(size_class(pages), ([], []))[1].append(ms)
    # Bounded puts of a class the unbounded run never made count in the
    # nearest class below that it did make (the comparison then favours
    # neither run by more than a class's width).
    weight_of = {}
    carried = 0
    for c in sorted(by_class, reverse=True):
        b, u = by_class[c]
        if not u:
            carried += len(b)
            continue
        weight_of[c] = (len(b) + carried) / len(u)
        carried = 0
    if carried:
        low = min(weight_of)
        weight_of[low] += carried / len(by_class[low][1])
    mixed = [(ms, weight_of[size_class(p)]) for p, ms in unbounded]
    q = a.q
    b_p, u_p = percentile([ms for _, ms in bounded], q), percentile([ms for _, ms in unbounded], q)
    m_p = weighted_percentile(mixed, q)
    pct = f"p{q * 100:g}"
    print(f"| pages written | bounded puts | bounded {pct} ms | unbounded puts | unbounded {pct} ms |")
    print("|---|---|---|---|---|")
    for c in sorted(by_class):
        b, u = by_class[c]
        bp = f"{percentile(b, q):.2f}" if b else "-"
        up = f"{percentile(u, q):.2f}" if u else "-"
        print(f"| {class_name(c)} | {len(b)} | {bp} | {len(u)} | {up} |")
    print(f"\nput {pct}: bounded {b_p:.2f} ms, unbounded {u_p:.2f} ms, ratio {b_p / u_p:.2f}; "
          f"unbounded on the bounded run's sizes {m_p:.2f} ms, ratio {b_p / m_p:.2f}")


if __name__ == "__main__":
    main()
