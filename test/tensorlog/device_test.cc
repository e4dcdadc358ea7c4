// Device destinations. Without a CUDA device (our CI machines) the read must
// fail cleanly with NotSupported and the GPU part is skipped with a message;
// with one (the GPU machine) records are read into device memory and compared.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include "tensorlog/device_copy.h"
#include "tensorlog/tensor_log.h"
#include "test/support/device_memory.h"
#include "test/tensorlog/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

namespace {

ReadRequest request(const Location& loc, const std::string& tag, void* dst, size_t size,
                    MemoryKind memory = MemoryKind::kHost) {
  ReadRequest r;
  r.location = loc;
  r.tag = tag;
  r.dst = dst;
  r.size = size;
  r.memory = memory;
  return r;
}

// A log holding one record of 4 KiB.
struct OneRecord {
  test::TempDir dir;
  std::unique_ptr<TensorLog> log;
  std::string tag = test::make_tag(1), data = test::make_tensor(4096, 1);
  Location loc;
  OneRecord() {
    REQUIRE(TensorLog::open(dir.path(), {}, &log).ok());
    RecordInput in{tag, data.data(), data.size()};
    std::vector<Location> locs;
    REQUIRE(log->append({&in, 1}, &locs).ok());
    loc = locs[0];
  }
};

}  // namespace

TEST_CASE("device destination without a GPU is a clear error", "[tensorlog][gpu]") {
  OneRecord one;
  std::string why;
  if (device_available(&why)) return;  // covered by the next test
  WARN("GPU path skipped: no CUDA device (" << why << ")");
  std::string out(one.data.size(), '\0');
  std::vector<ReadRequest> reqs = {request(one.loc, one.tag, out.data(), out.size()),
                                   request(one.loc, one.tag, reinterpret_cast<void*>(0x1000),  // never touched
                                           out.size(), MemoryKind::kDevice)};
  Status s = one.log->read(reqs);
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
  if (test::skip_without_device()) return;
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
    test::DeviceBuffer dev(n * size);
    test::DeviceStream stream;
    std::vector<ReadRequest> reqs(n);
    for (size_t i = 0; i < n; ++i) {
      reqs[i] = request(locs[i], tags[i], dev.p + i * size, size, MemoryKind::kDevice);
    }
    ReadOptions ro;
    ro.cuda_stream = stream.s;
    Status s = log->read(reqs, ro);
    INFO(s.to_string());
    REQUIRE(s.ok());
    const std::vector<char> back = test::to_host(dev.p, n * size);
    for (size_t i = 0; i < n; ++i) REQUIRE(std::string(back.data() + i * size, size) == data[i]);
  }
  // Host memory named as device memory is refused before any read.
  OneRecord one;
  std::string out(one.data.size(), '\0');
  std::vector<ReadRequest> reqs = {request(one.loc, one.tag, out.data(), out.size(), MemoryKind::kDevice)};
  Status s = one.log->read(reqs);
  INFO(s.to_string());
  REQUIRE(s.is_invalid_argument());
  REQUIRE(out == std::string(out.size(), '\0'));
#endif
}

TEST_CASE("a child forked after the device probe works without the device", "[tensorlog][gpu]") {
  std::string why, parent_why;
  const bool parent_has_gpu = device_available(&parent_why);  // probes (with a GPU: initializes CUDA)
  test::TempDir dir;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Exit codes: 0 = all well; 3.. = which step failed.
    if (device_available(&why)) _exit(3);
    // With a GPU the child is told why it has none; without, the parent's reason stands.
    if (parent_has_gpu ? why.find("fork()") == std::string::npos : why != parent_why) _exit(4);
    std::unique_ptr<TensorLog> log;
    if (!TensorLog::open(dir.path(), {}, &log).ok()) _exit(5);
    std::string tag = test::make_tag(1), data = test::make_tensor(64 << 10, 1);
    RecordInput in{tag, data.data(), data.size()};
    std::vector<Location> locs;
    if (!log->append({&in, 1}, &locs).ok()) _exit(6);
    std::string out(data.size(), '\0');
    std::vector<ReadRequest> reqs = {request(locs[0], tag, out.data(), out.size())};
    if (!log->read(reqs).ok() || out != data) _exit(7);
    reqs[0].memory = MemoryKind::kDevice;
    if (!log->read(reqs).is_not_supported()) _exit(8);
    _exit(0);
  }
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  INFO("child exit status " << (WIFEXITED(st) ? WEXITSTATUS(st) : -1));
  REQUIRE((WIFEXITED(st) && WEXITSTATUS(st) == 0));
}
