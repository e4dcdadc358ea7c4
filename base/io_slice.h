// IoSlice: one piece of a scatter-gather list. A buffer given as slices is
// their bytes in order (SGLang's host pool gives a page as its K slice and
// its V slice); the store and the tensor log copy into and out of the slices
// themselves, with no contiguous staging copy.
//
// Thread-safety: plain values and functions.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>

namespace lsm4kv {

struct IoSlice {
  void* data = nullptr;
  size_t size = 0;
};

// Copies the slices' bytes, in order, to dst.
inline void gather_copy(std::span<const IoSlice> src, char* dst) {
  for (const IoSlice& s : src) {
    std::memcpy(dst, s.data, s.size);
    dst += s.size;
  }
}

// Copies src, in order, into the slices.
inline void scatter_copy(const char* src, std::span<const IoSlice> dst) {
  for (const IoSlice& s : dst) {
    std::memcpy(s.data, src, s.size);
    src += s.size;
  }
}

}  // namespace lsm4kv
