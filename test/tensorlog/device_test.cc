// Device destinations. Without a CUDA device (our CI machines) the read must
// fail cleanly with NotSupported and the GPU part is skipped with a message;
// with one (the GPU machine) records are read into device memory and compared.
#include <catch2/catch.hpp>

#include "tensorlog/device_copy.h"
#include "tensorlog/tensor_log.h"
#include "test/tensorlog/test_util.h"

#if LSM4KV_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

TEST_CASE("device destination without a GPU is a clear error", "[tensorlog][gpu]") {
  test::TempDir dir;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), {}, &log).ok());
  std::string tag = test::make_tag(1), data = test::make_tensor(4096, 1);
  RecordInput in{tag, data.data(), data.size()};
  std::vector<Location> locs;
  REQUIRE(log->append({&in, 1}, &locs).ok());
  std::string why;
  if (device_available(&why)) return;  // covered by the next test
  WARN("GPU path skipped: no CUDA device (" << why << ")");
  ReadRequest host, dev;
  std::string out(data.size(), '\0');
  host.location = dev.location = locs[0];
  host.tag = dev.tag = tag;
  host.dst = out.data();
  host.size = dev.size = data.size();
  dev.dst = reinterpret_cast<void*>(0x1000);  // never touched
  dev.memory = MemoryKind::kDevice;
  std::vector<ReadRequest> reqs = {host, dev};
  Status s = log->read(reqs);
  REQUIRE(s.is_not_supported());
  REQUIRE(s.message().find("no CUDA device") != std::string::npos);
  REQUIRE(reqs[1].status.is_not_supported());
  REQUIRE(out == std::string(out.size(), '\0'));  // nothing was read
  PinnedPool pool;
  PinnedBuffer b;
  REQUIRE(pool.acquire(100, &b).ok());
  REQUIRE_FALSE(b.pinned());
  REQUIRE(reinterpret_cast<uintptr_t>(b.data()) % kAlign == 0);
}

TEST_CASE("records read into device memory", "[tensorlog][gpu]") {
  std::string why;
  if (!device_available(&why)) {
    WARN("SKIPPED: needs a CUDA device (" << why << ")");
    return;
  }
#if LSM4KV_WITH_CUDA
  for (Codec codec : {Codec::kNone, Codec::kShuffleLz4}) {
    test::TempDir dir;
    TensorLogOptions o;
    o.codec = codec;
    o.reader.staging_bytes = 8 << 20;  // several runs share the arena
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    const size_t n = 24, size = 1 << 20;
    std::vector<std::string> data, tags;
    std::vector<RecordInput> in;
    for (size_t i = 0; i < n; ++i) {
      data.push_back(test::make_tensor(size, i));
      tags.push_back(test::make_tag(i));
    }
    for (size_t i = 0; i < n; ++i) in.push_back({tags[i], data[i].data(), size});
    std::vector<Location> locs;
    REQUIRE(log->append(in, &locs).ok());
    char* dev = nullptr;
    REQUIRE(cudaMalloc(reinterpret_cast<void**>(&dev), n * size) == cudaSuccess);
    cudaStream_t stream;
    REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
    std::vector<ReadRequest> reqs(n);
    for (size_t i = 0; i < n; ++i) {
      reqs[i].location = locs[i];
      reqs[i].tag = tags[i];
      reqs[i].dst = dev + i * size;
      reqs[i].size = size;
      reqs[i].memory = MemoryKind::kDevice;
    }
    ReadOptions ro;
    ro.cuda_stream = stream;
    Status s = log->read(reqs, ro);
    INFO(s.to_string());
    REQUIRE(s.ok());
    std::string back(n * size, '\0');
    REQUIRE(cudaMemcpy(back.data(), dev, n * size, cudaMemcpyDeviceToHost) == cudaSuccess);
    for (size_t i = 0; i < n; ++i) REQUIRE(back.substr(i * size, size) == data[i]);
    cudaStreamDestroy(stream);
    cudaFree(dev);
  }
#endif
}
