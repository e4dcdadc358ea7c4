#include "python/src/errors.h"

#include <Python.h>

namespace lsm4kv::python {
namespace py = pybind11;

namespace {

// The exception classes, indexed by Status::Code; created once at import and
// kept for the life of the interpreter (a module's exception types are).
PyObject* g_classes[static_cast<int>(Status::Code::kTagMismatch) + 1] = {};

PyObject* make_class(py::module_& m, const char* name, PyObject* bases, const char* doc) {
  std::string full = std::string("lsm4kv.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(full.c_str(), doc, bases, nullptr);
  if (cls == nullptr) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(cls));
  return cls;
}


}  // namespace

void register_errors(py::module_& m) {
  using C = Status::Code;
  PyObject* base = make_class(m, "Error", PyExc_RuntimeError, "An lsm4kv store call failed; the message is the store's.");
  auto sub = [&](C code, const char* name, PyObject* also, const char* doc) {
    py::object bases = also == nullptr ? py::reinterpret_borrow<py::object>(base)
                                       : py::reinterpret_steal<py::object>(PyTuple_Pack(2, base, also));
    g_classes[static_cast<int>(code)] = make_class(m, name, bases.ptr(), doc);
  };
  g_classes[0] = base;
  sub(C::kNotFound, "NotFoundError", PyExc_KeyError, "Not stored (never put, or evicted).");
  sub(C::kCorruption, "CorruptionError", nullptr, "A checksum, magic or length on disk is wrong.");
  sub(C::kIOError, "StorageIOError", PyExc_OSError, "The operating system refused an I/O.");
  sub(C::kNoSpace, "NoSpaceError", PyExc_OSError, "The disk is full.");
  sub(C::kInvalidArgument, "InvalidArgumentError", PyExc_ValueError, "Bad input; nothing was changed.");
  sub(C::kNotSupported, "NotSupportedError", nullptr, "Not supported here (e.g. device memory without CUDA).");
  sub(C::kBusy, "BusyError", nullptr, "The store directory is open in another process.");
  sub(C::kTagMismatch, "TagMismatchError", nullptr, "A record belongs to another key (a fingerprint collision).");
}

void check(const Status& s) {
  if (s.ok()) return;
  PyObject* cls = g_classes[static_cast<int>(s.code())];
  PyErr_SetString(cls != nullptr ? cls : g_classes[0], s.message().c_str());
  throw py::error_already_set();
}

}  // namespace lsm4kv::python
