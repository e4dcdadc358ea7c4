"""lsm4kv.Store: the token and page-key APIs over every kind of buffer."""

import os

import numpy as np
import pytest

import lsm4kv
from fake_host_pool import FakeTensor

LAYERS, HEADS, DIM = 2, 2, 8
BPT = 2 * LAYERS * HEADS * DIM * 2  # bytes per token, bf16
P = 16  # page tokens


@pytest.fixture
def store(tmp_path):
    with lsm4kv.Store(str(tmp_path / "s"), sync="none", page_tokens=P, segment_bytes=1 << 20,
                      reserve_bytes=0) as s:
        yield s


def kv_for(tokens, seed=0):
    return np.random.default_rng(seed).integers(0, 256, len(tokens) * BPT, dtype=np.uint8)


def test_token_api_round_trip(store):
    ns = store.register_namespace("m", layers=LAYERS, kv_heads=HEADS, head_dim=DIM, dtype="torch.bfloat16")
    assert store.register_namespace("m", LAYERS, HEADS, DIM, "bf16") == ns
    tokens = np.arange(4 * P, dtype=np.int32)
    kv = kv_for(tokens)
    assert store.probe(ns, tokens) == 0
    store.put(ns, tokens, kv)
    assert store.probe(ns, tokens) == 4 * P
    assert store.probe(ns, list(range(2 * P + 3))) == 2 * P  # a list, converted
    assert store.probe(ns, np.arange(4 * P, dtype=np.int64)) == 4 * P  # int64, converted
    dst = np.zeros_like(kv)
    store.get(ns, tokens, 3 * P, dst[: 3 * P * BPT])
    assert dst[: 3 * P * BPT].tobytes() == kv[: 3 * P * BPT].tobytes()
    tensor_dst = np.zeros_like(kv)
    store.get(ns, tokens, 4 * P, FakeTensor(tensor_dst.view(np.uint16)))
    assert tensor_dst.tobytes() == kv.tobytes()
    with pytest.raises(lsm4kv.NotFoundError):
        store.get(ns, np.arange(100, 100 + P, dtype=np.int32), P, dst[: P * BPT])
    with pytest.raises(lsm4kv.InvalidArgumentError, match="another layout"):
        store.register_namespace("m", LAYERS, HEADS, DIM * 2, "bf16")


def test_opaque_namespace_by_bytes_per_token(store):
    ns = store.register_namespace("blobs", bytes_per_token=BPT + 3)
    assert store.register_namespace("blobs", bytes_per_token=BPT + 3) == ns
    tokens = np.arange(2 * P, dtype=np.int32)
    kv = np.random.default_rng(1).integers(0, 256, len(tokens) * (BPT + 3), dtype=np.uint8)
    store.put(ns, tokens, kv)
    dst = np.zeros_like(kv)
    store.get(ns, tokens, 2 * P, dst)
    assert dst.tobytes() == kv.tobytes()
    with pytest.raises(lsm4kv.InvalidArgumentError, match="opaque"):
        store.register_namespace("mixed", layers=2, bytes_per_token=64)


