"""A stand-in of SGLang's host KV pools (memory_pool_host.py) holding real
memory (numpy), in the layouts whose get_page_buffer_meta the backend reads:

    MHA page_first         kv_buffer[2][size][layers][heads][dim]: K then V slice per page
    MHA page_first_direct  kv_buffer[2][pages][layers][page_size][heads][dim]: K then V slice per page
    MLA page_first         kv_buffer[size][layers][1][kv_dim]: one slice per page

Pointers and sizes follow SGLang's formulas; page p of the pool holds tokens
p * page_size .. (p + 1) * page_size - 1. Also a duck-typed torch tensor.
"""

import numpy as np


class FakeTensor:
    """What the module reads of a torch tensor, over a numpy array."""

    def __init__(self, array, dtype="torch.bfloat16", is_cuda=False):
        self.array = array
        self.dtype = dtype
        self.is_cuda = is_cuda

    def data_ptr(self):
        return self.array.ctypes.data

    def element_size(self):
        return self.array.itemsize

    def numel(self):
        return self.array.size

    def is_contiguous(self):
        return self.array.flags["C_CONTIGUOUS"]


class FakeHostPool:
    def __init__(self, layout="page_first", mla=False, pages=8, page_size=4, layers=2, heads=2, dim=8,
                 dtype="torch.bfloat16"):
        self.layout = layout
        self.is_mla = mla
        self.page_size = page_size
        self.size = pages * page_size
        self.layer_num, self.head_num, self.head_dim = layers, heads, dim
        self.dtype = dtype
        self.itemsize = 2
        if mla:
            shape = (self.size, layers, 1, dim)
        elif layout == "page_first":
            shape = (2, self.size, layers, heads, dim)
        elif layout == "page_first_direct":
            shape = (2, pages, layers, page_size, heads, dim)
        else:
            raise ValueError(layout)
        self.kv_buffer = np.zeros(shape, dtype=np.uint16)

    def slice_bytes(self):
        per_token = self.layer_num * self.head_dim * self.itemsize * (1 if self.is_mla else self.head_num)
        return self.page_size * per_token

    def get_page_buffer_meta(self, indices):
        indices = indices.tolist()
        assert len(indices) % self.page_size == 0
        base = self.kv_buffer.ctypes.data
        n = self.slice_bytes()
        v_offset = self.kv_buffer.nbytes // 2
        ptrs = []
        for i in range(0, len(indices), self.page_size):
            first = indices[i]
            if self.is_mla:
                ptrs.append(base + first * self.layer_num * self.head_dim * self.itemsize)
                continue
            if self.layout == "page_first":
                k = base + first * self.layer_num * self.head_num * self.head_dim * self.itemsize
            else:
                k = base + (first // self.page_size) * n
            ptrs += [k, k + v_offset]
        return ptrs, [n] * len(ptrs)

    # -- test helpers ---------------------------------------------------------

    def indices(self, pool_pages):
        """Host indices of the given pool pages, as SGLang passes them."""
        pages = np.asarray(list(pool_pages), dtype=np.int64)
        return (pages[:, None] * self.page_size + np.arange(self.page_size)).reshape(-1)

    def page_views(self, p):
        """The byte views of pool page p, in the order the store keeps them."""
        ptrs, sizes = self.get_page_buffer_meta(self.indices([p]))
        flat = self.kv_buffer.reshape(-1).view(np.uint8)
        base = self.kv_buffer.ctypes.data
        return [flat[ptr - base: ptr - base + size] for ptr, size in zip(ptrs, sizes)]

    def fill(self, p, seed):
        for view in self.page_views(p):
            view[:] = np.random.default_rng(seed).integers(0, 256, view.size, dtype=np.uint8)
            seed += 1

    def page(self, p):
        return b"".join(v.tobytes() for v in self.page_views(p))

    def zero(self):
        self.kv_buffer[...] = 0
