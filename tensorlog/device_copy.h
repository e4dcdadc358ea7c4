// The CUDA side of the tensor log: runtime detection of a device, pinned host
// allocations and asynchronous host-to-device copies on the caller's stream.
//
// Only the CUDA runtime API is used, and only when the build defines
// LSM4KV_WITH_CUDA (meson does when it finds the toolkit). Without it, or
// when cudaGetDeviceCount fails at run time (no driver, no GPU), every
// function here reports that no device is available and the tensor log works
// with plain host memory; a device destination then gets NotSupported.
//
// Thread-safety: all functions may be called from any thread. A CopyFence is
// used by one thread at a time.
#pragma once

#include <cstddef>
#include <string>

#include "base/status.h"

namespace lsm4kv::tensorlog {

// True when the library was built with the CUDA runtime.
bool cuda_compiled();
// True when a CUDA device can be used; decided once per process. When false,
// *why (if given) says why, e.g. "cudaGetDeviceCount: no CUDA-capable device".
// CUDA does not survive fork(): in a child forked after the first call it is
// false (the child's device buffers get NotSupported, its host reads and
// writes go on in plain host memory).
bool device_available(std::string* why = nullptr);
// The NotSupported status a device destination gets without a device.
Status no_device_status();
// OK when p points into memory a device copy may use as device memory (CUDA
// device or managed memory, per cudaPointerGetAttributes); InvalidArgument
// naming `what` for host memory (pinned or not) or an unknown pointer, so that
// a host buffer passed as device memory is refused before any copy;
// NotSupported without a device.
Status check_device_pointer(const void* p, const char* what);

// Page-locked host memory from cudaHostAlloc; nullptr when no device.
void* pinned_alloc(size_t n);
void pinned_free(void* p);

// Enqueues a host-to-device copy on `stream` (a cudaStream_t; nullptr is the
// default stream). `src` should be pinned for the copy to be asynchronous.
Status copy_to_device_async(void* dst, const void* src, size_t n, void* stream);

// Marks a point in a stream; wait() blocks until the copies enqueued before
// record() are done, so that their staging memory can be reused.
class CopyFence {
 public:
  CopyFence() = default;
  ~CopyFence();
  CopyFence(const CopyFence&) = delete;
  CopyFence& operator=(const CopyFence&) = delete;

  Status record(void* stream);
  Status wait();
  bool pending() const { return pending_; }

 private:
  void* event_ = nullptr;  // cudaEvent_t
  bool pending_ = false;
};

}  // namespace lsm4kv::tensorlog
