// The store's reads: get_batch (one tensor-log submission for many prompts)
// and get_batch_async. What a damaged record or a hole does:
// kv_store_recovery.cc.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "kvcache_api/device_staging.h"
#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/page_layout.h"

namespace lsm4kv::kvcache {
namespace {

using Clock = std::chrono::steady_clock;

// One page of a get_batch.
struct PageRead {
  size_t request;
  size_t page;
  std::unique_ptr<char[]> staging;  // when the page cannot land in dst directly
};

// Copies the pages that went through staging (per-layer scatter, a partial
// last page) into their destinations; *bytes: what the requests got in all.
Status finish_staged(std::span<GetRequest> requests, const std::vector<KvLayout>& layouts,
                     const std::vector<PageRead>& reads, size_t P, uint64_t* bytes) {
  for (const PageRead& pr : reads) {
    const GetRequest& r = requests[pr.request];
    const KvLayout& layout = layouts[pr.request];
    const size_t bpt = layout.bytes_per_token();
    const size_t count = std::min(P, r.n - pr.page * P);
    *bytes += count * bpt;
    if (!pr.staging) continue;
    if (r.dst.kind == KvBuffer::Kind::kHostPerLayer) {
      convert_page(layout, r.dst, pr.page * P, count, pr.staging.get(), /*to_record=*/false);
    } else if (r.dst.kind == KvBuffer::Kind::kHostPageMajor) {
      std::memcpy(static_cast<char*>(r.dst.data) + pr.page * P * bpt, pr.staging.get(), count * bpt);
    } else {
      LSM4KV_RETURN_IF_ERROR(copy_to_device(static_cast<char*>(r.dst.data) + pr.page * P * bpt,
                                            pr.staging.get(), count * bpt, r.dst.cuda_stream));
    }
  }
  return Status::OK();
}

}  // namespace

Status KvStoreImpl::check_get_requests(std::span<GetRequest> requests, std::vector<KvLayout>* layouts,
                                       const GetRequest** on_device) const {
  const size_t P = opt_.page_tokens;
  *on_device = nullptr;  // the first device destination: its stream is the batch's
  for (size_t i = 0; i < requests.size(); i++) {
    if (requests[i].dst.kind != KvBuffer::Kind::kDevicePageMajor) continue;
    if (*on_device == nullptr) *on_device = &requests[i];
    if (requests[i].dst.cuda_stream != (*on_device)->dst.cuda_stream)
      return Status::invalid_argument("get_batch: device destinations on different CUDA streams (request " +
                                      std::to_string(i) + "); one batch per stream");
  }
  for (size_t i = 0; i < requests.size(); i++) {
    const GetRequest& r = requests[i];
    LSM4KV_RETURN_IF_ERROR(layout_of(r.ns, &(*layouts)[i]));
    if (r.tokens.empty()) return Status::invalid_argument("get_batch: empty token list");
    if (r.n == 0 || r.n > r.tokens.size())
      return Status::invalid_argument("get_batch: n = " + std::to_string(r.n) + " for " +
                                      std::to_string(r.tokens.size()) + " tokens");
    if ((r.n + P - 1) / P * P > r.tokens.size())
      return Status::invalid_argument("get_batch: n = " + std::to_string(r.n) + " is beyond the cached prefix (whole pages only)");
    LSM4KV_RETURN_IF_ERROR(check_buffer(r.dst, (*layouts)[i], r.n, "get_batch"));
  }
  return Status::OK();
}

Status KvStoreImpl::get_batch(NamespaceId ns, std::span<const Token> tokens, size_t n, const KvBuffer& dst) {
  GetRequest r{ns, tokens, n, dst};
  return get_batch(std::span<GetRequest>(&r, 1));
}

std::future<Status> KvStoreImpl::get_batch_async(NamespaceId ns, std::vector<Token> tokens, size_t n,
                                                 KvBuffer dst) {
  {
    std::lock_guard l(async_mu_);
    if (closing_ || closed_) {
      std::promise<Status> refused;
      refused.set_value(Status::invalid_argument(opt_.dir + ": get_batch_async: store is closed"));
      return refused.get_future();
    }
    async_in_flight_++;
  }
  return std::async(std::launch::async, [this, ns, tokens = std::move(tokens), n, dst = std::move(dst)] {
    Status s = get_batch(ns, tokens, n, dst);
    std::lock_guard l(async_mu_);
    if (--async_in_flight_ == 0) async_cv_.notify_all();
    return s;
  });
}

Status KvStoreImpl::get_batch(std::span<GetRequest> requests) {
  auto t0 = Clock::now();
  LSM4KV_RETURN_IF_ERROR(check_open());
  const size_t P = opt_.page_tokens;
  std::vector<KvLayout> layouts(requests.size());
  const GetRequest* on_device = nullptr;
  LSM4KV_RETURN_IF_ERROR(check_get_requests(requests, &layouts, &on_device));
  std::unique_lock gate(gc_gate_);
  std::shared_lock gc(gc_mu_);
  gate.unlock();
  std::vector<PageRead> reads;
  std::vector<tensorlog::ReadRequest> rr;
  std::vector<std::string> tags_storage;
  std::vector<ReadPage> read_pages;  // what each read is, should its record be damaged
  std::vector<std::string> first_keys;
  for (size_t i = 0; i < requests.size(); i++) {
    const GetRequest& r = requests[i];
    const size_t pages = (r.n + P - 1) / P, page_bytes = P * layouts[i].bytes_per_token();
    const PromptKeys k = prompt_keys(r.ns, r.tokens, static_cast<uint32_t>(P), pages, window_, fingerprint_);
    std::vector<std::string> values;
    std::vector<Status> statuses;
    LSM4KV_RETURN_IF_ERROR(lookup_all(k.all_keys(), &values, &statuses));
    for (size_t p = 0; p < pages; p++) {
      if (statuses[p].is_not_found()) {
        const bool hole = std::any_of(statuses.begin() + p + 1, statuses.end(), [](const Status& s) { return s.ok(); });
        if (!hole)
          return Status::not_found("get_batch: n = " + std::to_string(r.n) + " is beyond the cached prefix (" +
                                   std::to_string(p * P) + " tokens cached)");
        gc.unlock();
        return hole_found(r.ns, k, p);
      }
      LSM4KV_RETURN_IF_ERROR(statuses[p]);
    }
    auto tags = page_tags(k, 0, pages);
    for (size_t p = 0; p < pages; p++) {
      PageEntry e;
      if (!e.decode_from(values[p])) return Status::corruption(opt_.dir + ": bad page entry in the index");
      PageRead pr{i, p, nullptr};
      tensorlog::ReadRequest q;
      q.location = e.location;
      q.size = page_bytes;
      const bool whole = (p + 1) * P <= r.n;
      if (whole && r.dst.kind != KvBuffer::Kind::kHostPerLayer) {
        q.dst = static_cast<char*>(r.dst.data) + p * page_bytes;
        q.memory = r.dst.kind == KvBuffer::Kind::kDevicePageMajor ? tensorlog::MemoryKind::kDevice
                                                                 : tensorlog::MemoryKind::kHost;
      } else {
        pr.staging.reset(new char[page_bytes]);
        q.dst = pr.staging.get();
      }
      tags_storage.push_back(std::move(tags[p]));
      read_pages.push_back({k.key(p), k.key(0), p + 1});
      reads.push_back(std::move(pr));
      rr.push_back(q);
    }
    first_keys.push_back(k.key(0));
  }
  for (size_t j = 0; j < rr.size(); j++) rr[j].tag = tags_storage[j];
  tensorlog::ReadOptions ro;
  if (on_device != nullptr) ro.cuda_stream = on_device->dst.cuda_stream;
  Status s = log_->read(rr, ro);
  if (!s.ok()) {
    gc.unlock();
    return read_failed(rr, read_pages, s);
  }
  uint64_t bytes = 0;
  LSM4KV_RETURN_IF_ERROR(finish_staged(requests, layouts, reads, P, &bytes));
  for (const std::string& k : first_keys) touch(k);
  note_reads(rr);
  counters_.bytes_got += bytes;
  get_latency_.record(micros_since(t0));
  observe();
  return Status::OK();
}

void KvStoreImpl::note_reads(std::span<const tensorlog::ReadRequest> reads) {
  if (opt_.capacity_bytes == 0 || opt_.eviction != EvictionPolicy::kRegion || opt_.region_keep_reads == 0) return;
  std::vector<tensorlog::Location> hit;
  uint64_t prepared = prepared_.load(std::memory_order_relaxed);
  bool in_prepared = false;
  for (const tensorlog::ReadRequest& q : reads) {
    if (!q.status.ok()) continue;
    hit.push_back(q.location);
    in_prepared |= prepared != 0 && q.location.segment == prepared;
  }
  log_->mark_read(hit);
  // A page read in the prepared region would be copied by the round that
  // takes it (in a put that needs room, perhaps): prepared again, the
  // background moves it out first.
  if (in_prepared) prepared_.compare_exchange_strong(prepared, 0);
}

}  // namespace lsm4kv::kvcache
