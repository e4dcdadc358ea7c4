// Device memory and streams for the CUDA tests (tensorlog's device_test, the
// store's store_device_test), released at the end of their scope, so that a
// failed REQUIRE leaves nothing allocated for the next case. Only where the
// CUDA path is built; a case calls them only once it knows a device is there.
#pragma once

#if LSM4KV_WITH_CUDA
#include <catch2/catch.hpp>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <vector>

namespace lsm4kv::test {

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

}  // namespace lsm4kv::test
#endif
