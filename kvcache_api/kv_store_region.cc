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
// them to the kept head. So are the pages below them in younger small
// segments, which go with them unread: a prompt cut in two by a segment's
// end comes back whole (with 4 MiB segments at 1/10 of the synthetic trace,
// remembering only the region's own pages lost 0.01 of hit rate).
//
// Prepared regions: as the files near the background's marks, it moves the
// pages that the next region would keep out of it ahead of time
// (prepare_region_once, TensorLog::move_records), so that the round that
// takes the region, in the background or in a put that needs room, copies
// only what was read or extended since: an index write and a file to drop,
// not a copy. At 1/10 of the synthetic trace's KV that cut the median put
// p99 from 13.0 to 11.6 ms at the default room (bench/RESULTS.md,
// "Prepared regions"). Promotion ahead of the fill is the same move over
// the small FIFO's segments while the store is still filling
// (wants_early_promotion).
//
// A round finds its region's pages in the segment's page list
// (segment_pages.h), and walks only the subtrees of those that may go: its
// cost follows the region, not the store (a walk of the whole index took
// ~6.6 ms a round at 137 MiB, and grew with the store).
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "base/checksum.h"
#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/subtree_walk.h"

namespace lsm4kv::kvcache {

bool KvStoreImpl::small_over_share(const tensorlog::LogUsage& u) const {
  return static_cast<double>(u.put_head_bytes) > opt_.region_small_share * static_cast<double>(opt_.capacity_bytes);
}

uint64_t KvStoreImpl::region_victim() const {
  if (!two_fifos()) return log_->oldest_collectable_segment();
  const uint64_t small = log_->oldest_collectable_segment(tensorlog::Head::kPut);
  if (small != 0 && small_over_share(log_->usage())) return small;
  const uint64_t main = log_->oldest_collectable_segment(tensorlog::Head::kKept);
  return main != 0 ? main : small;
}

std::vector<size_t> KvStoreImpl::take_readmissions(std::span<const std::string_view> keys) {
  std::vector<size_t> readmit;
  if (two_fifos()) {
    std::lock_guard g(ghost_mu_);
    for (size_t i = 0; i < keys.size(); i++)
      if (ghost_.take(checksum64(keys[i]))) readmit.push_back(i);
  }
  return readmit;
}

void KvStoreImpl::route_readmissions(uint64_t needed, uint64_t* fill, std::vector<size_t>* readmit) const {
  if (readmit->empty() || opt_.capacity_bytes == 0 || opt_.eviction != EvictionPolicy::kRegion) return;
  const uint64_t room = put_room(needed);
  if (region_counted_bytes(*fill) <= room || region_counted_bytes(needed) > room) return;
  readmit->clear();
  *fill = needed;
}

Status KvStoreImpl::append_put(std::span<const tensorlog::RecordInput> records, std::span<const size_t> readmit,
                               std::vector<tensorlog::Location>* locs) {
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

bool KvStoreImpl::read_enough(const RegionWalk& walk, const tensorlog::Location& loc) const {
  const uint32_t keep_reads = two_fifos() && !walk.small ? opt_.region_main_keep_reads : opt_.region_keep_reads;
  return keep_reads > 0 && log_->reads(loc) >= keep_reads;
}

// The victim's pages: its list's keys that the index still places in it,
// and the subtrees of those that would go if the choice were made now (not
// read, not keyed); a read or a put before the choice can only save more.
// Reads one snapshot of the index, under neither lock (the
// background walks while puts go on); a change of the index but a put's
// makes the caller throw the walk away (index_epoch_).
Status KvStoreImpl::walk_region(uint64_t victim, const std::vector<ListedPage>& listed,
                                const std::unordered_set<std::string>* paths, RegionWalk* out) {
  *out = RegionWalk{};
  out->segment = victim;
  out->small = two_fifos() && log_->segment_head(victim) == tensorlog::Head::kPut;
  std::vector<std::string> keys;
  std::unordered_map<std::string, const std::string*> root_of;
  for (const ListedPage& p : listed)
    if (root_of.emplace(p.key, &p.root).second) keys.push_back(p.key);
  std::vector<std::string> values;
  std::vector<Status> statuses;
  LSM4KV_RETURN_IF_ERROR(lookup_all(keys, &values, &statuses));
  for (size_t i = 0; i < keys.size(); i++) {
    if (statuses[i].is_not_found()) continue;  // evicted since it was listed
    LSM4KV_RETURN_IF_ERROR(statuses[i]);
    PageEntry e;
    if (!e.decode_from(values[i])) return Status::corruption(opt_.dir + ": bad page entry in the index");
    if (e.location.segment != victim) continue;  // moved since
    out->region.push_back({keys[i], *root_of[keys[i]], e.location, is_keyed_page(keys[i])});
  }
  // By offset: a put writes a prompt's pages parents first, so that a walk
  // mostly finds the pages below it unwalked yet.
  std::sort(out->region.begin(), out->region.end(),
            [](const RegionPage& a, const RegionPage& b) { return a.location.offset < b.location.offset; });
  std::unordered_map<std::string_view, size_t> in_region;  // views region's keys (fixed from here)
  std::unordered_map<std::string, size_t> in_forest;
  for (size_t r = 0; r < out->region.size(); r++) in_region.emplace(out->region[r].key, r);
  bool malformed = false;
  auto snapshot = index_->new_iterator({});
  for (size_t r = 0; r < out->region.size(); r++) {
    const RegionPage& top = out->region[r];
    if (top.keyed || in_forest.contains(top.key) || (paths != nullptr && paths->contains(top.key)) ||
        read_enough(*out, top.location))
      continue;
    std::vector<size_t> at;  // forest index by visit index
    LSM4KV_RETURN_IF_ERROR(walk_pages(snapshot.get(), top.key, 0, window_, [&](const WalkedPage& w) {
      if (w.entry == nullptr) {
        malformed = true;
        return false;
      }
      const size_t parent = w.parent == kNoParent ? SIZE_MAX : at[w.parent];
      auto [it, fresh] = in_forest.try_emplace(std::string(w.key), out->forest.size());
      if (fresh) {
        auto reg = in_region.find(w.key);
        out->forest.push_back({std::string(w.key), w.entry->location, parent, r,
                               reg == in_region.end() ? SIZE_MAX : reg->second});
      } else if (out->forest[it->second].parent == SIZE_MAX) {
        out->forest[it->second].parent = parent;  // an earlier walk's top: its parent is found now
      }
      at.push_back(it->second);
      return true;
    }));
    if (malformed) return Status::corruption(opt_.dir + ": bad page entry in the index");
  }
  return Status::OK();
}

// Evicts the walked region's pages that go; out->kept gets the keys of the
// pages that stay, by record, for the copy's index update. A page stays when
// it was read region_keep_reads times since written (region_main_keep_reads
// in a main region of two FIFOs) or is in `paths`, unless a page above it
// goes. A small region's pages that go unread are remembered in the ghost
// set, as are the pages of other small segments that go with an ancestor.
// REQUIRES: write_mu_ and collect_mu_ held, no copied collection pending,
// and no change to the index since the walk but puts whose paths are in
// `paths` (their pages are not in the walk: no walked page is below them).
void KvStoreImpl::region_fates(const RegionWalk& walk, const std::unordered_set<std::string>& paths,
                               std::vector<bool>* unread, std::vector<bool>* goes) const {
  const std::vector<RegionPage>& region = walk.region;
  const std::vector<ForestPage>& forest = walk.forest;
  unread->assign(region.size(), false);
  for (size_t r = 0; r < region.size(); r++)
    (*unread)[r] = !paths.contains(region[r].key) && !read_enough(walk, region[r].location);
  // A forest page goes when it is an unread page of the region or its parent
  // goes; parents may come after their children (walks of nested subtrees).
  enum : uint8_t { kUnknown, kGoes, kStays };
  std::vector<uint8_t> fate(forest.size(), kUnknown);
  std::vector<size_t> chain;
  for (size_t i = 0; i < forest.size(); i++) {
    size_t at = i;
    while (fate[at] == kUnknown) {
      const ForestPage& f = forest[at];
      if (f.region != SIZE_MAX && (*unread)[f.region]) {
        fate[at] = kGoes;
      } else if (f.parent == SIZE_MAX) {
        fate[at] = kStays;
      } else {
        chain.push_back(at);
        at = f.parent;
        continue;
      }
      break;
    }
    for (size_t c : chain) fate[c] = fate[at];
    chain.clear();
  }
  goes->assign(forest.size(), false);
  for (size_t i = 0; i < forest.size(); i++) (*goes)[i] = fate[i] == kGoes;
}

Status KvStoreImpl::evict_walked(const RegionWalk& walk, const std::unordered_set<std::string>& paths,
                                 RegionChoice* out) {
  *out = RegionChoice{};
  out->segment = walk.segment;
  const std::vector<RegionPage>& region = walk.region;
  const std::vector<ForestPage>& forest = walk.forest;
  std::vector<bool> unread, goes;
  region_fates(walk, paths, &unread, &goes);
  std::vector<std::pair<uint64_t, uint64_t>> ghosts;  // (key hash, bytes) of a small region's unread pages
  for (size_t r = 0; r < region.size(); r++)
    if (walk.small && unread[r]) ghosts.emplace_back(checksum64(region[r].key), disk_bytes(region[r].location));
  engine::WriteBatch batch;
  std::vector<tensorlog::Location> dead;
  std::unordered_map<std::string_view, uint64_t> freed_by_root;  // LRU root -> bytes going
  std::unordered_set<std::string_view> roots_gone;              // LRU roots whose own page goes
  std::unordered_set<std::string_view> going;
  uint64_t subtrees = 0;
  auto evict = [&](const std::string& key, const tensorlog::Location& loc, const std::string& root) {
    // A point deletion per page, not delete_chosen's range deletions: range
    // tombstones make every later read and walk of the index search them
    // (at 1/10 of the trace's KV, probes took up to 8 ms).
    batch.delete_key(key);
    dead.push_back(loc);
    going.insert(key);
    if (root.empty()) return;  // counted in no LRU entry
    if (key == root) roots_gone.insert(root);
    else freed_by_root[root] += disk_bytes(loc);
  };
  // Pages below them that go from other small segments would have gone
  // unread from there too (a page below an unread one is unread): remembered
  // as well, or a region that cuts a prompt's pages in two sends only its
  // first part to the main FIFO when the prompt comes back.
  std::unordered_map<uint64_t, bool> small_segment;
  auto in_small = [&](uint64_t segment) {
    auto [it, fresh] = small_segment.try_emplace(segment, false);
    if (fresh) it->second = log_->segment_head(segment) == tensorlog::Head::kPut;
    return it->second;
  };
  for (size_t i = 0; i < forest.size(); i++) {
    if (!goes[i]) continue;
    if (two_fifos() && forest[i].region == SIZE_MAX && in_small(forest[i].location.segment))
      ghosts.emplace_back(checksum64(forest[i].key), disk_bytes(forest[i].location));
    evict(forest[i].key, forest[i].location, region[forest[i].top].root);
    if (forest[i].parent == SIZE_MAX || !goes[forest[i].parent]) subtrees++;
  }
  for (size_t r = 0; r < region.size(); r++) {
    if (going.contains(region[r].key)) continue;
    if (region[r].keyed && unread[r]) {
      evict(region[r].key, region[r].location, region[r].root);
      subtrees++;
    } else {
      out->kept.emplace(region[r].location, region[r].key);
    }
  }
  if (batch.count() == 0) return Status::OK();
  // Not synced, nor are the dead marks written (defer_dead): the region's
  // file goes only after the log's before_reclaim hook synced the index.
  engine::WriteOptions wo;
  wo.sync_override = true;
  wo.sync = engine::SyncMode::kNone;
  LSM4KV_RETURN_IF_ERROR(index_->write(wo, &batch));
  {
    std::lock_guard g(lru_mu_);
    for (const auto& [root, bytes] : freed_by_root)
      if (!roots_gone.contains(root)) lru_.subtract(std::string(root), bytes);
    for (std::string_view root : roots_gone) lru_.remove(std::string(root));
  }
  {
    std::lock_guard g(ghost_mu_);
    for (const auto& [hash, bytes] : ghosts) ghost_.insert(hash, bytes);
  }
  counters_.evictions += subtrees;
  counters_.pages_evicted += dead.size();
  index_epoch_++;
  log_->defer_dead(dead);
  return Status::OK();
}

// The inline form: walk and evict under the locks.
// REQUIRES: write_mu_ and collect_mu_ held, no copied collection pending.
Status KvStoreImpl::evict_region(const std::unordered_set<std::string>& paths, RegionChoice* out) {
  *out = RegionChoice{};
  const uint64_t victim = region_victim();
  if (victim == 0) return Status::OK();
  RegionWalk walk;
  LSM4KV_RETURN_IF_ERROR(walk_region(victim, segment_pages_.of(victim), &paths, &walk));
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
  return apply_copied(leave_to_background());
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
Status KvStoreImpl::make_region_room(uint64_t room, uint64_t fill, const std::unordered_set<std::string>& paths,
                                     bool* acted) {
  // The common case, without collect_mu_: a background copy holds it for as
  // long as it copies, and a put that fits beside it need not wait for it.
  if (region_counted_bytes(fill) <= room) return Status::OK();
  *acted = true;  // a stall, whether this put takes a region or waits for the background's
  std::lock_guard c(collect_mu_);
  auto fits = [&] {
    if (region_counted_bytes(fill) > room) return false;
    if (retired_ != 0) wake_maintainer();  // to commit it
    return true;
  };
  for (uint64_t round = 0;; round++) {
    // A copy the background finished while this put waited for it is
    // applied first, its old segment's file left to the background as a
    // round's is. Before a round of its own: that file goes (one collection
    // at a time), and the segments the last evictions left without live
    // records.
    LSM4KV_RETURN_IF_ERROR(apply_copied(leave_to_background()));
    if (fits()) return Status::OK();
    LSM4KV_RETURN_IF_ERROR(commit_retired(/*write_held=*/true));
    LSM4KV_RETURN_IF_ERROR(free_dead_segments());
    if (fits()) return Status::OK();
    // A spare this put would not fill (its pages go to the main FIFO's
    // head, which does not reuse files) goes before any region does.
    if (log_->spare_filled_by(fill) < log_->usage().spare_bytes) {
      bool dropped = false;
      LSM4KV_RETURN_IF_ERROR(log_->drop_spare(&dropped));
      if (dropped && fits()) return Status::OK();
    }
    bool went = false;
    if (round <= 2 * log_->usage().segments + 2) LSM4KV_RETURN_IF_ERROR(region_round(paths, &went));
    if (!went)
      return Status::no_space("put_batch: capacity " + std::to_string(opt_.capacity_bytes) +
                              " is taken by the prefixes this put extends");
    if (fits()) return Status::OK();
  }
}

// The background's round under region eviction: the region's list taken
// under write_mu_, its lookups and walks with neither lock held (puts go on;
// each adds the prefixes it extends to walk_paths_, which the choice then
// keeps, so no page a put extends goes);
// the choice under write_mu_, the copy without it (collect_mu_ keeps other
// collections out), the index update under both. A walk that anything but
// puts overtook (a put's own round, a collection) is thrown away.
Status KvStoreImpl::maintain_region_once(uint64_t files_low, bool* acted) {
  uint64_t victim = 0, epoch = 0;
  bool prepare = false, ahead = false;
  std::vector<ListedPage> listed;
  LSM4KV_RETURN_IF_ERROR(commit_retired_in_background());
  {
    // A copy left unapplied (an earlier round failed) or a region a put
    // left since: applied and committed under write_mu_. Otherwise not
    // taken here: the choice below waits for it once.
    std::unique_lock c(collect_mu_);
    if (copied_ || retired_ != 0) {
      c.unlock();
      std::unique_lock w(write_mu_);
      c.lock();
      LSM4KV_RETURN_IF_ERROR(apply_copied(&retired_));
      LSM4KV_RETURN_IF_ERROR(commit_releasing(&w, &c));
      c.lock();
    }
    LSM4KV_RETURN_IF_ERROR(free_dead_segments());  // no index change: no write_mu_
  }
  {
    std::lock_guard w(write_mu_);
    std::lock_guard c(collect_mu_);
    const tensorlog::LogUsage u = log_->usage();
    const uint64_t file_bytes = u.file_bytes;
    if (file_bytes <= files_low) {
      prepare = wants_preparation(file_bytes, files_low);
      ahead = !prepare && wants_early_promotion(u, files_low);
      if (ahead && early_promotion_target() == 0) {  // the last pass is done: the next from the oldest
        promoted_upto_ = 0;
        early_pass_files_ = file_bytes;
      }
    } else {
      victim = region_victim();
      if (victim == 0) return Status::OK();
      epoch = index_epoch_;
      walk_paths_.emplace();
      listed = segment_pages_.of(victim);
    }
  }
  if (victim == 0) return prepare || ahead ? prepare_region_once(acted, ahead) : Status::OK();
  RegionWalk walk;
  Status walked = walk_region(victim, listed, nullptr, &walk);
  region_hook(testing::RegionPoint::kWalked);
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
  return apply_background_copy(&w, &c, testing::RegionPoint::kCopied);
}

Status KvStoreImpl::apply_background_copy(std::unique_lock<std::mutex>* w, std::unique_lock<std::mutex>* c,
                                          testing::RegionPoint at) {
  c->unlock();
  region_hook(at);
  w->lock();
  c->lock();
  LSM4KV_RETURN_IF_ERROR(apply_copied(&retired_));  // unless a put that needed room applied it first
  return commit_releasing(w, c);
}

bool KvStoreImpl::wants_preparation(uint64_t file_bytes, uint64_t files_low) const {
  if (file_bytes + 2 * segment_bytes() <= files_low) return false;
  const uint64_t victim = region_victim();
  return victim != 0 && victim != prepared_;
}

uint64_t KvStoreImpl::early_promotion_target() const {
  return log_->oldest_collectable_segment(tensorlog::Head::kPut, promoted_upto_);
}

// A pass over the small FIFO's sealed segments moves what was read since
// the last; the next begins once the files have grown by this share of the
// capacity since the last began.
constexpr double kPromotionPassShare = 1.0 / 16;

bool KvStoreImpl::early_pass_due(uint64_t file_bytes) const {
  return static_cast<double>(file_bytes) >=
         static_cast<double>(early_pass_files_) + kPromotionPassShare * static_cast<double>(opt_.capacity_bytes);
}

bool KvStoreImpl::wants_early_promotion(const tensorlog::LogUsage& u, uint64_t files_low) const {
  if (!two_fifos() || opt_.region_keep_reads == 0 || u.file_bytes + 2 * segment_bytes() > files_low) return false;
  return small_over_share(u) && (early_promotion_target() != 0 || early_pass_due(u.file_bytes));
}

// The background's preparation of the region that goes next: its pages
// that would stay if it went now move out of it (TensorLog::move_records,
// to the kept head, as its round would copy them), so that the round that
// evicts it copies only what was read or extended since. Its walk runs
// with neither lock held, like a round's; a walk that anything but puts
// overtook is thrown away. Puts that extend its unread pages meanwhile do
// not matter: this evicts nothing.
Status KvStoreImpl::prepare_region_once(bool* acted, bool ahead_of_fill) {
  uint64_t victim = 0, epoch = 0;
  std::vector<ListedPage> listed;
  auto target = [&] { return ahead_of_fill ? early_promotion_target() : region_victim(); };
  {
    std::lock_guard w(write_mu_);
    std::lock_guard c(collect_mu_);
    victim = target();
    if (victim == 0 || (!ahead_of_fill && victim == prepared_) || copied_) return Status::OK();
    epoch = index_epoch_;
    listed = segment_pages_.of(victim);
  }
  RegionWalk walk;
  LSM4KV_RETURN_IF_ERROR(walk_region(victim, listed, nullptr, &walk));
  std::unique_lock w(write_mu_);
  std::unique_lock c(collect_mu_);
  *acted = true;
  if (epoch != index_epoch_ || copied_ || target() != victim) return Status::OK();  // overtaken: again
  std::vector<bool> unread, goes;
  region_fates(walk, {}, &unread, &goes);
  std::unordered_set<std::string_view> going;
  for (size_t i = 0; i < walk.forest.size(); i++)
    if (goes[i]) going.insert(walk.forest[i].key);
  // What moves stays counted until the region goes (its originals die, but
  // stay in its file): only as much as fits below the high mark, in offset
  // order; the round copies the rest. Without a bound a move could take the
  // counted bytes past the capacity, and a round's copy in the slack then
  // the files past capacity + one segment (seen in stress runs). Bounded by
  // the capacity alone, moves took the room the puts need: the files, the
  // spares (a waiting one and a reused file's unwritten end, up to two
  // segments) and the moves filled it to the byte, and the next put waited
  // for the round (demo: 1-4 puts a run, 60-90 ms each; none below the mark).
  const uint64_t below = watermarks().files_high;
  const uint64_t fits = below - std::min(below, region_counted_bytes(0));
  LocationKeys kept;
  std::vector<tensorlog::Location> locations;
  uint64_t bytes = 0;
  for (size_t r = 0; r < walk.region.size(); r++) {
    if (unread[r] || going.contains(walk.region[r].key)) continue;
    const uint64_t more = bytes + disk_bytes(walk.region[r].location);
    if (records_growth(more) > fits) break;
    bytes = more;
    kept.emplace(walk.region[r].location, walk.region[r].key);
    locations.push_back(walk.region[r].location);
  }
  (ahead_of_fill ? promoted_upto_ : prepared_) = victim;
  if (locations.empty()) return Status::OK();
  moving_bytes_ = records_growth(bytes);
  w.unlock();
  tensorlog::Collection moved;
  Status s = commit_retired();  // one collection pending at a time
  if (s.ok()) s = log_->move_records(locations, &moved);
  if (!s.ok() || moved.id == 0) {
    moving_bytes_ = 0;
    return s;
  }
  copied_ = std::move(moved);
  copied_keys_ = std::move(kept);
  return apply_background_copy(&w, &c, testing::RegionPoint::kPrepared);
}

}  // namespace lsm4kv::kvcache
