"""The SGLang HiCache backend against the stand-in ABC and fake host pools."""

import numpy as np
import pytest

from conftest import chain_keys, make_config
from fake_host_pool import FakeHostPool, FakeTensor
from lsm4kv.hicache_standin import HiCacheStorage
from lsm4kv.sglang import Lsm4kvHiCacheStorage

LAYOUTS = [("page_first", False), ("page_first_direct", False), ("page_first", True), ("page_first_direct", True)]


def backend(backends, tmp_path, pool=None, **kw):
    b = Lsm4kvHiCacheStorage(make_config(tmp_path, **kw), {})
    backends.append(b)
    if pool is not None:
        b.register_mem_pool_host(pool)
    return b


@pytest.mark.parametrize("layout,mla", LAYOUTS)
def test_v1_round_trip_in_every_layout(tmp_path, backends, layout, mla):
    pool = FakeHostPool(layout=layout, mla=mla)
    b = backend(backends, tmp_path, pool, mla=mla)
    assert isinstance(b, HiCacheStorage)
    keys = chain_keys(5)
    for p in range(5):
        pool.fill(p, seed=10 * p)
    want = [pool.page(p) for p in range(5)]
    assert b.batch_exists(keys) == 0
    assert b.batch_set_v1(keys, pool.indices(range(5))) == [True] * 5
    assert b.batch_exists(keys + chain_keys(2, salt="other")) == 5
    pool.zero()
    # Load into other pool pages, in another order.
    assert b.batch_get_v1(keys[::-1], pool.indices([7, 6, 5, 4, 3])) == [True] * 5
    assert [pool.page(p) for p in [3, 4, 5, 6, 7]] == want
    assert b.batch_set_v1(keys[:2], pool.indices([3, 4])) == [True, True]  # already stored


def test_get_of_missing_keys_is_false_per_key(tmp_path, backends):
    pool = FakeHostPool()
    b = backend(backends, tmp_path, pool)
    keys = chain_keys(3)
    assert b.batch_set_v1(keys[:2], pool.indices([0, 1])) == [True, True]
    assert b.batch_get_v1(keys, pool.indices([2, 3, 4])) == [True, True, False]


def test_bad_input_is_false_never_an_exception(tmp_path, backends):
    pool = FakeHostPool()
    b = backend(backends, tmp_path, pool)
    keys = chain_keys(3)
    short = keys[:1] + ["abc"] + keys[2:]
    assert b.batch_set_v1(short, pool.indices([0, 1, 2])) == [True, False, True]
    assert b.batch_exists(short) == 1
    assert b.batch_get_v1(short, pool.indices([0, 1, 2])) == [True, False, True]
    assert b.batch_set_v1(keys, pool.indices([0, 1, 2])[:-1]) == [False] * 3  # not a multiple of the page size
    assert b.batch_get_v1(keys, None) == [False] * 3
    assert b.batch_set_v1([], pool.indices([])) == []
    assert b.batch_exists([]) == 0
    no_pool = backend(backends, tmp_path / "other")
    assert no_pool.batch_set_v1(keys, pool.indices([0, 1, 2])) == [False] * 3
    assert no_pool.batch_get_v1(keys, pool.indices([0, 1, 2])) == [False] * 3
    assert no_pool.batch_exists(keys) == 0


def test_a_pool_whose_pages_do_not_match_gets_false(tmp_path, backends):
    pool = FakeHostPool()
    b = backend(backends, tmp_path, pool)
    b.mem_pool_host = FakeHostPool(dim=4)  # another page size behind the backend's back
    assert b.batch_set_v1(chain_keys(2), b.mem_pool_host.indices([0, 1])) == [False, False]


@pytest.mark.parametrize("change", [
    {"model": "org/other"}, {"model_id": "sha-of-other-weights"}, {"tp_rank": 1, "tp_size": 2}, {"dtype": 1}])
def test_configurations_never_read_each_others_pages(tmp_path, backends, change):
    pool = FakeHostPool()
    keys = chain_keys(3)
    writer = backend(backends, tmp_path, pool)
    pool.fill(0, 1), pool.fill(1, 2), pool.fill(2, 3)
    assert writer.batch_set_v1(keys, pool.indices([0, 1, 2])) == [True] * 3
    writer.close()
    other_pool = FakeHostPool(dtype="torch.float16") if "dtype" in change else FakeHostPool()
    kw = {k: v for k, v in change.items() if k != "dtype"}
    reader = backend(backends, tmp_path, other_pool, **kw)
    assert reader.batch_exists(keys) == 0
    assert reader.batch_get_v1(keys, other_pool.indices([0, 1, 2])) == [False] * 3