def test_page_api_with_buffers_tensors_and_raw_pointers(store):
    ns = store.register_namespace("m", LAYERS, HEADS, DIM)
    page = P * BPT
    src = kv_for(range(3 * P), seed=1)
    keys = [b"a" * 32, "b" * 32, bytes(range(32))]
    pages = [
        [src[: page // 2], memoryview(src[page // 2: page])],                    # two buffer slices
        FakeTensor(src[page: 2 * page].view(np.uint16)),                           # one tensor
        [(src[2 * page:].ctypes.data, page // 4), (src.ctypes.data + 2 * page + page // 4, 3 * page // 4)],
    ]
    store.put_pages(ns, keys, pages)
    store.put_pages(ns, keys[:1], [src[:page]])  # idempotent
    assert store.exists_prefix(ns, keys) == 3
    assert store.exists_prefix(ns, [keys[0], b"x" * 32, keys[2]]) == 1
    dst = np.zeros_like(src)
    got = store.get_pages(ns, keys + [b"y" * 32], [dst[:page], dst[page: 2 * page], dst[2 * page:],
                                                  np.zeros(page, np.uint8)])
    assert got == [True, True, True, False]
    assert dst.tobytes() == src.tobytes()
    flat = np.zeros_like(src)
    base = flat.ctypes.data
    half = page // 2
    ptrs = [base + i * half for i in range(6)]
    assert store.get_pages_ptr(ns, keys, ptrs, half) == [True] * 3
    assert flat.tobytes() == src.tobytes()
    store.put_pages_ptr(ns, [b"c" * 32], [src.ctypes.data], [page])
    assert store.exists_prefix(ns, [b"c" * 32]) == 1


def test_bad_input_raises_with_the_store_message(store):
    ns = store.register_namespace("m", LAYERS, HEADS, DIM)
    page = np.zeros(P * BPT, np.uint8)
    with pytest.raises(lsm4kv.InvalidArgumentError):
        store.put_pages(ns, [b"k"], [page])  # key shorter than 8 bytes
    with pytest.raises(lsm4kv.InvalidArgumentError, match="pages for"):
        store.put_pages(ns, [b"k" * 32, b"j" * 32], [page])
    with pytest.raises(lsm4kv.InvalidArgumentError):
        store.put_pages(ns, [b"k" * 32], [page[:-2]])  # not a page
    with pytest.raises(lsm4kv.InvalidArgumentError, match="None"):
        store.put_pages(ns, [b"k" * 32], [None])
    with pytest.raises(lsm4kv.InvalidArgumentError, match="writable"):
        store.get_pages(ns, [b"k" * 32], [bytes(P * BPT)])
    with pytest.raises(lsm4kv.InvalidArgumentError, match="device"):
        store.put_pages(ns, [b"k" * 32], [FakeTensor(page, is_cuda=True)])
    with pytest.raises(lsm4kv.InvalidArgumentError, match="split evenly"):
        store.put_pages_ptr(ns, [b"k" * 32, b"j" * 32], [page.ctypes.data] * 3, P * BPT)
    with pytest.raises(lsm4kv.InvalidArgumentError, match="contiguous"):
        store.put(ns, np.arange(P, dtype=np.int32), np.zeros((P * BPT, 2), np.uint8)[:, 0])
    with pytest.raises(lsm4kv.InvalidArgumentError, match="sync"):
        lsm4kv.Store("/nonexistent", sync="sometimes")
    with pytest.raises(lsm4kv.InvalidArgumentError, match="dtype"):
        store.register_namespace("x", 1, 1, 1, "int3")
    assert issubclass(lsm4kv.InvalidArgumentError, ValueError)
    assert issubclass(lsm4kv.NotFoundError, KeyError)


def test_stats_verify_close_and_reopen(tmp_path):
    path = str(tmp_path / "s")
    tokens = np.arange(2 * P, dtype=np.int32)
    kv = kv_for(tokens)
    with lsm4kv.Store(path, page_tokens=P, reserve_bytes=0) as s:
        ns = s.register_namespace("m", LAYERS, HEADS, DIM)
        s.put(ns, tokens, kv)
        st = s.stats()
        assert st["pages_put"] == 2 and st["bytes_put"] == kv.nbytes
        assert set(st["put_latency"]) == {"p50_us", "p99_us", "count"}
        report = s.verify()
        assert report["clean"] and report["problems"] == [] and report["records"] == 2
        s.check_invariants()
    assert s.closed
    with pytest.raises(lsm4kv.InvalidArgumentError, match="closed"):
        s.probe(ns, tokens)
    s.close()  # twice is fine
    with lsm4kv.Store(path, page_tokens=P, reserve_bytes=0) as s:
        ns = s.register_namespace("m", LAYERS, HEADS, DIM)
        assert s.probe(ns, tokens) == 2 * P
        assert s.last_call_seconds > 0
    with lsm4kv.Store(path, read_only=True) as s:
        ns = s.register_namespace("m", LAYERS, HEADS, DIM)
        assert s.probe(ns, tokens) == 2 * P
        with pytest.raises(lsm4kv.NotSupportedError):
            s.put(ns, np.arange(1000, 1000 + P, dtype=np.int32), kv[: P * BPT])
    with pytest.raises(lsm4kv.InvalidArgumentError, match="page_tokens"):
        lsm4kv.Store(path, page_tokens=P * 2)


def test_a_cuda_tensor_reaches_the_store_as_device_memory(store):
    ns = store.register_namespace("m", LAYERS, HEADS, DIM)
    tokens = np.arange(P, dtype=np.int32)
    store.put(ns, tokens, kv_for(tokens))
    dst = np.zeros(P * BPT, np.uint8)
    # Host memory that says it is CUDA memory: without a CUDA device the store says it has
    # none; with one it finds the memory is not the device's (test_cuda.py has real ones).
    error = lsm4kv.InvalidArgumentError if lsm4kv.device_available() else lsm4kv.NotSupportedError
    with pytest.raises(error):
        store.get(ns, tokens, P, FakeTensor(dst, is_cuda=True))
    store.get(ns, tokens, P, FakeTensor(dst))  # the same memory as host memory loads
    assert dst.tobytes() == kv_for(tokens).tobytes()


def test_reserve_by_the_capacity_by_default(tmp_path):
    # index_write_buffer (8 MiB) + two 4 MiB segments; a size given is kept.
    with lsm4kv.Store(str(tmp_path / "a"), capacity_bytes=64 << 20, page_tokens=P):
        assert os.path.getsize(str(tmp_path / "a" / "RESERVE")) == 16 << 20
    with lsm4kv.Store(str(tmp_path / "b"), capacity_bytes=64 << 20, page_tokens=P, reserve_bytes=1 << 20):
        assert os.path.getsize(str(tmp_path / "b" / "RESERVE")) == 1 << 20
