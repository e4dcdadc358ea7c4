// The lsm4kv._lsm4kv extension module: the store's exceptions and Store.
#include <pybind11/pybind11.h>

#include "kvcache_api/kv_store.h"
#include "python/src/errors.h"
#include "python/src/store_object.h"

PYBIND11_MODULE(_lsm4kv, m) {
  m.doc() = "lsm4kv: an LSM-tree disk tier for the KV cache of LLM serving";
  lsm4kv::python::register_errors(m);
  lsm4kv::python::bind_store(m);
  m.def(
      "device_available", [] { return lsm4kv::kvcache::device_available(); },
      "True when CUDA tensors work as put sources and get destinations in this process: the library was built "
      "with the CUDA runtime and a device answers. Decided once per process (a child forked after that sees "
      "none); without one, CUDA tensors raise NotSupportedError saying why.");
}
