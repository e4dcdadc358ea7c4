"""lsm4kv: an LSM-tree disk tier for the KV cache of LLM serving.

    import numpy as np, lsm4kv
    with lsm4kv.Store("/var/cache/kv", capacity_bytes=64 << 30) as store:
        ns = store.register_namespace("llama3-8b", layers=32, kv_heads=8, head_dim=128, dtype="bf16")
        store.put(ns, tokens, kv)              # tokens: int32 array; kv: page-major bytes
        cached = store.probe(ns, tokens)       # longest cached prefix, in tokens
        store.get(ns, tokens, cached, dst)

KV memory is lent without copies: buffers (numpy, memoryview), torch tensors
(data_ptr() and their byte size; CPU, and CUDA for the token API) and raw
(pointer, bytes) tuples. Every call that reaches the disk releases the GIL.
Errors raise lsm4kv.Error subclasses carrying the store's message. The SGLang
HiCache backend is lsm4kv.sglang.Lsm4kvHiCacheStorage.
"""

from ._lsm4kv import (
    BusyError,
    CorruptionError,
    Error,
    InvalidArgumentError,
    NoSpaceError,
    NotFoundError,
    NotSupportedError,
    StorageIOError,
    TagMismatchError,
    Store,
    device_available,
)

__all__ = [
    "BusyError",
    "CorruptionError",
    "Error",
    "InvalidArgumentError",
    "NoSpaceError",
    "NotFoundError",
    "NotSupportedError",
    "StorageIOError",
    "TagMismatchError",
    "Store",
    "device_available",
]
