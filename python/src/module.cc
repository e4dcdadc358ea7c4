// The lsm4kv._lsm4kv extension module: the store's exceptions and Store.
#include <pybind11/pybind11.h>

#include "python/src/errors.h"
#include "python/src/store_object.h"

PYBIND11_MODULE(_lsm4kv, m) {
  m.doc() = "lsm4kv: an LSM-tree disk tier for the KV cache of LLM serving";
  lsm4kv::python::register_errors(m);
  lsm4kv::python::bind_store(m);
}
