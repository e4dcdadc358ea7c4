// Capacity, eviction and garbage collection of the KV cache store.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "kvcache_api/kv_store_impl.h"

namespace lsm4kv::kvcache {
namespace {

struct LocationHash {
  size_t operator()(const tensorlog::Location& l) const {
    return std::hash<uint64_t>()(l.segment * 0x9e3779b97f4a7c15ull ^ l.offset);
  }
};

// Eviction frees this much below the capacity at once, so that a stream of
// puts does not evict (and collect) on every call.
constexpr double kEvictionSlack = 0.05;

}  // namespace

Status KvStoreImpl::make_room(uint64_t needed, const std::vector<std::string>& keep_roots) {
  if (opt_.capacity_bytes == 0) return Status::ok();
  if (needed > opt_.capacity_bytes)
    return Status::no_space("put_batch: " + std::to_string(needed) + " bytes exceed the capacity of " +
                            std::to_string(opt_.capacity_bytes));
  uint64_t stored;
  {
    std::lock_guard g(lru_mu_);
    stored = lru_.total_bytes();
  }
  if (stored + needed <= opt_.capacity_bytes) return Status::ok();
  const uint64_t slack = static_cast<uint64_t>(kEvictionSlack * static_cast<double>(opt_.capacity_bytes));
  const uint64_t target = opt_.capacity_bytes - needed > slack ? opt_.capacity_bytes - needed - slack : 0;
  bool evicted = false;
  for (;;) {
    std::optional<std::string> victim;
    {
      std::lock_guard g(lru_mu_);
      if (lru_.total_bytes() <= target) break;
      // Never the prefixes this put extends: that would orphan its pages.
      victim = lru_.oldest(keep_roots);
    }
    if (!victim) break;
    LSM4KV_RETURN_IF_ERROR(evict_subtree(*victim));
    evicted = true;
  }
  if (evicted) LSM4KV_RETURN_IF_ERROR(collect_garbage_locked());
  std::lock_guard g(lru_mu_);
  if (lru_.total_bytes() + needed > opt_.capacity_bytes)
    return Status::no_space("put_batch: capacity " + std::to_string(opt_.capacity_bytes) +
                            " is taken by the prefixes this put extends");
  return Status::ok();
}

Status KvStoreImpl::evict_subtree(const std::string& root) {
  std::string end = key_successor(root);
  std::vector<tensorlog::Location> dead;
  auto it = index_->new_iterator({});
  for (it->seek(root); it->valid() && it->key() < end; it->next()) {
    PageEntry e;
    if (e.decode_from(it->value())) dead.push_back(e.location);
  }
  LSM4KV_RETURN_IF_ERROR(it->status());
  LSM4KV_RETURN_IF_ERROR(index_->delete_range({}, root, end));
  {
    std::lock_guard g(lru_mu_);
    lru_.remove(root);
  }
  counters_.evictions++;
  counters_.pages_evicted += dead.size();
  return log_->mark_dead(dead);
}

Status KvStoreImpl::evict_to(uint64_t target_bytes) {
  LSM4KV_RETURN_IF_ERROR(check_open());
  std::lock_guard g(write_mu_);
  bool evicted = false;
  for (;;) {
    std::optional<std::string> victim;
    {
      std::lock_guard l(lru_mu_);
      if (lru_.total_bytes() <= target_bytes) break;
      victim = lru_.oldest();
    }
    if (!victim) break;
    LSM4KV_RETURN_IF_ERROR(evict_subtree(*victim));
    evicted = true;
  }
  return evicted ? collect_garbage_locked() : Status::ok();
}

Status KvStoreImpl::collect_garbage() {
  LSM4KV_RETURN_IF_ERROR(check_open());
  std::lock_guard g(write_mu_);
  return collect_garbage_locked();
}

// Relocations are applied to every index entry that still names the old
// location, in one atomic batch; then the old segments go, with readers
// held out so that none reads a location that has just vanished.
Status KvStoreImpl::apply_collection(const tensorlog::Collection& c) {
  std::unordered_map<tensorlog::Location, tensorlog::Location, LocationHash> moved;
  for (const auto& r : c.relocations) moved[r.from] = r.to;
  engine::WriteBatch batch;
  LSM4KV_RETURN_IF_ERROR(for_each_page_entry([&](std::string_view key, const PageEntry* e) {
    auto m = e ? moved.find(e->location) : moved.end();
    if (m == moved.end()) return true;
    PageEntry updated = *e;
    updated.location = m->second;
    std::string v;
    updated.encode_to(&v);
    batch.put(key, v);
    return true;
  }));
  if (batch.count() > 0) {
    engine::WriteOptions wo;
    wo.sync_override = true;
    wo.sync = engine::SyncMode::kEveryBatch;  // the old segments go next: this must be durable
    LSM4KV_RETURN_IF_ERROR(index_->write(wo, &batch));
  }
  std::lock_guard gate(gc_gate_);
  std::unique_lock x(gc_mu_);
  return log_->commit_collection(c.id);
}

Status KvStoreImpl::collect_garbage_locked() {
  tensorlog::CollectOptions co;
  tensorlog::Collection c;
  LSM4KV_RETURN_IF_ERROR(log_->collect(co, &c));
  if (c.id == 0) return Status::ok();
  return apply_collection(c);
}

Status KvStoreImpl::check_invariants() {
  LSM4KV_RETURN_IF_ERROR(check_open());
  std::lock_guard g(write_mu_);
  uint64_t bytes = 0;
  std::vector<std::string> path;  // the stored ancestors of the current key
  Status problem;
  LSM4KV_RETURN_IF_ERROR(for_each_page_entry([&](std::string_view key, const PageEntry* e) {
    if (key_pages(key) == 0 || e == nullptr) {
      problem = Status::corruption(opt_.dir + ": malformed index entry");
      return false;
    }
    bytes += disk_bytes(e->location);
    // Keys come in order, so a stored parent is on the path of keys before.
    while (!path.empty() && !key.starts_with(path.back())) path.pop_back();
    if (key_pages(key) > 1 && (path.empty() || path.back().size() + kFingerprintBytes != key.size())) {
      problem = Status::corruption(opt_.dir + ": prefix closure broken: a page of depth " +
                                   std::to_string(key_pages(key)) + " has no stored parent");
      return false;
    }
    path.emplace_back(key);
    return true;
  }));
  LSM4KV_RETURN_IF_ERROR(problem);
  std::lock_guard l(lru_mu_);
  if (bytes != lru_.total_bytes())
    return Status::corruption(opt_.dir + ": capacity accounting " + std::to_string(lru_.total_bytes()) +
                              " bytes, index holds " + std::to_string(bytes));
  return Status::ok();
}

// A collection pending from before a crash. The index is updated before a
// collection is committed, so: if the index names any old copy, the update
// never happened and the collection is aborted; otherwise (it names new
// copies, or neither — the moved records were orphans of an interrupted put)
// it is finished and committed.
Status KvStoreImpl::resolve_pending_collections() {
  for (const tensorlog::Collection& c : log_->pending_collections()) {
    std::unordered_set<tensorlog::Location, LocationHash> from;
    for (const auto& r : c.relocations) from.insert(r.from);
    bool old_referenced = false;
    LSM4KV_RETURN_IF_ERROR(for_each_page_entry([&](std::string_view, const PageEntry* e) {
      old_referenced = e != nullptr && from.count(e->location) > 0;
      return !old_referenced;
    }));
    if (old_referenced) LSM4KV_RETURN_IF_ERROR(log_->abort_collection(c.id));
    else LSM4KV_RETURN_IF_ERROR(apply_collection(c));
  }
  return Status::ok();
}

}  // namespace lsm4kv::kvcache
