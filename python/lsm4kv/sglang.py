"""lsm4kv as SGLang's HiCache L3 storage backend.

Launch SGLang with:
    --hicache-storage-backend dynamic --hicache-storage-backend-extra-config
    '{"backend_name":"lsm4kv","module_path":"lsm4kv.sglang","class_name":"Lsm4kvHiCacheStorage",
      "interface_v1":1,"dir":"/nvme/kv","capacity_gb":500}'
Extra config: dir (required), capacity_gb (per rank's store; 0 = unbounded),
model_id (the weights' identity, optional), sync ("none", "per_batch",
"group_commit"; default "per_batch"), segment_mib, reserve_mib (the store's
full-disk reserve; default: by the capacity, kv_store.h).

SGLang builds the backend as cls(storage_config, kwargs), then calls
register_mem_pool_host(pool). The v1 calls move pages between the pool's
memory (get_page_buffer_meta: K then V slices per page for MHA, one slice
for MLA) and the store's page-key API without copies, and release the GIL
while on disk. Batch calls never raise and never return None (SGLang's I/O
threads die on either): a key that fails is False, a whole batch that cannot
run is all False. Isolation and directories: namespace.py.
"""

import logging
import threading
import time

from . import shared_store
from .namespace import namespace_name, page_key, rank_dir

try:  # the real base class when SGLang is installed (its factory checks it)
    from sglang.srt.mem_cache.hicache_storage import HiCacheStorage, HiCacheStorageConfig  # noqa: F401
except ImportError:
    from .hicache_standin import HiCacheStorage, HiCacheStorageConfig  # noqa: F401
try:
    from sglang.srt.metrics.collector import StorageMetrics
except ImportError:
    from .hicache_standin import StorageMetrics

logger = logging.getLogger(__name__)


def _length(indices):
    return int(indices.numel()) if hasattr(indices, "numel") else len(indices)


def _nbytes(obj):
    if isinstance(obj, tuple):
        return int(obj[1])
    if hasattr(obj, "data_ptr"):
        return int(obj.nbytes) if hasattr(obj, "nbytes") else int(obj.element_size()) * int(obj.numel())
    return memoryview(obj).nbytes


def _target(locations, sizes, i):
    """The i-th target of a generic call: a tensor or buffer, or a raw
    (pointer, bytes) pair given as an int location and an int size."""
    if locations is None:
        return None
    loc = locations[i]
    if isinstance(loc, int):
        size = sizes[i] if isinstance(sizes, (list, tuple)) else sizes
        return (loc, int(size)) if size is not None else None
    return loc


