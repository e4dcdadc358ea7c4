#include "kvcache_api/device_staging.h"

#include "kvcache_api/kv_store.h"
#include "tensorlog/device_copy.h"

#if LSM4KV_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace lsm4kv::kvcache {

#if LSM4KV_WITH_CUDA
namespace {
Status copy(void* dst, const void* src, size_t n, void* stream, cudaMemcpyKind kind) {
  if (!tensorlog::device_available()) return tensorlog::no_device_status();
  auto s = static_cast<cudaStream_t>(stream);
  cudaError_t e = cudaMemcpyAsync(dst, src, n, kind, s);
  if (e == cudaSuccess) e = cudaStreamSynchronize(s);
  if (e != cudaSuccess) return Status::io_error(std::string("cudaMemcpyAsync: ") + cudaGetErrorString(e));
  return Status::OK();
}
}  // namespace

Status copy_from_device(void* host_dst, const void* device_src, size_t n, void* cuda_stream) {
  return copy(host_dst, device_src, n, cuda_stream, cudaMemcpyDeviceToHost);
}
Status copy_to_device(void* device_dst, const void* host_src, size_t n, void* cuda_stream) {
  return copy(device_dst, host_src, n, cuda_stream, cudaMemcpyHostToDevice);
}
#else
Status copy_from_device(void*, const void*, size_t, void*) { return tensorlog::no_device_status(); }
Status copy_to_device(void*, const void*, size_t, void*) { return tensorlog::no_device_status(); }
#endif

bool device_available(std::string* why) { return tensorlog::device_available(why); }

}  // namespace lsm4kv::kvcache
