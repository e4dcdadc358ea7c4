#include "python/src/buffers.h"

#include <cstring>
#include <limits>

#include "python/src/errors.h"

namespace lsm4kv::python {
namespace py = pybind11;

namespace {

[[noreturn]] void bad(const std::string& msg) {
  check(Status::invalid_argument(msg));
  throw std::logic_error("unreachable");
}

uint64_t as_u64(py::handle h, const char* what) {
  if (!PyLong_Check(h.ptr())) bad(std::string(what) + " must be an int");
  uint64_t v = PyLong_AsUnsignedLongLong(h.ptr());
  if (PyErr_Occurred()) {
    PyErr_Clear();
    bad(std::string(what) + " must be a non-negative int below 2**64");
  }
  return v;
}

bool is_raw_pair(py::handle obj) {
  return PyTuple_Check(obj.ptr()) && PyTuple_GET_SIZE(obj.ptr()) == 2 &&
         PyLong_Check(PyTuple_GET_ITEM(obj.ptr(), 0)) && PyLong_Check(PyTuple_GET_ITEM(obj.ptr(), 1));
}

Region tensor_region(py::handle t) {
  if (py::hasattr(t, "is_contiguous") && !t.attr("is_contiguous")().cast<bool>())
    bad("tensor must be contiguous");
  Region r;
  r.data = reinterpret_cast<void*>(as_u64(t.attr("data_ptr")(), "data_ptr()"));
  r.size = py::hasattr(t, "nbytes")
               ? as_u64(t.attr("nbytes"), "nbytes")
               : as_u64(t.attr("element_size")(), "element_size()") * as_u64(t.attr("numel")(), "numel()");
  r.device = py::hasattr(t, "is_cuda") && t.attr("is_cuda").cast<bool>();
  return r;
}

// A sequence as a list (tensors and arrays through tolist(), which is one
// C call instead of an element at a time).
py::list as_list(py::handle seq, const char* what) {
  if (py::isinstance<py::list>(seq)) return py::reinterpret_borrow<py::list>(seq);
  if (py::hasattr(seq, "tolist")) return py::list(seq.attr("tolist")());
  if (!PySequence_Check(seq.ptr())) bad(std::string(what) + " must be a sequence");
  return py::list(py::reinterpret_borrow<py::object>(seq));
}

}  // namespace

Pins::~Pins() {
  for (auto& v : views_) PyBuffer_Release(v.get());
}

Py_buffer* Pins::add() {
  views_.push_back(std::make_unique<Py_buffer>());
  return views_.back().get();
}

Region region_of(py::handle obj, bool writable, Pins& pins) {
  if (obj.is_none()) bad("a KV buffer is None");
  if (is_raw_pair(obj)) {
    Region r{reinterpret_cast<void*>(as_u64(obj[py::int_(0)], "pointer")), as_u64(obj[py::int_(1)], "bytes"), false};
    return r;
  }
  if (py::hasattr(obj, "data_ptr")) return tensor_region(obj);
  if (!PyObject_CheckBuffer(obj.ptr()))
    bad(std::string("a KV buffer must be a (pointer, bytes) tuple, a tensor or a buffer, not ") +
        Py_TYPE(obj.ptr())->tp_name);
  Py_buffer tmp;
  if (PyObject_GetBuffer(obj.ptr(), &tmp, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) != 0) {
    PyErr_Clear();
    bad(writable ? "a destination buffer must be writable and C-contiguous" : "a buffer must be C-contiguous");
  }
  Py_buffer* view = pins.add();
  *view = tmp;
  return Region{view->buf, static_cast<size_t>(view->len), false};
}

std::vector<kvcache::PageSlices> pages_of(py::handle pages, size_t n_keys, bool writable, Pins& pins) {
  py::list list = as_list(pages, "pages");
  if (list.size() != n_keys)
    bad("got " + std::to_string(list.size()) + " pages for " + std::to_string(n_keys) + " keys");
  std::vector<kvcache::PageSlices> out(list.size());
  for (size_t i = 0; i < list.size(); i++) {
    py::handle page = list[i];
    auto add = [&](py::handle slice) {
      Region r = region_of(slice, writable, pins);
      if (r.device) bad("page slices must be host memory (page " + std::to_string(i) + " is on a device)");
      out[i].push_back({r.data, r.size});
    };
    if (py::isinstance<py::list>(page)) {
      for (py::handle s : page) add(s);
    } else {
      add(page);
    }
  }
  return out;
}

std::vector<kvcache::PageSlices> pages_from_pointers(py::handle pointers, py::handle sizes, size_t n_pages) {
  py::list ptrs = as_list(pointers, "pointers");
  if (n_pages == 0 || ptrs.size() == 0 || ptrs.size() % n_pages != 0)
    bad(std::to_string(ptrs.size()) + " pointers do not split evenly over " + std::to_string(n_pages) + " pages");
  const bool one_size = PyLong_Check(sizes.ptr());
  const uint64_t size = one_size ? as_u64(sizes, "size") : 0;
  py::list size_list = one_size ? py::list() : as_list(sizes, "sizes");
  if (!one_size && size_list.size() != ptrs.size())
    bad(std::to_string(size_list.size()) + " sizes for " + std::to_string(ptrs.size()) + " pointers");
  const size_t per_page = ptrs.size() / n_pages;
  std::vector<kvcache::PageSlices> out(n_pages);
  for (size_t i = 0; i < ptrs.size(); i++) {
    void* p = reinterpret_cast<void*>(as_u64(ptrs[i], "pointer"));
    out[i / per_page].push_back({p, one_size ? size : as_u64(size_list[i], "size")});
  }
  return out;
}

Keys keys_of(py::handle keys) {
  py::list list = as_list(keys, "keys");
  Keys k;
  k.owned.reserve(list.size());
  for (py::handle key : list) {
    if (PyUnicode_Check(key.ptr())) {
      Py_ssize_t n = 0;
      const char* s = PyUnicode_AsUTF8AndSize(key.ptr(), &n);
      if (s == nullptr) throw py::error_already_set();
      k.owned.emplace_back(s, static_cast<size_t>(n));
    } else if (PyBytes_Check(key.ptr())) {
      k.owned.emplace_back(PyBytes_AS_STRING(key.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(key.ptr())));
    } else {
      bad(std::string("a key must be str or bytes, not ") + Py_TYPE(key.ptr())->tp_name);
    }
  }
  k.views.assign(k.owned.begin(), k.owned.end());
  return k;
}

Tokens tokens_of(py::handle tokens, Pins& pins) {
  Tokens t;
  if (PyObject_CheckBuffer(tokens.ptr()) && !py::hasattr(tokens, "data_ptr")) {
    Py_buffer tmp;
    if (PyObject_GetBuffer(tokens.ptr(), &tmp, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) == 0) {
      const std::string_view fmt = tmp.format ? tmp.format : "B";
      if (tmp.itemsize == 4 && (fmt == "i" || fmt == "=i" || fmt == "<i" || (fmt == "l" && sizeof(long) == 4))) {
        Py_buffer* view = pins.add();
        *view = tmp;
        t.span = {static_cast<const kvcache::Token*>(view->buf), static_cast<size_t>(view->len) / 4};
        return t;
      }
      PyBuffer_Release(&tmp);
    } else {
      PyErr_Clear();
    }
  }
  py::list list = as_list(tokens, "tokens");
  t.owned.reserve(list.size());
  for (py::handle v : list) {
    if (!PyLong_Check(v.ptr())) bad("token ids must be ints");
    long long id = PyLong_AsLongLong(v.ptr());
    if (PyErr_Occurred() || id < std::numeric_limits<kvcache::Token>::min() ||
        id > std::numeric_limits<kvcache::Token>::max()) {
      PyErr_Clear();
      bad("a token id does not fit in int32");
    }
    t.owned.push_back(static_cast<kvcache::Token>(id));
  }
  t.span = t.owned;
  return t;
}

}  // namespace lsm4kv::python