def test_restart_finds_what_the_last_backend_stored(tmp_path, backends):
    pool = FakeHostPool()
    keys = chain_keys(4)
    first = backend(backends, tmp_path, pool, model_id="w1")
    for p in range(4):
        pool.fill(p, seed=p)
    want = [pool.page(p) for p in range(4)]
    assert first.batch_set_v1(keys, pool.indices(range(4))) == [True] * 4
    first.close()
    pool.zero()
    second = backend(backends, tmp_path, pool, model_id="w1")
    assert second.batch_exists(keys) == 4
    assert second.batch_get_v1(keys, pool.indices(range(4))) == [True] * 4
    assert [pool.page(p) for p in range(4)] == want


def test_mla_only_rank_0_writes_and_every_rank_reads(tmp_path, backends):
    pool0, pool1 = FakeHostPool(mla=True), FakeHostPool(mla=True)
    rank0 = backend(backends, tmp_path, pool0, mla=True, tp_rank=0, tp_size=2)
    rank1 = backend(backends, tmp_path, pool1, mla=True, tp_rank=1, tp_size=2)
    keys = chain_keys(2)
    pool1.fill(0, 5), pool1.fill(1, 6)
    assert rank1.batch_set_v1(keys, pool1.indices([0, 1])) == [True, True]  # accepted, not written
    assert rank0.batch_exists(keys) == 0 and rank1.batch_exists(keys) == 0
    pool0.fill(0, 7), pool0.fill(1, 8)
    want = [pool0.page(0), pool0.page(1)]
    assert rank0.batch_set_v1(keys, pool0.indices([0, 1])) == [True, True]
    assert rank1.batch_exists(keys) == 2
    assert rank1.batch_get_v1(keys, pool1.indices([2, 3])) == [True, True]
    assert [pool1.page(2), pool1.page(3)] == want


def test_generic_path_shares_pages_with_v1(tmp_path, backends):
    pool = FakeHostPool()
    b = backend(backends, tmp_path, pool)
    keys = chain_keys(3)
    n = len(pool.page(0))
    values = [np.random.default_rng(i).integers(0, 256, n, dtype=np.uint8) for i in range(2)]
    assert b.set(keys[0], values[0]) is True
    assert b.batch_set(keys[1:2], [FakeTensor(values[1].view(np.uint16))]) is True
    assert b.set(keys[0], values[0]) is True  # already stored
    assert b.exists(keys[0]) and b.exists(keys[1]) and not b.exists(keys[2])
    assert b.batch_exists(keys) == 2
    # What the generic path stored, v1 loads: a flat page is K then V.
    assert b.batch_get_v1(keys[:2], pool.indices([4, 5])) == [True, True]
    assert [pool.page(4), pool.page(5)] == [v.tobytes() for v in values]
    dst = np.zeros(n, dtype=np.uint8)
    assert b.get(keys[1], dst) is dst and dst.tobytes() == values[1].tobytes()
    raw = np.zeros(n, dtype=np.uint8)
    got = b.batch_get(keys, [raw.ctypes.data, None, None], n)
    assert got[0] == raw.ctypes.data and got[1:] == [None, None] and raw.tobytes() == values[0].tobytes()
    assert b.get(keys[2], np.zeros(n, dtype=np.uint8)) is None
    fresh = b.batch_get(keys[:1])
    assert fresh[0].tobytes() == values[0].tobytes()
    assert b.set("not-a-hash", values[0]) is False
    assert b.set(keys[2], np.zeros(n + 2, dtype=np.uint8)) is False  # not a page


def test_clear_and_stats(tmp_path, backends):
    pool = FakeHostPool()
    b = backend(backends, tmp_path, pool)
    keys = chain_keys(3)
    assert b.batch_set_v1(keys, pool.indices([0, 1, 2])) == [True] * 3
    assert b.batch_get_v1(keys, pool.indices([3, 4, 5])) == [True] * 3
    m = b.get_stats()
    assert m.backup_pgs == [3] and m.prefetch_pgs == [3]
    assert len(m.backup_bandwidth) == 1 and m.backup_bandwidth[0] > 0
    assert b.get_stats().backup_pgs == []  # reset by each call
    assert b.store_stats()["pages_put"] == 3
    b.clear()
    assert b.batch_exists(keys) == 0
    assert b.batch_set_v1(keys, pool.indices([0, 1, 2])) == [True] * 3
    assert b.batch_exists(keys) == 3


def test_calls_after_close_are_false(tmp_path, backends):
    pool = FakeHostPool()
    b = backend(backends, tmp_path, pool)
    b.close()
    keys = chain_keys(2)
    assert b.batch_set_v1(keys, pool.indices([0, 1])) == [False, False]
    assert b.batch_exists(keys) == 0
    assert b.batch_get_v1(keys, pool.indices([0, 1])) == [False, False]


def test_extra_config_needs_a_dir(tmp_path):
    with pytest.raises(ValueError, match="dir"):
        Lsm4kvHiCacheStorage(make_config(tmp_path, dir=""), {})
