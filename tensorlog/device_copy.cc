#include "tensorlog/device_copy.h"

#include <mutex>

#if LSM4KV_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace lsm4kv::tensorlog {
namespace {

struct DeviceProbe {
  bool available = false;
  std::string why;
};

const DeviceProbe& probe() {
  static const DeviceProbe result = [] {
    DeviceProbe p;
#if LSM4KV_WITH_CUDA
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      p.why = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(err);
      cudaGetLastError();  // clear the sticky error
    } else if (count == 0) {
      p.why = "cudaGetDeviceCount reports no CUDA device";
    } else {
      p.available = true;
    }
#else
    p.why = "lsm4kv was built without CUDA (LSM4KV_WITH_CUDA unset)";
#endif
    return p;
  }();
  return result;
}

#if LSM4KV_WITH_CUDA
Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::OK();
  return Status::io_error(std::string(what) + ": " + cudaGetErrorString(err));
}
#endif

}  // namespace

bool cuda_compiled() {
#if LSM4KV_WITH_CUDA
  return true;
#else
  return false;
#endif
}

bool device_available(std::string* why) {
  const DeviceProbe& p = probe();
  if (why != nullptr) *why = p.why;
  return p.available;
}

Status no_device_status() {
  return Status::not_supported("device destination requested but no CUDA device is usable: " +
                               probe().why);
}

void* pinned_alloc(size_t n) {
#if LSM4KV_WITH_CUDA
  if (!device_available()) return nullptr;
  void* p = nullptr;
  if (cudaHostAlloc(&p, n, cudaHostAllocPortable) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
#else
  (void)n;
  return nullptr;
#endif
}

void pinned_free(void* p) {
#if LSM4KV_WITH_CUDA
  if (p != nullptr) cudaFreeHost(p);
#else
  (void)p;
#endif
}

Status copy_to_device_async(void* dst, const void* src, size_t n, void* stream) {
#if LSM4KV_WITH_CUDA
  if (!device_available()) return no_device_status();
  return cuda_status(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice,
                                     static_cast<cudaStream_t>(stream)),
                     "cudaMemcpyAsync");
#else
  (void)dst, (void)src, (void)n, (void)stream;
  return no_device_status();
#endif
}

CopyFence::~CopyFence() {
#if LSM4KV_WITH_CUDA
  if (event_ != nullptr) {
    if (pending_) cudaEventSynchronize(static_cast<cudaEvent_t>(event_));
    cudaEventDestroy(static_cast<cudaEvent_t>(event_));
  }
#endif
}

Status CopyFence::record(void* stream) {
#if LSM4KV_WITH_CUDA
  if (event_ == nullptr) {
    cudaEvent_t ev;
    LSM4KV_RETURN_IF_ERROR(
        cuda_status(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreate"));
    event_ = ev;
  }
  LSM4KV_RETURN_IF_ERROR(cuda_status(
      cudaEventRecord(static_cast<cudaEvent_t>(event_), static_cast<cudaStream_t>(stream)),
      "cudaEventRecord"));
  pending_ = true;
  return Status::OK();
#else
  (void)stream;
  return no_device_status();
#endif
}

Status CopyFence::wait() {
  if (!pending_) return Status::OK();
  pending_ = false;
#if LSM4KV_WITH_CUDA
  return cuda_status(cudaEventSynchronize(static_cast<cudaEvent_t>(event_)),
                     "cudaEventSynchronize");
#else
  return Status::OK();
#endif
}

}  // namespace lsm4kv::tensorlog
