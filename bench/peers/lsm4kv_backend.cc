// lsm4kv through its page-key API (the path SGLang's HiCache backend takes):
// exists_prefix / get_pages / put_pages, keys of 16 bytes (the page's chained
// hash and its index), one namespace whose page record is page_bytes
// (64 tokens of bf16, 8 KV heads of 128 dims, page_bytes / 256 KiB layers:
// 8 MiB is Llama-3-8B's 32 layers). SyncMode::kPerBatch: a put is on disk
// when it returns. Region eviction under capacity_bytes, the store's defaults
// otherwise.
#include <cstdio>
#include <cstring>

#include "bench/peers/backend.h"
#include "kvcache_api/kv_store.h"

namespace lsm4kv::bench::peers {
namespace {

using namespace lsm4kv::kvcache;

class Lsm4kvBackend final : public Backend {
 public:
  const char* name() const override { return "lsm4kv"; }

  Status open(const BackendOptions& o) {
    page_bytes_ = o.page_bytes;
    StoreOptions opt;
    opt.dir = o.dir;
    opt.page_tokens = 64;
    opt.sync = SyncMode::kPerBatch;
    opt.capacity_bytes = o.capacity_bytes;
    if (o.segment_bytes != 0) opt.segment_bytes = o.segment_bytes;
    LSM4KV_RETURN_IF_ERROR(KvStore::open(opt, &store_));
    const size_t unit = size_t{64} * 4096;  // one layer's share of a 64-token page
    if (o.page_bytes % unit != 0) return Status::invalid_argument("lsm4kv: page bytes must be a multiple of 256 KiB");
    KvLayout layout{static_cast<uint32_t>(o.page_bytes / unit), 8, 128, DType::kBF16};
    return store_->register_namespace("peers", layout, &ns_);
  }

  Status probe(const PromptKeys& keys, size_t* n) override {
    make_keys(keys);
    return store_->exists_prefix(ns_, views_, n);
  }

  Status get(const PromptKeys& keys, size_t n, char* dst, size_t* got) override {
    make_keys(keys);
    slices_.assign(n, {});
    for (size_t i = 0; i < n; i++) slices_[i] = {IoSlice{dst + i * page_bytes_, page_bytes_}};
    std::vector<Status> results;
    LSM4KV_RETURN_IF_ERROR(store_->get_pages(ns_, std::span(views_).first(n), slices_, &results));
    *got = 0;
    while (*got < n && results[*got].ok()) (*got)++;
    if (*got < n && !results[*got].is_not_found()) return results[*got];
    return Status::OK();
  }

  Status put(const PromptKeys& keys, size_t from, const char* src) override {
    make_keys(keys);
    const size_t count = keys.chain.size() - from;
    slices_.assign(count, {});
    for (size_t i = 0; i < count; i++) {
      slices_[i] = {IoSlice{const_cast<char*>(src) + (from + i) * page_bytes_, page_bytes_}};
    }
    return store_->put_pages(ns_, std::span(views_).subspan(from), slices_);
  }

  // Says on stderr what the store spent on making room (what limits its puts).
  Status close() override {
    if (!store_) return Status::OK();
    const StoreStats st = store_->stats();
    std::fprintf(stderr, "lsm4kv: puts that made room or waited %llu (%.2f s), copied forward %.1f MiB, "
                 "pages evicted %llu, background rounds %llu\n",
                 static_cast<unsigned long long>(st.put_stalls), static_cast<double>(st.put_stall_micros) / 1e6,
                 static_cast<double>(st.gc_bytes_copied) / (1 << 20),
                 static_cast<unsigned long long>(st.pages_evicted),
                 static_cast<unsigned long long>(st.maintenance_rounds));
    return store_->close();
  }

 private:
  void make_keys(const PromptKeys& keys) {
    const size_t n = keys.chain.size();
    bytes_.resize(n * 16);
    views_.resize(n);
    for (size_t i = 0; i < n; i++) {
      const uint64_t idx = i;
      std::memcpy(&bytes_[i * 16], &keys.chain[i], 8);
      std::memcpy(&bytes_[i * 16 + 8], &idx, 8);
      views_[i] = std::string_view(&bytes_[i * 16], 16);
    }
  }

  size_t page_bytes_ = 0;
  std::unique_ptr<KvStore> store_;
  NamespaceId ns_ = 0;
  std::string bytes_;
  std::vector<std::string_view> views_;
  std::vector<PageSlices> slices_;
};

}  // namespace

Status open_lsm4kv(const BackendOptions& o, std::unique_ptr<Backend>* out) {
  return open_backend<Lsm4kvBackend>(o, out);
}

}  // namespace lsm4kv::bench::peers
