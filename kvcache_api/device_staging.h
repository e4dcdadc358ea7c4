// Synchronous copies between host memory and a CUDA device for the store's
// put sources and partial-page get destinations. Without a CUDA build or a
// device they return NotSupported (tensorlog::no_device_status()).
#pragma once

#include <cstddef>

#include "base/status.h"

namespace lsm4kv::kvcache {

Status copy_from_device(void* host_dst, const void* device_src, size_t n, void* cuda_stream);
Status copy_to_device(void* device_dst, const void* host_src, size_t n, void* cuda_stream);

}  // namespace lsm4kv::kvcache
