// For the CUDA tests (tensorlog's device_test, the store's store_device_test):
// whether a case must skip here, and device memory and streams released at
// the end of their scope, so that a failed REQUIRE leaves nothing allocated
// for the next case. The latter only where the CUDA path is built; a case
// uses them only once it knows a device is there.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "tensorlog/device_copy.h"

#if LSM4KV_WITH_CUDA
#include <cuda_runtime_api.h>

#include <cstddef>
#include <vector>
#endif

namespace lsm4kv::test {

// True (and says why, as a warning) where device memory cannot be used in
// this process: the case returns.
inline bool skip_without_device() {
  std::string why;
  if (tensorlog::device_available(&why)) return false;
  WARN("SKIPPED: needs a CUDA device (" << why << ")");
  return true;
}

#if LSM4KV_WITH_CUDA

// n bytes of device memory, zeroed.
struct DeviceBuffer {
  char* p = nullptr;
  explicit DeviceBuffer(size_t n) {
    REQUIRE(cudaMalloc(reinterpret_cast<void**>(&p), n) == cudaSuccess);
    REQUIRE(cudaMemset(p, 0, n) == cudaSuccess);
  }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

struct DeviceStream {
  cudaStream_t s = nullptr;
  DeviceStream() { REQUIRE(cudaStreamCreate(&s) == cudaSuccess); }
  ~DeviceStream() {
    if (s != nullptr) cudaStreamDestroy(s);
  }
  DeviceStream(const DeviceStream&) = delete;
  DeviceStream& operator=(const DeviceStream&) = delete;
};

inline std::vector<char> to_host(const char* dev, size_t n) {
  std::vector<char> out(n);
  REQUIRE(cudaMemcpy(out.data(), dev, n, cudaMemcpyDeviceToHost) == cudaSuccess);
  return out;
}

inline void to_device(char* dev, const void* host, size_t n) {
  REQUIRE(cudaMemcpy(dev, host, n, cudaMemcpyHostToDevice) == cudaSuccess);
}

#endif  // LSM4KV_WITH_CUDA

}  // namespace lsm4kv::test
