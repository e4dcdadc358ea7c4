// lsm4kv.Store: the KvStore (kvcache_api/kv_store.h) for Python.
//
//   with lsm4kv.Store(dir, capacity_bytes=..., sync="per_batch") as store:
//       ns = store.register_namespace("llama3-8b", layers=32, kv_heads=8, head_dim=128, dtype="bf16")
//       store.put(ns, tokens, kv)                   # token API, page-major KV
//       cached = store.probe(ns, tokens)
//       store.get(ns, tokens, cached, dst)
//       store.put_pages(ns, keys, pages)            # page-key API
//       n = store.exists_prefix(ns, keys)
//       loaded = store.get_pages(ns, keys, pages)   # list[bool]
//
// Every call that reaches the store releases the GIL (call_scope.h); KV
// memory is lent without copies (buffers.h); errors raise the exception of
// their Status code with its message (errors.h). Thread-safe: any number of
// Python threads may call one Store; close() waits for the calls in flight.
#pragma once

#include <pybind11/pybind11.h>

namespace lsm4kv::python {

void bind_store(pybind11::module_& m);

}  // namespace lsm4kv::python