class Lsm4kvHiCacheStorage(HiCacheStorage):
    def __init__(self, storage_config, kwargs=None):
        extra = dict(storage_config.extra_config or {})
        root = extra.get("dir")
        if not root:
            raise ValueError("lsm4kv: the extra config needs 'dir', the store's directory")
        self.config = storage_config
        self.model_id = extra.get("model_id")
        # MLA ranks hold the same KV: only rank 0 writes (as SGLang's own
        # controller backs up only from rank 0).
        self.writes = not (storage_config.is_mla_model and storage_config.tp_rank != 0)
        shared = rank_dir(root, storage_config, with_tp=not storage_config.is_mla_model)
        use_shared = self.writes or shared_store.is_open(shared)
        self.path = shared if use_shared else rank_dir(root, storage_config, with_tp=True)
        options = {
            "capacity_bytes": int(float(extra.get("capacity_gb", 0)) * (1 << 30)),
            "sync": extra.get("sync", "per_batch"),
            "page_tokens": 1,  # a keyed page is one record of the pool's page bytes
        }
        if "segment_mib" in extra:
            options["segment_bytes"] = int(extra["segment_mib"]) << 20
        if "reserve_mib" in extra:  # the store's full-disk reserve file (default: by the capacity)
            options["reserve_bytes"] = int(extra["reserve_mib"]) << 20
        self.store = shared_store.open_shared(self.path, **options)
        self.mem_pool_host = None
        self._ns = None  # (namespace id, page bytes)
        self._page_size = 0
        self._metrics = StorageMetrics()
        self._metrics_lock = threading.Lock()
        self._closed = False

    # -- setup ---------------------------------------------------------------

    def register_mem_pool_host(self, mem_pool_host):
        import numpy as np

        super().register_mem_pool_host(mem_pool_host)
        self._page_size = int(mem_pool_host.page_size)
        ptrs, sizes = mem_pool_host.get_page_buffer_meta(np.arange(self._page_size, dtype=np.int64))
        page_bytes = sum(sizes) if isinstance(sizes, (list, tuple)) else int(sizes) * len(ptrs)
        layout = getattr(mem_pool_host, "layout", "page_first")
        self._ns = (self._register(mem_pool_host.dtype, layout, page_bytes), page_bytes)

    def _register(self, dtype, layout, page_bytes):
        if page_bytes <= 0:
            raise ValueError(f"lsm4kv: a page of {page_bytes} bytes (must be > 0)")
        name = namespace_name(self.config, dtype, layout, page_bytes, self.model_id)
        # An opaque namespace: the store sees bytes only, one "token" per page.
        return self.store.register_namespace(name, bytes_per_token=page_bytes)

    def _generic_ns(self, obj):
        """The namespace of a generic call: the pool's, or (no pool yet) one
        named after the value's dtype and bytes."""
        if self._ns is None:
            page_bytes = _nbytes(obj)
            self._ns = (self._register(getattr(obj, "dtype", "uint8"), "flat", page_bytes), page_bytes)
        return self._ns

    # -- zero-copy v1 --------------------------------------------------------

    def batch_exists(self, keys, extra_info=None) -> int:
        if not keys or self._ns is None:
            return 0
        raw = []
        for k in keys:
            pk = page_key(k)
            if pk is None:
                break
            raw.append(pk)
        try:
            return self.store.exists_prefix(self._ns[0], raw) if raw else 0
        except Exception as e:
            logger.warning("lsm4kv batch_exists failed: %s", e)
            return 0

    def batch_set_v1(self, keys, host_indices, extra_info=None):
        if not self.writes:
            return [True] * len(keys)
        return self._v1(keys, host_indices, "set")

    def batch_get_v1(self, keys, host_indices, extra_info=None):
        return self._v1(keys, host_indices, "get")

    def _v1(self, keys, host_indices, op):
        n = len(keys)
        results = [False] * n
        if n == 0:
            return results
        try:
            if self._ns is None or self.mem_pool_host is None:
                logger.warning("lsm4kv batch_%s_v1: no host pool registered", op)
                return results
            if host_indices is None or _length(host_indices) != n * self._page_size:
                logger.warning("lsm4kv batch_%s_v1: %s host indices for %d pages of %d tokens", op,
                               None if host_indices is None else _length(host_indices), n, self._page_size)
                return results
            ptrs, sizes = self.mem_pool_host.get_page_buffer_meta(host_indices)
            if not isinstance(sizes, (list, tuple)):
                sizes = [int(sizes)] * len(ptrs)
            per = len(ptrs) // n
            if per == 0 or per * n != len(ptrs):
                logger.warning("lsm4kv batch_%s_v1: %d buffers for %d pages", op, len(ptrs), n)
                return results
            raw = [page_key(k) for k in keys]
            chosen = [i for i, r in enumerate(raw) if r is not None]
            if not chosen:
                return results
            if len(chosen) < n:
                ptrs = [ptrs[i * per + j] for i in chosen for j in range(per)]
                sizes = [sizes[i * per + j] for i in chosen for j in range(per)]
                raw = [raw[i] for i in chosen]
            t0 = time.perf_counter()
            if op == "set":
                self.store.put_pages_ptr(self._ns[0], raw, ptrs, sizes)
                done = [True] * len(chosen)
            else:
                done = self.store.get_pages_ptr(self._ns[0], raw, ptrs, sizes)
            self._record(op, sum(done), sum(done) * self._ns[1], time.perf_counter() - t0)
            for i, ok in zip(chosen, done):
                results[i] = ok
            return results
        except Exception as e:
            logger.warning("lsm4kv batch_%s_v1 failed: %s", op, e)
            return [False] * n

    def _record(self, op, pages, nbytes, seconds):
        gbps = nbytes / seconds / 1e9 if seconds > 0 else 0.0
        with self._metrics_lock:
            if op == "set":
                self._metrics.backup_pgs.append(pages)
                self._metrics.backup_bandwidth.append(gbps)
            else:
                self._metrics.prefetch_pgs.append(pages)
                self._metrics.prefetch_bandwidth.append(gbps)

    # -- generic path (values as tensors or buffers) -----------------------------

    def exists(self, key) -> bool:
        return self.batch_exists([key]) == 1

    def set(self, key, value=None, target_location=None, target_sizes=None) -> bool:
        return self.batch_set([key], None if value is None else [value],
                              None if target_location is None else [target_location], target_sizes)

    def batch_set(self, keys, values=None, target_locations=None, target_sizes=None) -> bool:
        if not keys:
            return True
        if not self.writes:
            return True
        try:
            pages = list(values) if values is not None else [
                _target(target_locations, target_sizes, i) for i in range(len(keys))]
            raw = [page_key(k) for k in keys]
            if len(pages) != len(keys) or any(p is None for p in pages) or any(r is None for r in raw):
                logger.warning("lsm4kv batch_set: a key or value is missing or malformed")
                return False
            self.store.put_pages(self._generic_ns(pages[0])[0], raw, pages)
            return True
        except Exception as e:
            logger.warning("lsm4kv batch_set failed: %s", e)
            return False

    def get(self, key, target_location=None, target_sizes=None):
        return self.batch_get([key], None if target_location is None else [target_location], target_sizes)[0]

    def batch_get(self, keys, target_locations=None, target_sizes=None):
        out = [None] * len(keys)
        if not keys:
            return out
        try:
            if target_locations is None:
                if self._ns is None:
                    return out
                import numpy as np

                targets = [np.empty(self._ns[1], dtype=np.uint8) for _ in keys]
            else:
                targets = [_target(target_locations, target_sizes, i) for i in range(len(keys))]
            chosen = [i for i, k in enumerate(keys) if page_key(k) is not None and targets[i] is not None]
            if not chosen:
                return out
            ns = self._generic_ns(targets[chosen[0]])[0]
            done = self.store.get_pages(ns, [page_key(keys[i]) for i in chosen], [targets[i] for i in chosen])
            for i, ok in zip(chosen, done):
                if ok:
                    out[i] = target_locations[i] if target_locations is not None else targets[i]
            return out
        except Exception as e:
            logger.warning("lsm4kv batch_get failed: %s", e)
            return [None] * len(keys)

    # -- management ----------------------------------------------------------

    def clear(self) -> None:
        """Drops every page of this rank's store."""
        try:
            self.store.evict_to(0)
        except Exception as e:
            logger.warning("lsm4kv clear failed: %s", e)

    def get_stats(self):
        """Pages and GB/s of each v1 batch since the last call (SGLang's
        StorageMetrics); the store's own counters are store_stats()."""
        with self._metrics_lock:
            metrics, self._metrics = self._metrics, StorageMetrics()
        return metrics

    def store_stats(self):
        return self.store.stats()

    def close(self):
        if not self._closed:
            self._closed = True
            shared_store.release(self.path)
