// The memory and arguments a Python call lends to the store, without copies.
//
// KV memory may be given three ways, all zero-copy:
//   - a (pointer, bytes) tuple of ints: raw memory the caller owns;
//   - a torch tensor, duck-typed (no torch import): any object with
//     data_ptr(); its bytes are nbytes, or element_size() * numel(); is_cuda
//     marks device memory; it must be contiguous (is_contiguous(), when it
//     has one);
//   - an object with the buffer protocol (numpy array, memoryview,
//     bytearray), C-contiguous, writable where the store writes into it.
// Pins holds the buffer views of one call; it releases them when destroyed,
// which needs the GIL: declare it before the call's gil_scoped_release.
// Bad arguments raise InvalidArgumentError. REQUIRES: the GIL is held.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache_api/kv_store.h"

namespace lsm4kv::python {

struct Region {
  void* data = nullptr;
  size_t size = 0;
  bool device = false;  // CUDA memory (a tensor whose is_cuda is true)
};

class Pins {
 public:
  Pins() = default;
  Pins(const Pins&) = delete;
  Pins& operator=(const Pins&) = delete;
  ~Pins();
  Py_buffer* add();  // a view to fill; released by the destructor
 private:
  std::vector<std::unique_ptr<Py_buffer>> views_;
};

Region region_of(pybind11::handle obj, bool writable, Pins& pins);

// pages[i] is page i: a list of slices (each as region_of takes), or one
// slice. Host memory only.
std::vector<kvcache::PageSlices> pages_of(pybind11::handle pages, size_t n_keys, bool writable, Pins& pins);

// Flat (pointers, sizes) as a host pool's get_page_buffer_meta gives them:
// len(pointers) / n_pages consecutive slices per page; sizes is one int for
// every slice or a list as long as pointers.
std::vector<kvcache::PageSlices> pages_from_pointers(pybind11::handle pointers, pybind11::handle sizes,
                                                     size_t n_pages);

// Page keys: str (its UTF-8 bytes) or bytes.
struct Keys {
  std::vector<std::string> owned;
  std::vector<std::string_view> views;
};
Keys keys_of(pybind11::handle keys);

// Token ids: a C-contiguous int32 buffer is used in place; any other
// sequence of ints (lists, int64 arrays, tensors via tolist()) is converted.
struct Tokens {
  std::vector<kvcache::Token> owned;
  std::span<const kvcache::Token> span;
};
Tokens tokens_of(pybind11::handle tokens, Pins& pins);

}  // namespace lsm4kv::python
