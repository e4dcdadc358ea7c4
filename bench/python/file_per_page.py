"""The baseline: a file-per-page backend shaped like SGLang's HiCacheFile
(sglang/srt/mem_cache/hicache_storage.py) driven the way SGLang's
controller drives a backend without zero-copy v1 (its generic page path):

    set:    the page is copied out of the host pool into one flat buffer
            (get_data_page(flat=True)), written to "<key>_<suffix>.bin.tmp"
            and renamed over "<key>_<suffix>.bin" in one flat directory;
            a key already on disk is skipped (exists first)
    exists: one stat per key, from the first, until one is missing
    get:    open + readinto a flat page, then copied into the pool
            (set_from_flat_data_page)

No fsync, as HiCacheFile. Same call signatures as the v1 calls of the
lsm4kv backend, over the same fake host pool.
"""

import os

import numpy as np


class FilePerPage:
    def __init__(self, directory, suffix="_model_0_1"):
        self.dir = directory
        self.suffix = suffix
        os.makedirs(directory, exist_ok=True)
        self.pool = None

    def register_mem_pool_host(self, pool):
        self.pool = pool

    def _path(self, key):
        return os.path.join(self.dir, f"{key}{self.suffix}.bin")

    def _views(self, host_indices, n):
        ptrs, sizes = self.pool.get_page_buffer_meta(host_indices)
        flat = self.pool.kv_buffer.reshape(-1).view(np.uint8)
        base = self.pool.kv_buffer.ctypes.data
        per = len(ptrs) // n
        views = [flat[p - base: p - base + s] for p, s in zip(ptrs, sizes)]
        return [views[i * per:(i + 1) * per] for i in range(n)]

    def exists(self, key):
        return os.path.exists(self._path(key))

    def batch_exists(self, keys, extra_info=None):
        for i, key in enumerate(keys):
            if not self.exists(key):
                return i
        return len(keys)

    def batch_set_v1(self, keys, host_indices, extra_info=None):
        out = []
        for key, slices in zip(keys, self._views(host_indices, len(keys))):
            if self.exists(key):
                out.append(True)
                continue
            page = np.concatenate(slices)  # get_data_page(flat=True): a copy
            tmp = self._path(key) + f".tmp.{os.getpid()}"
            page.tofile(tmp)
            os.replace(tmp, self._path(key))
            out.append(True)
        return out

    def batch_get_v1(self, keys, host_indices, extra_info=None):
        out = []
        for key, slices in zip(keys, self._views(host_indices, len(keys))):
            page = np.empty(sum(s.size for s in slices), dtype=np.uint8)
            try:
                with open(self._path(key), "rb", buffering=0) as f:
                    ok = f.readinto(memoryview(page)) == page.size
            except FileNotFoundError:
                ok = False
            if ok:  # set_from_flat_data_page: a copy into the pool
                at = 0
                for s in slices:
                    s[:] = page[at:at + s.size]
                    at += s.size
            out.append(ok)
        return out

    def close(self):
        pass
