"""Concurrent calls from 4 Python threads: every store call releases the GIL,
so calls overlap inside the store.

Proof without timing: the store counts the calls inside it at once (with
the GIL released) and keeps the maximum. Were the GIL held during a call,
no two could ever be inside together and the maximum would stay 1. The
threads run until they have seen an overlap (or a bound on rounds, far
above what any machine needs, so a broken build fails instead of hanging).
"""

import threading

import numpy as np

import lsm4kv
from conftest import chain_keys, make_config
from fake_host_pool import FakeHostPool
from lsm4kv.sglang import Lsm4kvHiCacheStorage

THREADS, MAX_ROUNDS = 4, 5000


def run_threads(work):
    errors, barrier = [], threading.Barrier(THREADS)

    def body(t):
        try:
            barrier.wait()
            work(t)
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors


def test_store_calls_from_4_threads_overlap(tmp_path):
    with lsm4kv.Store(str(tmp_path / "s"), sync="per_batch", page_tokens=16, reserve_bytes=0) as store:
        ns = store.register_namespace("m", 2, 2, 8)
        page = 16 * 2 * 2 * 2 * 8 * 2

        def work(t):
            src = np.full(page, t, np.uint8)
            dst = np.zeros(page, np.uint8)
            for r in range(MAX_ROUNDS):
                key = f"thread{t}-round{r:06d}".encode().ljust(32, b".")
                store.put_pages(ns, [key], [src])
                assert store.get_pages(ns, [key], [dst]) == [True]
                assert dst.tobytes() == src.tobytes()
                if store.max_concurrent_calls >= 2 and r >= 3:
                    return

        run_threads(work)
        assert store.max_concurrent_calls >= 2


def test_backend_calls_from_4_threads_overlap_and_stay_correct(tmp_path, backends):
    pool = FakeHostPool(pages=4 * THREADS)
    b = Lsm4kvHiCacheStorage(make_config(tmp_path, sync="per_batch"), {})
    backends.append(b)
    b.register_mem_pool_host(pool)

    def work(t):
        mine = [4 * t + i for i in range(4)]
        for r in range(MAX_ROUNDS):
            keys = chain_keys(4, salt=f"t{t}r{r}")
            for p in mine:
                pool.fill(p, seed=1000 * t + r + p)
            want = [pool.page(p) for p in mine]
            assert b.batch_set_v1(keys, pool.indices(mine)) == [True] * 4
            assert b.batch_exists(keys) == 4
            for p in mine:
                pool.page_views(p)[0][:] = 0
            assert b.batch_get_v1(keys, pool.indices(mine)) == [True] * 4
            assert [pool.page(p) for p in mine] == want
            if b.store.max_concurrent_calls >= 2 and r >= 3:
                return

    run_threads(work)
    assert b.store.max_concurrent_calls >= 2
