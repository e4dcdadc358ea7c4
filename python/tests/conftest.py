import hashlib

import pytest

from lsm4kv.hicache_standin import HiCacheStorageConfig


def chain_keys(n, salt="p"):
    """SGLang-style page keys: a SHA-256 chain, 64 hex characters each."""
    keys, prev = [], b""
    for i in range(n):
        prev = hashlib.sha256(prev + f"{salt}{i}".encode()).digest()
        keys.append(prev.hex())
    return keys


def make_config(tmp_path, *, model="org/model", tp_rank=0, tp_size=1, mla=False, **extra):
    cfg = {"backend_name": "lsm4kv", "module_path": "lsm4kv.sglang", "class_name": "Lsm4kvHiCacheStorage",
           "interface_v1": 1, "dir": str(tmp_path / "store"), "capacity_gb": 1, "sync": "none",
           "segment_mib": 4, "reserve_mib": 1}
    cfg.update(extra)
    return HiCacheStorageConfig(tp_rank=tp_rank, tp_size=tp_size, pp_rank=0, pp_size=1, attn_cp_rank=0,
                                attn_cp_size=1, is_mla_model=mla, enable_storage_metrics=False,
                                is_page_first_layout=True, model_name=model, extra_config=cfg)


@pytest.fixture
def backends():
    """Backends made by a test; closed at its end."""
    made = []
    yield made
    for b in made:
        b.close()
