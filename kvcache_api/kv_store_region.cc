// Region eviction (StoreOptions::eviction = kRegion): eviction and garbage
// collection in one step, as flash caches do it (CacheLib's BlockCache).
//
// The tensor log is a FIFO of segments. To make room, the oldest sealed
// segment (the region) goes: its pages that were read since they were
// written (or that a put in progress extends) are copied to the head of the
// log, the others are evicted with everything below them, and the segment is
// deleted. Nothing else copies, so the segment files can be filled with live
// data (no GC headroom), and a page is judged by its own hits, not by its
// prompt's. A page evicted here may have descendants in younger segments:
// they leave the index with it (a page whose ancestor is gone is garbage) and
// their records are dead bytes until their own segment reaches the head.
// A prefix is read whenever a page below it is, so a page that was hit never
// loses an ancestor that was not.
#include <unordered_map>

#include "kvcache_api/branch_eviction.h"
#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/subtree_walk.h"

namespace lsm4kv::kvcache {

// Chooses and evicts the region's pages that go; out->kept gets the keys of
// the pages that stay, by record, for the copy's index update.
// REQUIRES: write_mu_ and collect_mu_ held, no copied collection pending.
Status KvStoreImpl::evict_region(const std::unordered_set<std::string>& paths, RegionChoice* out) {
  *out = RegionChoice{};
  const uint64_t victim = log_->oldest_collectable_segment();
  if (victim == 0) return Status::OK();
  out->segment = victim;
  std::vector<NamespaceId> ids;
  {
    std::lock_guard m(meta_mu_);
    for (const auto& [id, layout] : layouts_) ids.push_back(id);
  }
  // Every tree page, parents first, so that a page goes when its parent does.
  std::vector<SubtreePage> pages;
  std::vector<size_t> root_of;
  std::vector<bool> goes;
  std::vector<tensorlog::Location> dead;
  bool malformed = false;
  auto keep = [&](const tensorlog::Location& loc, std::string_view key) {
    return paths.contains(std::string(key)) ||
           (opt_.region_keep_reads > 0 && log_->reads(loc) >= opt_.region_keep_reads);
  };
  for (NamespaceId id : ids) {
    const size_t base = pages.size();
    LSM4KV_RETURN_IF_ERROR(walk_namespace(index_.get(), id, window_, [&](const WalkedPage& w) {
      if (w.entry == nullptr) {
        malformed = true;
        return false;
      }
      const size_t i = pages.size();
      const size_t parent = w.parent == kNoParent ? SIZE_MAX : base + w.parent;
      pages.push_back({std::string(w.key), w.entry->tick, disk_bytes(w.entry->location), parent, w.depth});
      root_of.push_back(parent == SIZE_MAX ? i : root_of[parent]);
      const bool in_region = w.entry->location.segment == victim;
      const bool go = (parent != SIZE_MAX && goes[parent]) || (in_region && !keep(w.entry->location, w.key));
      goes.push_back(go);
      if (go) dead.push_back(w.entry->location);
      else if (in_region) out->kept.emplace(w.entry->location, pages.back().key);
      return true;
    }));
    if (malformed) return Status::corruption(opt_.dir + ": bad page entry in the index");
  }
  engine::WriteBatch batch;
  BranchChoice chosen;
  std::unordered_map<size_t, uint64_t> freed_by_root;  // root page -> bytes going
  std::unordered_map<size_t, size_t> pages_by_root, going_by_root;
  for (size_t i = 0; i < pages.size(); i++) {
    pages_by_root[root_of[i]]++;
    if (!goes[i]) continue;
    chosen.pages.push_back(i);
    chosen.bytes += pages[i].bytes;
    freed_by_root[root_of[i]] += pages[i].bytes;
    going_by_root[root_of[i]]++;
    if (pages[i].parent == SIZE_MAX || !goes[pages[i].parent]) chosen.roots.push_back(i);
  }
  delete_chosen(pages, chosen, window_, &batch);
  // Keyed pages: each its own LRU entry, no tree.
  std::vector<std::string> keyed_gone;
  for (NamespaceId id : ids) {
    LSM4KV_RETURN_IF_ERROR(for_each_page_entry(
        [&](std::string_view key, const PageEntry* e) {
          if (e == nullptr) {
            malformed = true;
            return false;
          }
          if (e->location.segment != victim) return true;
          if (keep(e->location, key)) {
            out->kept.emplace(e->location, std::string(key));
          } else {
            batch.delete_key(key);
            keyed_gone.emplace_back(key);
            dead.push_back(e->location);
          }
          return true;
        },
        keyed_page_key(id, {})));
    if (malformed) return Status::corruption(opt_.dir + ": bad page entry in the index");
  }
  if (batch.count() == 0) return Status::OK();
  // Synced: the region's segment is deleted next.
  engine::WriteOptions wo;
  wo.sync_override = true;
  wo.sync = engine::SyncMode::kPerBatch;
  LSM4KV_RETURN_IF_ERROR(index_->write(wo, &batch));
  {
    std::lock_guard g(lru_mu_);
    for (const auto& [root, bytes] : freed_by_root) {
      if (going_by_root[root] == pages_by_root[root]) lru_.remove(pages[root].key);
      else lru_.subtract(pages[root].key, bytes);
    }
    for (const std::string& k : keyed_gone) lru_.remove(k);
  }
  counters_.evictions += chosen.roots.size() + keyed_gone.size();
  counters_.pages_evicted += dead.size();
  return forget_records(dead);
}

// Copies the region's kept pages to the head of the log (its collection).
// REQUIRES: collect_mu_ held, no copied collection pending.
Status KvStoreImpl::copy_region(RegionChoice choice) {
  tensorlog::CollectOptions co;
  co.segments = {choice.segment};
  tensorlog::Collection c;
  LSM4KV_RETURN_IF_ERROR(log_->collect(co, &c));
  if (c.id == 0) return Status::OK();  // gone already
  copied_ = std::move(c);
  copied_keys_ = std::move(choice.kept);
  return Status::OK();
}

// One region, start to end: the inline form (a put that needs room).
// REQUIRES: write_mu_ and collect_mu_ held. *acted: a segment went.
Status KvStoreImpl::region_round(const std::unordered_set<std::string>& paths, bool* acted) {
  LSM4KV_RETURN_IF_ERROR(apply_copied());
  RegionChoice choice;
  LSM4KV_RETURN_IF_ERROR(evict_region(paths, &choice));
  if (choice.segment == 0) return Status::OK();
  *acted = true;
  LSM4KV_RETURN_IF_ERROR(copy_region(std::move(choice)));
  return apply_copied();
}

// Segments whose records are all dead go without a copy.
// REQUIRES: write_mu_ and collect_mu_ held.
Status KvStoreImpl::free_dead_segments() {
  tensorlog::CollectOptions co;
  co.live_ratio_threshold = 1e-12;  // live bytes 0 only
  co.small_segment_count = SIZE_MAX;
  for (;;) {
    tensorlog::Collection c;
    LSM4KV_RETURN_IF_ERROR(log_->collect(co, &c));
    if (c.id == 0) return Status::OK();
    LSM4KV_RETURN_IF_ERROR(apply_collection(c));
  }
}

// make_room under region eviction: regions go until the files and the put
// fit. Every region either frees its unread pages or clears the read marks
// of those it copies, so two passes over the log free anything not
// protected by the put itself; past that the put gets NoSpace.
Status KvStoreImpl::make_region_room(uint64_t room, const std::unordered_set<std::string>& paths, bool* acted) {
  // The common case, without collect_mu_: a background copy holds it for as
  // long as it copies, and a put that fits need not wait for it.
  if (log_->usage().file_bytes <= room) return Status::OK();
  *acted = true;  // a stall, whether this put takes a region or waits for the background's
  std::lock_guard c(collect_mu_);
  LSM4KV_RETURN_IF_ERROR(apply_copied());
  LSM4KV_RETURN_IF_ERROR(free_dead_segments());
  for (uint64_t round = 0;; round++) {
    const tensorlog::LogUsage u = log_->usage();
    if (u.file_bytes <= room) return Status::OK();
    bool went = false;
    if (round <= 2 * u.segments + 2) LSM4KV_RETURN_IF_ERROR(region_round(paths, &went));
    if (!went)
      return Status::no_space("put_batch: capacity " + std::to_string(opt_.capacity_bytes) +
                              " is taken by the prefixes this put extends");
    LSM4KV_RETURN_IF_ERROR(free_dead_segments());
  }
}

// The background's round under region eviction: the choice under write_mu_,
// the copy without it (puts go on; collect_mu_ keeps other collections
// out), the index update under both.
Status KvStoreImpl::maintain_region_once(uint64_t files_low, bool* acted) {
  std::unique_lock w(write_mu_);
  std::unique_lock c(collect_mu_);
  LSM4KV_RETURN_IF_ERROR(apply_copied());
  LSM4KV_RETURN_IF_ERROR(free_dead_segments());
  if (log_->usage().file_bytes <= files_low) return Status::OK();
  RegionChoice choice;
  LSM4KV_RETURN_IF_ERROR(with_reserve([&] { return evict_region({}, &choice); }));
  if (choice.segment == 0) return Status::OK();
  *acted = true;
  w.unlock();
  LSM4KV_RETURN_IF_ERROR(copy_region(std::move(choice)));
  c.unlock();
  std::lock_guard w2(write_mu_);
  std::lock_guard c2(collect_mu_);
  return apply_copied();  // unless a put that needed room applied it first
}

}  // namespace lsm4kv::kvcache
