// Capacity, eviction and garbage collection of the KV cache store.
#include <algorithm>
#include <chrono>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "kvcache_api/branch_eviction.h"
#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/subtree_walk.h"

namespace lsm4kv::kvcache {
namespace {

// Room is made this far below the limits at once (eviction to one slack
// below the live limit, GC to one slack below what a put needs), so that a
// stream of puts does not evict and collect on every call.
constexpr double kRoomSlack = 0.05;

uint64_t minus(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// The most one segment adds to the files beside its records: its seal (index
// record of at most 20 bytes per record, footer block) and the next one's
// header.
uint64_t segment_overhead(uint64_t segment_bytes) {
  using tensorlog::align_up;
  using tensorlog::kAlign;
  return align_up(tensorlog::kRecordHeaderSize + 10 + 20 * (segment_bytes / kAlign)) + 2 * kAlign;
}

// Bytes no collection can give back: live records, headers, seals.
uint64_t kept_bytes(const tensorlog::LogUsage& u) { return u.file_bytes - u.dead_bytes; }

}  // namespace

// The rule of kv_store.h, "Capacity": least recently used subtrees are
// evicted to keep the live bytes within (1 - gc_headroom) x capacity; the
// segment files are kept within the capacity by collecting the segments with
// the lowest live ratio, which the headroom keeps well below 1.
Status KvStoreImpl::make_room(uint64_t needed, uint64_t fill, const std::vector<std::string>& keep_roots,
                              const std::unordered_set<std::string>& paths, bool* acted) {
  bool local = false;
  if (acted == nullptr) acted = &local;
  *acted = false;
  const uint64_t capacity = opt_.capacity_bytes;
  if (capacity == 0) return Status::OK();
  LSM4KV_RETURN_IF_ERROR(wait_loaded());  // eviction needs the whole LRU
  if (needed > capacity)
    return Status::no_space("put_batch: " + std::to_string(needed) + " bytes exceed the capacity of " +
                            std::to_string(capacity));
  const uint64_t room = put_room(needed);
  if (opt_.eviction == EvictionPolicy::kRegion) return make_region_room(room, fill, paths, acted);
  const uint64_t slack = static_cast<uint64_t>(kRoomSlack * static_cast<double>(capacity));
  const uint64_t live_limit = static_cast<uint64_t>((1.0 - opt_.gc_headroom) * static_cast<double>(capacity));
  const uint64_t gc_target = minus(room, slack);
  const tensorlog::LogUsage u = log_->usage();
  const bool files_full = u.file_bytes > room;
  uint64_t live_target = u.live_bytes;
  if (u.live_bytes + needed > live_limit) live_target = minus(live_limit, needed + slack);
  // Not even a log without dead bytes would fit (a small headroom, or none):
  // evict until it would, one slack below GC's target.
  if (files_full && kept_bytes(u) > gc_target)
    live_target = std::min(live_target, minus(u.live_bytes, kept_bytes(u) - minus(room, 2 * slack)));
  if (live_target < u.live_bytes) {
    *acted = true;
    LSM4KV_RETURN_IF_ERROR(evict_lru(live_target, keep_roots, paths));
  }
  if (!files_full) return Status::OK();
  LSM4KV_RETURN_IF_ERROR(reclaim_dead_bytes(gc_target, SIZE_MAX, acted));
  if (log_->usage().file_bytes > room)
    return Status::no_space("put_batch: capacity " + std::to_string(capacity) +
                            " is taken by the prefixes this put extends");
  return Status::OK();
}

// What the files may hold besides a put of `needed` record bytes; a put
// split over the log's two heads (two FIFOs: kv_store_region.cc) may fill
// one more segment.
uint64_t KvStoreImpl::put_room(uint64_t needed) const {
  const uint64_t growth = records_growth(needed) +
                          (two_fifos() ? segment_overhead(segment_bytes()) : 0);
  return minus(opt_.capacity_bytes, growth);
}

uint64_t KvStoreImpl::records_growth(uint64_t bytes) const {
  return bytes + (bytes / segment_bytes() + 1) * segment_overhead(segment_bytes());
}

uint64_t KvStoreImpl::region_counted_bytes(uint64_t fill) const {
  const tensorlog::LogUsage u = log_->usage();
  const uint64_t moving = moving_bytes_.load();
  const uint64_t overhead = segment_overhead(segment_bytes());
  const uint64_t spare = minus(u.spare_bytes, log_->spare_filled_by(fill));
  // A retired region's file left to the background takes the slack (the
  // next collection deletes it first); what it holds past one segment (its
  // header and seal) counts: without, the files passed the capacity + one
  // segment by that much, 12 KiB of 256 KiB segments, in stress runs.
  const uint64_t retired = minus(u.retired_bytes, segment_bytes());
  const uint64_t copies_in_slack = u.file_bytes + spare + retired + moving - minus(u.copying_bytes, overhead);
  // Files on disk = this count + victim + copies made - copies to be -
  // overhead <= count + one segment when the victim is at most a segment
  // and its seal (its file: header, records within segment_bytes, seal).
  if (u.victim_bytes == 0 || u.victim_bytes > segment_bytes() + overhead) return copies_in_slack;
  const uint64_t victim_in_slack =
      u.file_bytes + spare + retired + moving + overhead + u.victim_planned_bytes - u.victim_bytes - u.copying_bytes;
  return std::min(copies_in_slack, victim_in_slack);
}

Status KvStoreImpl::make_room_for_put(uint64_t needed, uint64_t fill, const std::vector<std::string>& keep_roots,
                                      const std::unordered_set<std::string>& paths) {
  if (walk_paths_) walk_paths_->insert(paths.begin(), paths.end());
  const auto t0 = std::chrono::steady_clock::now();
  bool acted = false;
  Status s = make_room(needed, fill, keep_roots, paths, &acted);
  if (acted) {
    counters_.put_stalls++;
    counters_.put_stall_micros += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
  }
  if (over_high_watermark()) wake_maintainer();
  return s;
}

// ------------------------------------------------- background maintenance

// maintenance_room of the capacity, at most maintenance_room_max_bytes or
// two segments, whichever is more (kv_store.h says why).
double KvStoreImpl::room_share() const {
  const double cap = static_cast<double>(opt_.capacity_bytes);
  if (cap <= 0 || opt_.maintenance_room_max_bytes == 0) return opt_.maintenance_room;
  const double most = static_cast<double>(std::max(opt_.maintenance_room_max_bytes, 2 * segment_bytes()));
  return std::min(opt_.maintenance_room, most / cap);
}

KvStoreImpl::Watermarks KvStoreImpl::watermarks() const {
  const double cap = static_cast<double>(opt_.capacity_bytes), room = room_share();
  const double live_limit = (1.0 - opt_.gc_headroom) * cap;
  auto at = [](double v) { return static_cast<uint64_t>(v); };
  return {at(live_limit * (1 - room / 2)), at(live_limit * (1 - room)), at(cap * (1 - room / 2)), at(cap * (1 - room))};
}

bool KvStoreImpl::over_high_watermark() const {
  if (opt_.capacity_bytes == 0 || opt_.maintenance_room <= 0) return false;
  const Watermarks w = watermarks();
  const tensorlog::LogUsage u = log_->usage();
  // No live limit; the next region is prepared below the marks.
  if (opt_.eviction == EvictionPolicy::kRegion)
    return u.file_bytes > w.files_high || wants_preparation(u.file_bytes, w.files_low) ||
           wants_early_promotion(u, w.files_low);
  return u.file_bytes > w.files_high || u.live_bytes > w.live_high;
}

// One round of background work down to the low marks: eviction of least
// recently used subtrees (under write_mu_), then one collection, whose copy
// runs without write_mu_ (puts go on meanwhile; collect_mu_ keeps other
// collections out) and whose index update takes it again. *acted: it
// evicted or collected.
Status KvStoreImpl::maintain_once(bool* acted) {
  *acted = false;
  const Watermarks w = watermarks();
  if (opt_.eviction == EvictionPolicy::kRegion) return maintain_region_once(w.files_low, acted);
  {
    std::lock_guard g(write_mu_);
    LSM4KV_RETURN_IF_ERROR(with_reserve([&]() -> Status {
      const tensorlog::LogUsage u = log_->usage();
      uint64_t live_target = std::min(u.live_bytes, w.live_low);
      // Where collections alone cannot bring the files down (too few dead
      // bytes), eviction makes the difference.
      if (kept_bytes(u) > w.files_low)
        live_target = std::min(live_target, minus(u.live_bytes, kept_bytes(u) - w.files_low));
      if (live_target >= u.live_bytes) return Status::OK();
      const uint64_t before = counters_.pages_evicted;
      LSM4KV_RETURN_IF_ERROR(evict_lru(live_target, {}, {}));
      *acted = counters_.pages_evicted != before;
      return Status::OK();
    }));
  }
  const tensorlog::LogUsage u = log_->usage();
  if (u.file_bytes <= w.files_low || u.dead_bytes <= u.active_dead_bytes) return Status::OK();
  const uint64_t waste = u.file_bytes - u.live_bytes;  // dead bytes, headers, seals
  {
    std::lock_guard c(collect_mu_);
    if (copied_) return Status::OK();  // not applied yet (an earlier failure): a put retries it
    tensorlog::CollectOptions co;
    co.live_ratio_threshold = 1.0;
    co.max_bytes = segment_bytes();
    tensorlog::Collection collection;
    LSM4KV_RETURN_IF_ERROR(log_->collect(co, &collection));
    if (collection.id == 0) return Status::OK();
    copied_ = std::move(collection);
    *acted = true;
  }
  {
    std::lock_guard g(write_mu_);
    std::lock_guard c(collect_mu_);
    LSM4KV_RETURN_IF_ERROR(apply_copied());  // unless a put that needed room applied it first
  }
  // A collection that only moved records (its victims' dead bytes no more
  // than the seals it added) ends the rounds: more would copy for nothing.
  const tensorlog::LogUsage after = log_->usage();
  if (after.file_bytes - after.live_bytes >= waste) *acted = false;
  return Status::OK();
}

// The maintainer's copied collection, applied. REQUIRES: write_mu_ and
// collect_mu_ held. retired: see apply_collection.
Status KvStoreImpl::apply_copied(uint64_t* retired) {
  LSM4KV_RETURN_IF_ERROR(commit_retired(/*write_held=*/true));
  if (!copied_) return Status::OK();
  LSM4KV_RETURN_IF_ERROR(apply_collection(*copied_, copied_keys_.empty() ? nullptr : &copied_keys_, retired));
  copied_.reset();
  copied_keys_.clear();
  moving_bytes_ = 0;  // its copies are the log's own now
  return Status::OK();
}

Status KvStoreImpl::commit_retired(bool write_held) {
  if (retired_ == 0) return Status::OK();
  // Kept on failure: the next caller retries.
  LSM4KV_RETURN_IF_ERROR(log_->commit_collection(retired_, write_held));
  retired_ = 0;
  return Status::OK();
}

Status KvStoreImpl::commit_retired_in_background() {
  {
    // Most calls find nothing to commit: then without write_mu_, which a
    // put holds over its whole append (the put that woke this thread, as a
    // rule). The wait moves to the round's choice, which needs the lock
    // anyway: no gain measurable on its own (bench/RESULTS.md, fourteenth
    // step of issue 12), one lock taken less per round.
    std::lock_guard c(collect_mu_);
    if (retired_ == 0) return Status::OK();
    // A file that may stay as the spare needs write_mu_ (no append in
    // flight) for that step only: the commit's syncs (the index WAL,
    // DEAD.log) run first, without it, while puts go on.
    if (log_->would_keep_spare(retired_)) LSM4KV_RETURN_IF_ERROR(log_->settle_collection(retired_));
  }
  {
    std::unique_lock w(write_mu_);
    std::lock_guard c(collect_mu_);
    if (retired_ != 0 && log_->would_keep_spare(retired_)) return commit_retired(/*write_held=*/true);
  }
  std::lock_guard c(collect_mu_);
  return commit_retired();  // the file goes (with discard, ~10 ms): without write_mu_, puts go on
}

Status KvStoreImpl::commit_releasing(std::unique_lock<std::mutex>* w, std::unique_lock<std::mutex>* c) {
  w->unlock();
  c->unlock();
  return commit_retired_in_background();
}

void KvStoreImpl::wake_maintainer() {
  {
    std::lock_guard g(maint_mu_);
    maint_wanted_ = true;
  }
  maint_cv_.notify_one();
}

void KvStoreImpl::start_maintainer() {
  if (opt_.read_only || opt_.capacity_bytes == 0 || opt_.maintenance_room <= 0 || maintainer_.joinable()) return;
  maint_stop_ = false;
  maintainer_ = std::thread([this] { maintainer_loop(); });
}

// Signals the thread; close() joins it after stopping the loader, which the
// thread may be waiting for.
void KvStoreImpl::stop_maintainer() {
  {
    std::lock_guard g(maint_mu_);
    maint_stop_ = true;
  }
  maint_cv_.notify_one();
}

void KvStoreImpl::join_maintainer() {
  stop_maintainer();
  if (maintainer_.joinable()) maintainer_.join();
}

// Past a high watermark, works down to the low ones one round at a time
// (write_mu_ is let go in between, so puts go on), until a round has nothing
// left to do. Errors are not fatal here: a put that needs the room makes it
// itself and reports them.
void KvStoreImpl::maintainer_loop() {
  auto stopping = [&] {
    std::lock_guard g(maint_mu_);
    return maint_stop_;
  };
  for (;;) {
    {
      std::unique_lock g(maint_mu_);
      // A timed wait too: usage also grows by orphans and GC's own copies.
      maint_cv_.wait_for(g, std::chrono::milliseconds(200), [&] { return maint_stop_ || maint_wanted_; });
      if (maint_stop_) return;
      maint_wanted_ = false;
    }
    // close() stops the loader before joining this thread: then the LRU may
    // be partial, and nothing is evicted from it.
    if (!wait_loaded().ok() || stopping()) return;
    commit_retired_in_background().ignore_error();  // a put's round's old segment; a failure is retried by the next
    if (!over_high_watermark()) continue;
    for (int round = 0; round < 10000 && !stopping(); round++) {
      bool acted = false;
      Status s = maintain_once(&acted);
      if (acted) counters_.maintenance_rounds++;
      if (!s.ok() || !acted) break;
    }
  }
}

Status KvStoreImpl::evict_lru(uint64_t target_bytes, const std::vector<std::string>& keep_roots,
                             const std::unordered_set<std::string>& paths, bool durable) {
  // A subtree more than this many times what is left to free loses only
  // branches: with few roots (many prompts under one system prompt) a whole
  // subtree would be most of the cache.
  constexpr uint64_t kWholeSubtreeFactor = 4;
  for (;;) {
    std::optional<std::string> victim;
    uint64_t left = 0, victim_bytes = 0;
    {
      std::lock_guard g(lru_mu_);
      if (lru_.total_bytes() <= target_bytes) return Status::OK();
      left = lru_.total_bytes() - target_bytes;
      // Never the prefixes this put extends: that would orphan its pages.
      victim = lru_.oldest(keep_roots);
      if (victim) victim_bytes = lru_.bytes_of(*victim);
    }
    uint64_t freed = 0;
    if (victim) {
      // All of it (one range deletion at its first page), or its oldest
      // branches worth at least what is left; either way it makes progress
      // (an empty subtree is forgotten).
      const bool whole = victim_bytes <= kWholeSubtreeFactor * left;
      LSM4KV_RETURN_IF_ERROR(
          evict_branches(*victim, whole ? std::numeric_limits<uint64_t>::max() : left, {}, durable, &freed));
      continue;
    }
    // Only the subtrees this put extends are left: their oldest branches off
    // the put's own paths.
    for (size_t i = 0; i < keep_roots.size() && freed < left; ++i) {
      uint64_t f = 0;
      LSM4KV_RETURN_IF_ERROR(evict_branches(keep_roots[i], left - freed, paths, durable, &f));
      freed += f;
    }
    if (freed == 0) return Status::OK();  // nothing else may go
  }
}

Status KvStoreImpl::evict_branches(const std::string& root, uint64_t bytes,
                                   const std::unordered_set<std::string>& paths, bool durable, uint64_t* freed) {
  if (is_keyed_page(root)) return evict_keyed(root, durable, freed);
  *freed = 0;
  std::vector<SubtreePage> pages;
  std::vector<tensorlog::Location> locations;
  bool malformed = false;
  LSM4KV_RETURN_IF_ERROR(walk_subtree(index_.get(), root, 1, window_, [&](const WalkedPage& w) {
    if (w.entry == nullptr) {
      malformed = true;
      return false;
    }
    pages.push_back({std::string(w.key), w.entry->tick, disk_bytes(w.entry->location), w.parent, w.depth});
    locations.push_back(w.entry->location);
    return true;
  }));
  if (malformed) return Status::corruption(opt_.dir + ": bad page entry in the index");
  if (pages.empty()) {  // nothing left under root: forget it
    std::lock_guard g(lru_mu_);
    lru_.remove(root);
    return Status::OK();
  }
  BranchChoice choice = choose_branches(pages, paths, bytes);
  if (choice.roots.empty()) return Status::OK();
  engine::WriteBatch batch;
  delete_chosen(pages, choice, window_, &batch);
  engine::WriteOptions wo;
  if (durable) {
    wo.sync_override = true;
    wo.sync = engine::SyncMode::kPerBatch;
  }
  LSM4KV_RETURN_IF_ERROR(index_->write(wo, &batch));
  std::vector<tensorlog::Location> dead;
  for (size_t i : choice.pages) dead.push_back(locations[i]);
  {
    std::lock_guard g(lru_mu_);
    if (choice.pages.size() == pages.size()) lru_.remove(root);
    else lru_.subtract(root, choice.bytes);
  }
  counters_.evictions += choice.roots.size();
  counters_.pages_evicted += dead.size();
  *freed = choice.bytes;
  return forget_records(dead);
}

// Collects the segments with the lowest live ratio first (the planner's
// order), until the counted bytes are at most target or no collection gives
// any back. One collection moves at most about a segment of live records.
Status KvStoreImpl::reclaim_dead_bytes(uint64_t target, size_t max_collections, bool* acted) {
  std::lock_guard l(collect_mu_);  // waits for the maintainer's copy, if one runs
  LSM4KV_RETURN_IF_ERROR(apply_copied());
  tensorlog::CollectOptions co;
  co.live_ratio_threshold = 1.0;  // every segment with a dead record is a candidate
  co.max_bytes = segment_bytes();
  tensorlog::LogUsage u = log_->usage();
  size_t copied = 0;
  while (u.file_bytes > target && u.dead_bytes > u.active_dead_bytes && copied < max_collections) {
    const uint64_t waste = u.file_bytes - u.live_bytes;  // dead bytes, headers, seals
    tensorlog::Collection c;
    LSM4KV_RETURN_IF_ERROR(log_->collect(co, &c));
    if (c.id == 0) break;
    *acted = true;
    LSM4KV_RETURN_IF_ERROR(apply_collection(c));
    if (!c.relocations.empty()) copied++;
    u = log_->usage();
    if (u.file_bytes - u.live_bytes >= waste) break;  // it only moved records
  }
  return Status::OK();
}

// Eviction and GC write little before they free: the range deletions, then
// the segments they empty go without a copy (collector.cc), then one
// collection copies. On a full disk the reserve pays for those writes.
Status KvStoreImpl::evict_to(uint64_t target_bytes) {
  LSM4KV_RETURN_IF_ERROR(check_writable("evict_to"));
  LSM4KV_RETURN_IF_ERROR(wait_loaded());
  std::lock_guard g(write_mu_);
  return with_reserve([&]() -> Status {
    bool over = false;
    {
      std::lock_guard l(lru_mu_);
      over = lru_.total_bytes() > target_bytes;
    }
    // Synced: the segments these deletions empty are deleted next.
    if (over) LSM4KV_RETURN_IF_ERROR(evict_lru(target_bytes, {}, {}, /*durable=*/true));
    return collect_garbage_locked();
  });
}

Status KvStoreImpl::collect_garbage() {
  LSM4KV_RETURN_IF_ERROR(check_writable("collect_garbage"));
  LSM4KV_RETURN_IF_ERROR(wait_loaded());  // relocations must not race the loader's snapshot
  std::lock_guard g(write_mu_);
  return with_reserve([&] { return collect_garbage_locked(); });
}

// ------------------------------------------------------------ the reserve

namespace {
constexpr const char* kReserveFile = "RESERVE";
}  // namespace

Status KvStoreImpl::with_reserve(const std::function<Status()>& step) {
  Status s = step();
  if (s.is_no_space() && release_reserve()) s = step();
  create_reserve();
  return s;
}

bool KvStoreImpl::release_reserve() {
  if (!reserve_held_) return false;
  const std::string path = opt_.dir + "/" + kReserveFile;
  if (!fs_->remove(path).ok() && fs_->exists(path)) return false;
  reserve_held_ = false;
  return true;
}

// Best effort: on a full disk the store runs without it until space is back.
void KvStoreImpl::create_reserve() {
  if (reserve_held_ || opt_.reserve_bytes == 0) return;
  const std::string path = opt_.dir + "/" + kReserveFile;
  uint64_t size = 0;
  if (fs_->file_size(path, &size).ok() && size == opt_.reserve_bytes) {
    reserve_held_ = true;
    return;
  }
  std::unique_ptr<WritableFile> f;
  Status s = fs_->new_writable(path, &f);
  const std::string zeros(std::min<uint64_t>(opt_.reserve_bytes, 1 << 20), '\0');
  for (uint64_t left = opt_.reserve_bytes; s.ok() && left > 0; left -= std::min<uint64_t>(left, zeros.size()))
    s = f->append(std::string_view(zeros).substr(0, std::min<uint64_t>(left, zeros.size())));
  if (s.ok()) s = f->sync();
  if (f) {
    Status c = f->close();
    if (s.ok()) s = c;
  }
  if (s.ok()) s = fs_->sync_dir(opt_.dir);
  if (s.ok()) reserve_held_ = true;
  else fs_->remove(path).ignore_error();
}

// Relocations are applied to every index entry that still names the old
// location, in one atomic batch; then the old segments go, with readers
// held out so that none reads a location that has just vanished. With keys
// (the key of every moved record, as region eviction knows them) each entry
// is a point lookup; without, one scan of the index finds them. With
// `retired`, the collection is only retired (its segments out of the table)
// and *retired is its id: the caller commits it (deletes the files, which
// frees their blocks: ~14 ms for 32 MiB here) after letting go of write_mu_,
// before collect_mu_.
Status KvStoreImpl::apply_collection(const tensorlog::Collection& c, const LocationKeys* keys, uint64_t* retired) {
  engine::WriteBatch batch;
  std::vector<std::pair<std::string, tensorlog::Location>> moved;  // for the page lists
  auto relocate = [&](std::string_view key, const PageEntry& e, const tensorlog::Location& to) {
    PageEntry updated = e;
    updated.location = to;
    std::string v;
    updated.encode_to(&v);
    batch.put(key, v);
    if (lists_pages()) moved.emplace_back(key, to);
  };
  const bool all_keyed = keys != nullptr && std::all_of(c.relocations.begin(), c.relocations.end(),
                                                        [&](const auto& r) { return keys->contains(r.from); });
  if (all_keyed) {
    for (const tensorlog::Relocation& r : c.relocations) {
      const std::string& key = keys->at(r.from);
      std::string v;
      Status s = index_->get({}, key, &v);
      if (s.is_not_found()) continue;  // dropped since: its copy is dead at commit
      LSM4KV_RETURN_IF_ERROR(s);
      PageEntry e;
      if (e.decode_from(v) && e.location == r.from) relocate(key, e, r.to);
    }
  } else if (!c.relocations.empty()) {
    std::unordered_map<tensorlog::Location, tensorlog::Location, LocationHash> moved;
    for (const auto& r : c.relocations) moved[r.from] = r.to;
    LSM4KV_RETURN_IF_ERROR(for_each_page_entry([&](std::string_view key, const PageEntry* e) {
      auto m = e ? moved.find(e->location) : moved.end();
      if (m != moved.end()) relocate(key, *e, m->second);
      return true;
    }));
  }
  if (batch.count() > 0) {
    // Not synced: the commit that deletes the old segments syncs it first
    // (the log's before_reclaim hook); a crash before leaves the journal,
    // and the open aborts the collection (resolve_pending_collections).
    engine::WriteOptions wo;
    wo.sync_override = true;
    wo.sync = engine::SyncMode::kNone;
    LSM4KV_RETURN_IF_ERROR(index_->write(wo, &batch));
    index_epoch_++;
  }
  if (!moved.empty()) {  // a moved page is listed in its new segment, with the root its old list gave it
    std::unordered_set<uint64_t> from;  // the collected segments, or those move_records took records from
    for (const auto& r : c.relocations) from.insert(r.from.segment);
    std::unordered_map<std::string, std::string> roots;
    for (uint64_t segment : from)
      for (ListedPage& p : segment_pages_.of(segment)) roots.emplace(std::move(p.key), std::move(p.root));
    for (const auto& [key, to] : moved)
      if (auto r = roots.find(key); r != roots.end()) segment_pages_.add(to.segment, key, r->second);
  }
  {
    // Readers out only while the old locations stop resolving; the files go
    // (and the syncs run) with readers back in.
    std::lock_guard gate(gc_gate_);
    std::unique_lock x(gc_mu_);
    LSM4KV_RETURN_IF_ERROR(log_->retire_collection(c.id));
  }
  for (uint64_t segment : c.segments) segment_pages_.erase(segment);
  if (retired != nullptr) *retired = c.id;
  else LSM4KV_RETURN_IF_ERROR(log_->commit_collection(c.id));
  uint64_t copied = 0;
  for (const auto& r : c.relocations) copied += disk_bytes(r.to);
  counters_.gc_bytes_copied += copied;
  return Status::OK();
}

// Segments without live records first (deleted, nothing copied), then one
// collection that copies; with the reserve released, one that copies at most
// half of it.
Status KvStoreImpl::collect_garbage_locked() {
  std::lock_guard l(collect_mu_);
  LSM4KV_RETURN_IF_ERROR(apply_copied());
  for (int round = 0; round < 2; ++round) {
    tensorlog::CollectOptions co;
    if (!reserve_held_ && opt_.reserve_bytes > 0) co.max_bytes = std::min(co.max_bytes, opt_.reserve_bytes / 2);
    tensorlog::Collection c;
    LSM4KV_RETURN_IF_ERROR(log_->collect(co, &c));
    if (c.id == 0) return Status::OK();
    LSM4KV_RETURN_IF_ERROR(apply_collection(c));
    if (!c.relocations.empty() || !c.lost.empty()) return Status::OK();
  }
  return Status::OK();
}

Status KvStoreImpl::check_invariants() {
  LSM4KV_RETURN_IF_ERROR(check_open());
  LSM4KV_RETURN_IF_ERROR(wait_loaded());
  std::lock_guard g(write_mu_);
  // Held throughout: a collection copied but not applied holds both copies
  // live, and one being copied adds records no entry names yet.
  std::lock_guard c(collect_mu_);
  LSM4KV_RETURN_IF_ERROR(apply_copied());
  uint64_t bytes = 0, entries = 0;
  Status problem;
  std::unordered_set<tensorlog::Location, LocationHash> referenced;
  // Every page is in its segment's list (region eviction finds a region's
  // pages there).
  std::unordered_map<uint64_t, std::unordered_set<std::string>> listed;
  auto check_listed = [&](std::string_view key, const tensorlog::Location& loc) {
    if (!lists_pages()) return true;
    auto [it, fresh] = listed.try_emplace(loc.segment);
    if (fresh)
      for (ListedPage& p : segment_pages_.of(loc.segment)) it->second.insert(std::move(p.key));
    if (it->second.contains(std::string(key))) return true;
    problem = Status::corruption(opt_.dir + ": a page at " + loc.to_string() + " is missing from its segment's list");
    return false;
  };
  LSM4KV_RETURN_IF_ERROR(for_each_page_entry([&](std::string_view key, const PageEntry* e) {
    if (e != nullptr) referenced.insert(e->location);
    if (e != nullptr && !check_listed(key, e->location)) return false;
    if (is_keyed_page(key) && e != nullptr && !e->digest) {  // keyed pages: no tree to check
      bytes += disk_bytes(e->location);
      return true;
    }
    if (!key_well_formed(key, window_) || e == nullptr || e->digest.has_value() != (key_window_pages(key) == window_)) {
      problem = Status::corruption(opt_.dir + ": malformed index entry");
      return false;
    }
    bytes += disk_bytes(e->location);
    entries++;
    return true;
  }));
  LSM4KV_RETURN_IF_ERROR(problem);
  // Prefix closure: every entry is reached from a prompt's first page
  // through stored parents.
  uint64_t reached = 0;
  std::vector<NamespaceId> ids;
  {
    std::lock_guard m(meta_mu_);
    for (const auto& [id, layout] : layouts_) ids.push_back(id);
  }
  for (NamespaceId id : ids) {
    LSM4KV_RETURN_IF_ERROR(walk_namespace(index_.get(), id, window_, [&](const WalkedPage& w) {
      if (w.parent == kNoParent && w.depth != 1) {
        problem = Status::corruption(opt_.dir + ": prefix closure broken: a page of depth " + std::to_string(w.depth) +
                                     " has no stored parent");
        return false;
      }
      reached++;
      return true;
    }));
    LSM4KV_RETURN_IF_ERROR(problem);
  }
  if (reached != entries)
    return Status::corruption(opt_.dir + ": prefix closure broken: " + std::to_string(entries - reached) +
                              " of " + std::to_string(entries) + " pages have no stored parent");
  // Every live record is referenced (write_mu_ keeps puts and collections out).
  const uint64_t log_live = log_->usage().live_bytes;
  if (bytes != log_live) {
    // Which records: the first live one the index does not name, and how many.
    size_t unreferenced = 0;
    std::string first;
    for (const tensorlog::Location& r : log_->live_records())
      if (!referenced.contains(r) && unreferenced++ == 0) first = " (first at " + r.to_string() + ")";
    return Status::corruption(opt_.dir + ": tensor log holds " + std::to_string(log_live) +
                              " live bytes, index references " + std::to_string(bytes) + "; " +
                              std::to_string(unreferenced) + " live records unreferenced" + first);
  }
  std::lock_guard l(lru_mu_);
  if (bytes != lru_.total_bytes())
    return Status::corruption(opt_.dir + ": capacity accounting " + std::to_string(lru_.total_bytes()) +
                              " bytes, index holds " + std::to_string(bytes));
  return Status::OK();
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
  return Status::OK();
}

}  // namespace lsm4kv::kvcache
