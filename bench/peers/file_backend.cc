// File-per-page as SGLang's HiCacheFile keeps it: one file per page named by
// the page's chained hash in one flat directory; probe = existence checks in
// prefix order; get = open + read + close per file; put = open + write +
// fsync + close per new file, then one fsync of the directory; LRU by access
// (put or get) with unlink until the put fits under the capacity. Each file's
// pages are dropped from the page cache after its fsync
// (POSIX_FADV_DONTNEED), and again after each read, so every get reads the
// disk (cold, as the O_DIRECT backends read). The cache itself is the trace
// replay's (bench/trace/file_per_page.h).
#include "bench/peers/backend.h"
#include "bench/trace/file_per_page.h"

namespace lsm4kv::bench::peers {
namespace {

class FileBackend final : public Backend {
 public:
  const char* name() const override { return "file-per-page"; }

  Status open(const BackendOptions& o) {
    page_bytes_ = o.page_bytes;
    FilePerPageCache::Options opt;
    opt.dir = o.dir;
    opt.page_bytes = o.page_bytes;
    opt.capacity_bytes = o.capacity_bytes;
    opt.sync = true;
    opt.sync_dir = true;
    opt.drop_cache = true;
    opt.drop_after_read = true;
    return FilePerPageCache::open(opt, &cache_);
  }

  Status probe(const PromptKeys& keys, size_t* n) override { return cache_->probe(keys.chain, n); }

  Status get(const PromptKeys& keys, size_t n, char* dst, size_t* got) override {
    LSM4KV_RETURN_IF_ERROR(cache_->get(keys.chain, n, dst));
    *got = n;
    return Status::OK();
  }

  Status put(const PromptKeys& keys, size_t from, const char* src) override {
    size_t written = 0;
    return cache_->put(std::span(keys.chain).subspan(from), src + from * page_bytes_, &written);
  }

  Status close() override { return Status::OK(); }

 private:
  std::unique_ptr<FilePerPageCache> cache_;
  size_t page_bytes_ = 0;
};

}  // namespace

Status open_file_per_page(const BackendOptions& o, std::unique_ptr<Backend>* out) {
  return open_backend<FileBackend>(o, out);
}

}  // namespace lsm4kv::bench::peers
