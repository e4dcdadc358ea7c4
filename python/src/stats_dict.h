// The store's reports as Python dicts (stats(), verify()).
#pragma once

#include <pybind11/pybind11.h>

#include "kvcache_api/kv_store.h"
#include "kvcache_api/store_admin.h"

namespace lsm4kv::python {

pybind11::dict stats_dict(const kvcache::StoreStats& s);
pybind11::dict verify_dict(const kvcache::admin::VerifyReport& r);

}  // namespace lsm4kv::python
