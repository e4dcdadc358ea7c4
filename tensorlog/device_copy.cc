#include "tensorlog/device_copy.h"

#include <pthread.h>

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

DeviceProbe run_probe() {
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
}

// The probe runs once per process. CUDA does not survive fork(): once the
// probe has initialized it, every CUDA call in a forked child fails (seen on
// a GPU machine: a child's puts and gets failed with IOError). So a child
// forked after the probe inherits "no device" and works with host memory.
std::mutex probe_mu;  // guards the two below; held across fork() by the handlers
bool probed = false;
DeviceProbe probe_result;

void lock_before_fork() { probe_mu.lock(); }
void unlock_in_parent() { probe_mu.unlock(); }
void unlock_in_child() {
  // Where the parent found no device, its reason stands.
  if (probe_result.available)
    probe_result = {false, "CUDA was initialized before this process was forked, and CUDA does not survive fork()"};
  probe_mu.unlock();
}

// Calls f(probe_result) under the lock, probing first if this process has not.
template <typename F>
auto with_probe(F f) {
  std::lock_guard<std::mutex> l(probe_mu);
  if (!probed) {
    probe_result = run_probe();
    probed = true;
#if LSM4KV_WITH_CUDA
    ::pthread_atfork(lock_before_fork, unlock_in_parent, unlock_in_child);
#endif
  }
  return f(static_cast<const DeviceProbe&>(probe_result));
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
  return with_probe([why](const DeviceProbe& p) {
    if (why != nullptr) *why = p.why;
    return p.available;
  });
}

Status no_device_status() {
  return Status::not_supported("device destination requested but no CUDA device is usable: " +
                               with_probe([](const DeviceProbe& p) { return p.why; }));
}

Status check_device_pointer(const void* p, const char* what) {
  if (!device_available()) return no_device_status();
#if LSM4KV_WITH_CUDA
  cudaPointerAttributes a{};
  cudaError_t err = cudaPointerGetAttributes(&a, p);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear it: an unknown pointer is the caller's error, not the context's
    return Status::invalid_argument(std::string(what) + ": not CUDA memory (" + cudaGetErrorString(err) + ")");
  }
  if (a.type != cudaMemoryTypeDevice && a.type != cudaMemoryTypeManaged)
    return Status::invalid_argument(std::string(what) + ": a device buffer in host memory");
  return Status::OK();
#else
  (void)p, (void)what;
  return no_device_status();
#endif
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
