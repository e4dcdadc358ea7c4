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
//
// Two FIFOs (region_small_share > 0, S3-FIFO): puts append to the log's put
// head, copies to its kept head, so each segment is of one FIFO. The small
// FIFO (the put head's segments) goes first while it is over its share; its
// pages read there move to the main FIFO (the copy), the others are evicted
// and their keys remembered in the ghost set, from which a later put sends
// them to the kept head.
#include <unordered_map>

#include "base/checksum.h"
#include "kvcache_api/branch_eviction.h"
#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/subtree_walk.h"

namespace lsm4kv::kvcache {

uint64_t KvStoreImpl::region_victim() const {
  if (!two_fifos()) return log_->oldest_collectable_segment();
  const uint64_t small = log_->oldest_collectable_segment(tensorlog::Head::kPut);
  const double share = opt_.region_small_share * static_cast<double>(opt_.capacity_bytes);
  if (small != 0 && static_cast<double>(log_->usage().put_head_bytes) > share) return small;
  const uint64_t main = log_->oldest_collectable_segment(tensorlog::Head::kKept);
  return main != 0 ? main : small;
}

Status KvStoreImpl::append_put(std::span<const tensorlog::RecordInput> records,
                               std::span<const std::string_view> keys, std::vector<tensorlog::Location>* locs) {
  std::vector<size_t> readmit;
  if (two_fifos()) {
    std::lock_guard g(ghost_mu_);
    for (size_t i = 0; i < keys.size(); i++)
      if (ghost_.take(checksum64(keys[i]))) readmit.push_back(i);
  }
  if (readmit.empty()) return log_->append(records, locs);
  std::vector<tensorlog::RecordInput> parts[2];  // by head
  std::vector<tensorlog::Head> head_of(records.size(), tensorlog::Head::kPut);
  for (size_t i : readmit) head_of[i] = tensorlog::Head::kKept;
  for (size_t i = 0; i < records.size(); i++) parts[static_cast<int>(head_of[i])].push_back(records[i]);
  std::vector<tensorlog::Location> got[2];
  for (int h = 0; h < 2; h++) {
    if (parts[h].empty()) continue;
    Status s = log_->append(parts[h], &got[h], static_cast<tensorlog::Head>(h));
    if (!s.ok()) {
      if (h == 1) forget_records(got[0]).ignore_error();  // never referenced: reclaimable
      return s;
    }
  }
  locs->clear();
  size_t next[2] = {0, 0};
  for (size_t i = 0; i < records.size(); i++) {
    const int h = static_cast<int>(head_of[i]);
    locs->push_back(got[h][next[h]++]);
  }
  counters_.pages_readmitted += readmit.size();
  return Status::OK();
}

// Every page of the index, parents first (so that a page goes when its
// parent does), and the keyed pages of the victim. Reads one snapshot of the
// index; needs neither lock (the background walks while puts go on).
Status KvStoreImpl::walk_region(uint64_t victim, RegionWalk* out) {
  *out = RegionWalk{};
  out->segment = victim;
  out->small = two_fifos() && log_->segment_head(victim) == tensorlog::Head::kPut;
  std::vector<NamespaceId> ids;
  {
    std::lock_guard m(meta_mu_);
    for (const auto& [id, layout] : layouts_) ids.push_back(id);
  }
  bool malformed = false;
  for (NamespaceId id : ids) {
    const size_t base = out->pages.size();
    LSM4KV_RETURN_IF_ERROR(walk_namespace(index_.get(), id, window_, [&](const WalkedPage& w) {
      if (w.entry == nullptr) {
        malformed = true;
        return false;
      }
      const size_t i = out->pages.size();
      const size_t parent = w.parent == kNoParent ? SIZE_MAX : base + w.parent;
      out->pages.push_back({std::string(w.key), w.entry->tick, disk_bytes(w.entry->location), parent, w.depth});
      out->locations.push_back(w.entry->location);
      out->root_of.push_back(parent == SIZE_MAX ? i : out->root_of[parent]);
      return true;
    }));
    if (malformed) return Status::corruption(opt_.dir + ": bad page entry in the index");
    LSM4KV_RETURN_IF_ERROR(for_each_page_entry(
        [&](std::string_view key, const PageEntry* e) {
          if (e == nullptr) {
            malformed = true;
            return false;
          }
          if (e->location.segment == victim) out->keyed.push_back({std::string(key), e->location});
          return true;
        },
        keyed_page_key(id, {})));
    if (malformed) return Status::corruption(opt_.dir + ": bad page entry in the index");
  }
  return Status::OK();
}

// Evicts the walked region's pages that go; out->kept gets the keys of the
// pages that stay, by record, for the copy's index update. A page stays when
// it was read region_keep_reads times since written (region_main_keep_reads
// in a main region of two FIFOs) or is in `paths`. A small region's pages
// that go unread (below a page that goes or not) are remembered in the
// ghost set.
// REQUIRES: write_mu_ and collect_mu_ held, no copied collection pending,
// and no change to the index since the walk but puts whose paths are in
// `paths` (their pages are not in the walk: no walked page is below them).
Status KvStoreImpl::evict_walked(const RegionWalk& walk, const std::unordered_set<std::string>& paths,
                                 RegionChoice* out) {
  *out = RegionChoice{};
  out->segment = walk.segment;
  const uint32_t keep_reads = two_fifos() && !walk.small ? opt_.region_main_keep_reads : opt_.region_keep_reads;
  auto keep = [&](const tensorlog::Location& loc, const std::string& key) {
    return paths.contains(key) || (keep_reads > 0 && log_->reads(loc) >= keep_reads);
  };
  std::vector<std::pair<uint64_t, uint64_t>> ghosts;  // (key hash, bytes) of a small region's unread pages
  auto went_unread = [&](const std::string& key, const tensorlog::Location& loc) {
    if (walk.small) ghosts.emplace_back(checksum64(key), disk_bytes(loc));
  };
  const std::vector<SubtreePage>& pages = walk.pages;
  std::vector<bool> goes(pages.size(), false);
  std::vector<tensorlog::Location> dead;
  BranchChoice chosen;
  std::unordered_map<size_t, uint64_t> freed_by_root;  // root page -> bytes going
  std::unordered_map<size_t, size_t> pages_by_root, going_by_root;
  for (size_t i = 0; i < pages.size(); i++) {
    const size_t parent = pages[i].parent;
    const bool in_region = walk.locations[i].segment == walk.segment;
    const bool unread = in_region && !keep(walk.locations[i], pages[i].key);
    goes[i] = (parent != SIZE_MAX && goes[parent]) || unread;
    pages_by_root[walk.root_of[i]]++;
    if (!goes[i]) {
      if (in_region) out->kept.emplace(walk.locations[i], pages[i].key);
      continue;
    }
    if (unread) went_unread(pages[i].key, walk.locations[i]);
    dead.push_back(walk.locations[i]);
    chosen.pages.push_back(i);
    chosen.bytes += pages[i].bytes;
    freed_by_root[walk.root_of[i]] += pages[i].bytes;
    going_by_root[walk.root_of[i]]++;
    if (parent == SIZE_MAX || !goes[parent]) chosen.roots.push_back(i);
  }
  // A point deletion per page, not delete_chosen's range deletions: the
  // walk names every page that goes, and range tombstones make every later
  // read and walk of the index search them (at 1/10 of the trace's KV, the
  // walks spent most of their time there, and probes took up to 8 ms).
  engine::WriteBatch batch;
  for (size_t i : chosen.pages) batch.delete_key(pages[i].key);
  // Keyed pages: each its own LRU entry, no tree.
  std::vector<std::string> keyed_gone;
  for (const auto& [key, loc] : walk.keyed) {
    if (keep(loc, key)) {
      out->kept.emplace(loc, key);
    } else {
      batch.delete_key(key);
      keyed_gone.push_back(key);
      went_unread(key, loc);
      dead.push_back(loc);
    }
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
  {
    std::lock_guard g(ghost_mu_);
    for (const auto& [hash, bytes] : ghosts) ghost_.insert(hash, bytes);
  }
  counters_.evictions += chosen.roots.size() + keyed_gone.size();
  counters_.pages_evicted += dead.size();
  return forget_records(dead);
}

// The inline form: walk and evict under the locks.
// REQUIRES: write_mu_ and collect_mu_ held, no copied collection pending.
Status KvStoreImpl::evict_region(const std::unordered_set<std::string>& paths, RegionChoice* out) {
  *out = RegionChoice{};
  const uint64_t victim = region_victim();
  if (victim == 0) return Status::OK();
  RegionWalk walk;
  LSM4KV_RETURN_IF_ERROR(walk_region(victim, &walk));
  return evict_walked(walk, paths, out);
}

// Copies the region's kept pages to the head of the log (its collection).
// REQUIRES: collect_mu_ held, no copied collection pending.
Status KvStoreImpl::copy_region(RegionChoice choice) {
  LSM4KV_RETURN_IF_ERROR(commit_retired());  // one collection pending at a time
  tensorlog::CollectOptions co;
  co.segments = {choice.segment};
  tensorlog::Collection c;
  LSM4KV_RETURN_IF_ERROR(log_->collect(co, &c));
  if (c.id == 0) return Status::OK();  // gone already
  copied_ = std::move(c);
  copied_keys_ = std::move(choice.kept);
  return Status::OK();
}

// One region, start to end: the inline form (a put that needs room). With a
// background thread, the region's segment is only retired (out of the
// counted bytes), its file left to the thread (retired_).
// REQUIRES: write_mu_ and collect_mu_ held. *acted: a segment went.
Status KvStoreImpl::region_round(const std::unordered_set<std::string>& paths, bool* acted) {
  LSM4KV_RETURN_IF_ERROR(apply_copied());
  RegionChoice choice;
  LSM4KV_RETURN_IF_ERROR(evict_region(paths, &choice));
  if (choice.segment == 0) return Status::OK();
  *acted = true;
  LSM4KV_RETURN_IF_ERROR(copy_region(std::move(choice)));
  return apply_copied(opt_.maintenance_room > 0 ? &retired_ : nullptr);
}

// Segments whose records are all dead go without a copy.
// REQUIRES: collect_mu_ held (write_mu_ need not be: the index does not change).
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
  // long as it copies, and a put that fits beside it need not wait for it.
  if (region_counted_bytes() <= room) return Status::OK();
  *acted = true;  // a stall, whether this put takes a region or waits for the background's
  std::lock_guard c(collect_mu_);
  for (uint64_t round = 0;; round++) {
    // Before each round: the last one's old segment goes (retired_), and the
    // segments its evictions left without live records.
    LSM4KV_RETURN_IF_ERROR(apply_copied());
    LSM4KV_RETURN_IF_ERROR(free_dead_segments());
    if (region_counted_bytes() <= room) return Status::OK();
    bool went = false;
    if (round <= 2 * log_->usage().segments + 2) LSM4KV_RETURN_IF_ERROR(region_round(paths, &went));
    if (!went)
      return Status::no_space("put_batch: capacity " + std::to_string(opt_.capacity_bytes) +
                              " is taken by the prefixes this put extends");
    if (region_counted_bytes() <= room) {
      wake_maintainer();  // to commit retired_
      return Status::OK();
    }
  }
}

// The background's round under region eviction: the walk of the index with
// neither lock held (puts go on; each adds the prefixes it extends to
// walk_paths_, which the choice then keeps, so no page a put extends goes);
// the choice under write_mu_, the copy without it (collect_mu_ keeps other
// collections out), the index update under both. A walk that anything but
// puts overtook (a put's own round, a collection) is thrown away.
Status KvStoreImpl::maintain_region_once(uint64_t files_low, bool* acted) {
  uint64_t victim = 0, epoch = 0;
  {
    std::lock_guard c(collect_mu_);
    LSM4KV_RETURN_IF_ERROR(commit_retired());  // without write_mu_: puts go on
  }
  {
    std::unique_lock w(write_mu_);
    std::lock_guard c(collect_mu_);
    uint64_t retired = 0;
    LSM4KV_RETURN_IF_ERROR(apply_copied(&retired));
    w.unlock();
    if (retired != 0) LSM4KV_RETURN_IF_ERROR(log_->commit_collection(retired));
    LSM4KV_RETURN_IF_ERROR(free_dead_segments());  // no index change: no write_mu_
  }
  {
    std::lock_guard w(write_mu_);
    std::lock_guard c(collect_mu_);
    if (log_->usage().file_bytes <= files_low) return Status::OK();
    victim = region_victim();
    if (victim == 0) return Status::OK();
    epoch = index_epoch_;
    walk_paths_.emplace();
  }
  RegionWalk walk;
  Status walked = walk_region(victim, &walk);
  {
    std::lock_guard g(walk_hook_mu_);
    if (walk_hook_) walk_hook_();
  }
  std::unique_lock w(write_mu_);
  std::unique_lock c(collect_mu_);
  std::unordered_set<std::string> paths = std::move(*walk_paths_);
  walk_paths_.reset();
  LSM4KV_RETURN_IF_ERROR(walked);
  const auto fifo = two_fifos() ? std::optional(log_->segment_head(victim)) : std::nullopt;
  if (epoch != index_epoch_ || copied_ || log_->oldest_collectable_segment(fifo) != victim) {
    *acted = true;  // overtaken: try again
    return Status::OK();
  }
  RegionChoice choice;
  LSM4KV_RETURN_IF_ERROR(with_reserve([&] { return evict_walked(walk, paths, &choice); }));
  *acted = true;
  w.unlock();
  LSM4KV_RETURN_IF_ERROR(copy_region(std::move(choice)));
  c.unlock();
  w.lock();
  c.lock();
  uint64_t retired = 0;
  LSM4KV_RETURN_IF_ERROR(apply_copied(&retired));  // unless a put that needed room applied it first
  w.unlock();
  return retired == 0 ? Status::OK() : log_->commit_collection(retired);
}

}  // namespace lsm4kv::kvcache
