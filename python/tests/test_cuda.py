"""The store with CUDA tensors (torch) on a GPU machine: a prompt's KV put from device memory
and got back into device memory, whole and in part, and into host memory. Skipped where torch
or a CUDA device is missing (our CI machines; test_store.py checks the refusal there)."""

import numpy as np
import pytest

import lsm4kv

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

LAYERS, HEADS, DIM = 2, 2, 8
BPT = 2 * LAYERS * HEADS * DIM * 2  # bytes per token, bf16
P = 16  # page tokens


def cuda_kv(tokens, seed):
    g = torch.Generator(device="cuda").manual_seed(seed)
    n = len(tokens) * BPT // 2
    return torch.randint(-30000, 30000, (n,), dtype=torch.int16, device="cuda", generator=g).view(torch.bfloat16)


def same(a, b):
    return torch.equal(a.view(torch.int16).cpu(), b.view(torch.int16).cpu())


def test_cuda_tensors_round_trip(tmp_path):
    assert lsm4kv.device_available()  # torch sees a device: so does the store
    with lsm4kv.Store(str(tmp_path / "s"), sync="none", page_tokens=P, segment_bytes=1 << 20,
                      reserve_bytes=0) as s:
        ns = s.register_namespace("m", LAYERS, HEADS, DIM, "bf16")
        tokens = np.arange(4 * P, dtype=np.int32)
        src = cuda_kv(tokens, 1)
        s.put(ns, tokens, src)
        assert s.probe(ns, tokens) == 4 * P
        dst = torch.zeros_like(src)
        s.get(ns, tokens, 4 * P, dst)
        assert same(dst, src)
        part = torch.zeros(2 * P * BPT // 2, dtype=torch.bfloat16, device="cuda")
        s.get(ns, tokens, 2 * P, part)
        assert same(part, src[: 2 * P * BPT // 2])
        host = torch.zeros(src.shape, dtype=torch.bfloat16)
        s.get(ns, tokens, 4 * P, host)
        assert same(host, src)
        with pytest.raises(lsm4kv.NotFoundError):  # a miss into device memory, as into host memory
            s.get(ns, np.arange(100, 100 + P, dtype=np.int32), P, part[: P * BPT // 2])
