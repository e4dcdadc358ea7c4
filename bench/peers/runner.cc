#include "bench/peers/runner.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include "bench/peers/disk_usage.h"

namespace lsm4kv::bench::peers {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A 4096-aligned buffer for O_DIRECT, grown on demand.
class AlignedBuffer {
 public:
  ~AlignedBuffer() { std::free(data_); }
  char* get(size_t bytes) {
    if (bytes > size_) {
      std::free(data_);
      size_ = (bytes + 4095) / 4096 * 4096;
      data_ = static_cast<char*>(std::aligned_alloc(4096, size_));
    }
    return data_;
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

Status one_request(Backend* b, size_t page, const Request& r, char* buf, RunResult* out) {
  const PromptKeys& k = r.keys;
  size_t n = 0, got = 0;
  auto t0 = Clock::now();
  LSM4KV_RETURN_IF_ERROR(b->probe(k, &n));
  out->probe_us.push_back(since(t0) * 1e6);
  if (n > 0) {
    t0 = Clock::now();
    LSM4KV_RETURN_IF_ERROR(b->get(k, n, buf, &got));
    const double s = since(t0);
    out->get_s += s;
    out->get_ms.push_back(s * 1e3);
    if (getenv("PEERS_GETS")) std::fprintf(stderr, "get %s pages %zu ms %.1f\n", b->name(), n, s * 1e3);
    out->get_bytes += got * page;
    for (size_t i = 0; i < got; i++) LSM4KV_RETURN_IF_ERROR(check_page(k.chain[i], buf + i * page, page));
  }
  if (r.stage >= 0) {
    out->hit_pages += got;
    out->counted_pages += k.chain.size();
  }
  if (got == k.chain.size()) return Status::OK();
  for (size_t i = got; i < k.chain.size(); i++) fill_page(k.chain[i], buf + i * page, page);
  t0 = Clock::now();
  LSM4KV_RETURN_IF_ERROR(b->put(k, got, buf));
  const double s = since(t0);
  out->put_s += s;
  out->put_ms.push_back(s * 1e3);
  out->put_bytes += (k.chain.size() - got) * page;
  return Status::OK();
}

}  // namespace

Status run_stream(const Opener& open, const BackendOptions& o, const std::vector<Request>& stream, RunResult* out) {
  LSM4KV_RETURN_IF_ERROR(fresh_dir(o.dir));
  std::unique_ptr<Backend> b;
  LSM4KV_RETURN_IF_ERROR(open(o, &b));
  out->backend = b->name();
  drop_dir_cache(o.dir);
  const uint64_t written0 = device_bytes_written(o.dir);
  AlignedBuffer buf;
  const auto t0 = Clock::now();
  for (size_t i = 0; i < stream.size(); i++) {
    const Request& r = stream[i];
    Status s = one_request(b.get(), o.page_bytes, r, buf.get(std::max<size_t>(1, r.keys.chain.size()) * o.page_bytes), out);
    if (!s.ok()) return Status::io_error(std::string(b->name()) + ", request " + std::to_string(i) + ": " + s.to_string());
    if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\r%-26s %zu/%zu", b->name(), i + 1, stream.size());
  }
  LSM4KV_RETURN_IF_ERROR(b->close());
  out->wall_s = since(t0);
  if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\r%60s\r", "");
  out->device_written = device_bytes_written(o.dir) - written0;
  const DirUsage u = dir_usage(o.dir);
  out->files = u.files;
  out->allocated_bytes = u.allocated_bytes;
  b.reset();
  remove_dir(o.dir);
  return Status::OK();
}

}  // namespace lsm4kv::bench::peers
