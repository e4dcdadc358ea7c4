// The store's lookups: probe (the longest cached prefix), the index
// searches behind it and get_batch, and the recency ticks of the LRU.
#include <algorithm>
#include <chrono>
#include <functional>

#include "kvcache_api/kv_store_impl.h"

namespace lsm4kv::kvcache {
namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

// Both strategies rely on prefix closure: a stored page's ancestors are
// stored, so "page i is stored" is monotone along a prompt.
Status KvStoreImpl::cached_pages(const PromptKeys& keys, size_t* pages) {
  *pages = 0;
  const size_t n = keys.size();
  if (n == 0) return Status::OK();
  auto stored = [&](size_t page, bool* found) {
    std::string v;
    Status s = index_->get({}, keys.key(page), &v);
    *found = s.ok();
    return s.is_not_found() ? Status::OK() : s;
  };
  // The most units u in [0, units] whose last page is stored (unit u ends at
  // page last(u)): the whole request first, then bisection.
  auto search = [&](size_t units, const std::function<size_t(size_t)>& last, size_t* out) -> Status {
    size_t lo = 0, hi = units;
    bool found = false;
    if (units > 0) {
      LSM4KV_RETURN_IF_ERROR(stored(last(units - 1), &found));
      if (found) lo = hi;
      else hi = units - 1;
    }
    while (lo < hi) {
      const size_t mid = (lo + hi + 1) / 2;
      LSM4KV_RETURN_IF_ERROR(stored(last(mid - 1), &found));
      if (found) lo = mid;
      else hi = mid - 1;
    }
    *out = lo;
    return Status::OK();
  };
  const size_t W = window_;
  if (opt_.probe == ProbeStrategy::kBinarySearch || W == 1)
    return search(n, [](size_t u) { return u; }, pages);
  size_t windows = 0;  // whole windows stored
  LSM4KV_RETURN_IF_ERROR(search(n / W, [&](size_t u) { return (u + 1) * W - 1; }, &windows));
  const size_t first = windows * W;
  *pages = first;
  if (first == n) return Status::OK();
  // One predecessor seek inside the next window: the greatest stored key <=
  // the request's last key of that window shares its page-prefix with every
  // stored prefix of the request there.
  const std::string& last = keys.key(std::min(n, first + W) - 1);
  auto it = index_->new_iterator({});
  it->seek_for_prev(last);
  LSM4KV_RETURN_IF_ERROR(it->status());
  if (!it->valid()) return Status::OK();
  const std::string_view found = it->key();
  if (!found.starts_with(std::string_view(last).substr(0, kKeyHeadBytes))) return Status::OK();
  size_t common = 0;
  const size_t in_window = key_window_pages(last);
  while (common < in_window && found.size() >= kKeyHeadBytes + (common + 1) * kFingerprintBytes &&
         found.compare(kKeyHeadBytes + common * kFingerprintBytes, kFingerprintBytes, last,
                       kKeyHeadBytes + common * kFingerprintBytes, kFingerprintBytes) == 0)
    common++;
  *pages = first + common;
  return Status::OK();
}

Status KvStoreImpl::lookup_all(const std::vector<std::string>& keys, std::vector<std::string>* values,
                               std::vector<Status>* statuses) {
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  std::vector<std::string_view> sorted;
  for (size_t i : order) sorted.push_back(keys[i]);
  std::vector<std::string> v;
  std::vector<Status> st;
  LSM4KV_RETURN_IF_ERROR(index_->multi_get({}, sorted, &v, &st));
  values->assign(keys.size(), {});
  statuses->assign(keys.size(), Status::OK());
  for (size_t j = 0; j < order.size(); j++) {
    (*values)[order[j]] = std::move(v[j]);
    (*statuses)[order[j]] = std::move(st[j]);
  }
  return Status::OK();
}

uint64_t KvStoreImpl::next_tick() {
  const uint64_t now = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  uint64_t t = tick_.load(std::memory_order_relaxed);
  while (!tick_.compare_exchange_weak(t, std::max(now, t + 1), std::memory_order_relaxed)) {}
  return std::max(now, t + 1);
}

void KvStoreImpl::touch(const std::string& root) {
  std::lock_guard g(lru_mu_);
  lru_.touch(root, next_tick());
}

Status KvStoreImpl::probe(NamespaceId ns, std::span<const Token> tokens, size_t* cached) {
  auto t0 = Clock::now();
  if (cached == nullptr) return Status::invalid_argument("probe: null output");
  *cached = 0;
  LSM4KV_RETURN_IF_ERROR(check_open());
  KvLayout layout;
  LSM4KV_RETURN_IF_ERROR(layout_of(ns, &layout));
  if (tokens.empty()) return Status::invalid_argument("probe: empty token list");
  const size_t pages = tokens.size() / opt_.page_tokens;
  const PromptKeys k = prompt_keys(ns, tokens, opt_.page_tokens, pages, window_, fingerprint_);
  size_t found = 0;
  LSM4KV_RETURN_IF_ERROR(cached_pages(k, &found));
  *cached = found * opt_.page_tokens;
  if (found > 0) touch(k.key(0));
  counters_.hit_tokens += *cached;
  counters_.miss_tokens += tokens.size() - *cached;
  counters_.hit_pages += found;
  counters_.miss_pages += pages - found;
  probe_latency_.record(micros_since(t0));
  observe();
  return Status::OK();
}

}  // namespace lsm4kv::kvcache
