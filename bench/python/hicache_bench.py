#!/usr/bin/env python3
"""The lsm4kv SGLang backend against a file-per-page backend (HiCacheFile's
shape, file_per_page.py) on the same fake host pool: batch_set_v1,
batch_exists and batch_get_v1 over batches of pages of a real layout
(default: 64-token pages, 8 KV heads x 128 dims x 32 layers, bf16 = 8 MiB a
page, MHA page_first), GB/s and p50/p99 per call; and what the Python layer
of lsm4kv adds over its C++ store call (the time inside the store, measured
in the binding: Store.last_call_seconds).

Reads are cold: between the write and read phases every file of both
backends is synced and dropped from the page cache (posix_fadvise
DONTNEED on our files only; the rest of the machine's cache is left).

    /usr/bin/python3 bench/python/hicache_bench.py --pages 1024 --batch 128
Needs the module built (PYTHONPATH=build/python, set below when found).
"""

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "python", "tests")]
for build in ("build", "build-py"):
    if os.path.isdir(os.path.join(ROOT, build, "python", "lsm4kv")):
        sys.path.insert(0, os.path.join(ROOT, build, "python"))
        break

import numpy as np  # noqa: E402

from fake_host_pool import FakeHostPool  # noqa: E402
from file_per_page import FilePerPage  # noqa: E402
from lsm4kv.hicache_standin import HiCacheStorageConfig  # noqa: E402
from lsm4kv.sglang import Lsm4kvHiCacheStorage  # noqa: E402


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=os.path.join(ROOT, "bench-data", "hicache-bench"))
    p.add_argument("--pages", type=int, default=1024, help="pages written and read per backend")
    p.add_argument("--batch", type=int, default=128, help="pages per call (SGLang: 128)")
    p.add_argument("--page-tokens", type=int, default=64)
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--sync", default="none", help="lsm4kv sync mode (HiCacheFile never syncs)")
    p.add_argument("--segment-mib", type=int, default=256)
    p.add_argument("--backends", default="lsm4kv,file")
    p.add_argument("--keep", action="store_true", help="leave the stores in --dir")
    return p.parse_args()


def keys_for(batch_no, n):
    return [hashlib.sha256(f"b{batch_no}p{i}".encode()).hexdigest() for i in range(n)]


def drop_cache(directory):
    for dirpath, _, files in os.walk(directory):
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def summarize(name, op, times, nbytes, inner=None):
    p50 = statistics.median(times)
    p99 = sorted(times)[min(len(times) - 1, int(0.99 * len(times)))]
    gbps = nbytes * len(times) / sum(times) / 1e9 if nbytes else 0.0
    line = f"| {name} | {op} | {len(times)} | {gbps:.2f} | {p50 * 1e3:.1f} | {p99 * 1e3:.1f} |"
    if inner:
        over = [1 - c / w for c, w in zip(inner, times)]
        line += f" {statistics.median(over) * 100:.2f}% ({min(over) * 100:.2f}..{max(over) * 100:.2f}) |"
    else:
        line += " |"
    print(line, flush=True)


def run(name, directory, backend, pool, args, store=None):
    batches = args.pages // args.batch
    indices = pool.indices(range(args.batch))
    page_bytes = len(pool.page(0))
    want = hashlib.sha256(pool.page(args.batch - 1)).hexdigest()
    timing = {"set": [], "exists": [], "get": []}
    inner = {"set": [], "exists": [], "get": []}

    def timed(op, fn):
        t0 = time.perf_counter()
        r = fn()
        timing[op].append(time.perf_counter() - t0)
        if store is not None:
            inner[op].append(store.last_call_seconds)
        return r

    for b in range(batches):
        assert timed("set", lambda: backend.batch_set_v1(keys_for(b, args.batch), indices)) == [True] * args.batch
    drop_cache(directory)
    for b in range(batches):
        keys = keys_for(b, args.batch)
        assert timed("exists", lambda: backend.batch_exists(keys)) == args.batch
        pool.page_views(args.batch - 1)[0][:] = 0
        assert timed("get", lambda: backend.batch_get_v1(keys, indices)) == [True] * args.batch
        assert hashlib.sha256(pool.page(args.batch - 1)).hexdigest() == want
    nbytes = page_bytes * args.batch
    summarize(name, "batch_set_v1", timing["set"], nbytes, inner["set"] if store else None)
    summarize(name, "batch_exists", timing["exists"], 0, inner["exists"] if store else None)
    summarize(name, "batch_get_v1", timing["get"], nbytes, inner["get"] if store else None)


def backend_dir(name, args):
    return os.path.join(args.dir, name)


def main():
    args = parse()
    if args.pages < args.batch:
        sys.exit("--pages must be at least --batch")
    shutil.rmtree(args.dir, ignore_errors=True)
    pool = FakeHostPool(pages=args.batch, page_size=args.page_tokens, layers=args.layers, heads=args.heads,
                        dim=args.dim)
    rng = np.random.default_rng(1)
    pool.kv_buffer.reshape(-1)[:] = rng.integers(0, 1 << 16, pool.kv_buffer.size, dtype=np.uint16)
    page_mib = len(pool.page(0)) / (1 << 20)
    print(f"{args.pages} pages of {page_mib:.1f} MiB ({args.page_tokens} tokens x {args.layers} layers x "
          f"{args.heads} heads x {args.dim} dims bf16, K+V), {args.batch} pages a call, cold reads")
    print("| backend | call | calls | GB/s | p50 ms | p99 ms | Python layer over C++ (median, range) |")
    print("|---|---|---|---|---|---|---|")
    try:
        for name in args.backends.split(","):
            if name == "lsm4kv":
                cfg = HiCacheStorageConfig(0, 1, 0, 1, 0, 1, False, False, True, "bench-model", extra_config={
                    "dir": backend_dir(name, args), "sync": args.sync, "segment_mib": args.segment_mib})
                backend = Lsm4kvHiCacheStorage(cfg, {})
                backend.register_mem_pool_host(pool)
                run(name, backend_dir(name, args), backend, pool, args, store=backend.store)
                backend.close()
            elif name == "file":
                backend = FilePerPage(backend_dir(name, args))
                backend.register_mem_pool_host(pool)
                run("file-per-page", backend_dir(name, args), backend, pool, args)
            else:
                sys.exit(f"unknown backend {name}")
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
