// KvStoreImpl: the store behind kvcache_api/kv_store.h, over an engine::DB
// (the index, in DIR/index) and a tensorlog::TensorLog (DIR/tensors).
//
// Locking: write_mu_ serializes everything that changes the key set (the
// index phase of puts, eviction, applying GC relocations), which keeps the
// set prefix-closed. gc_mu_ is shared by readers from their index lookup to
// the end of their tensor reads, and taken exclusively only while a GC
// collection is committed (its old segments deleted). lru_mu_ guards the LRU.
// async_mu_ counts get_batch_async calls in flight, which close() waits for.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <condition_variable>
#include <map>
#include <optional>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "engine/db.h"
#include "kvcache_api/branch_eviction.h"
#include "kvcache_api/ghost_set.h"
#include "kvcache_api/kv_store.h"
#include "kvcache_api/latency.h"
#include "kvcache_api/prefix_key.h"
#include "kvcache_api/segment_pages.h"
#include "kvcache_api/store_admin.h"
#include "kvcache_api/store_config.h"
#include "kvcache_api/subtree_lru.h"
#include "kvcache_api/test_hooks.h"
#include "tensorlog/tensor_log.h"
#include "tuner/controller.h"

namespace lsm4kv::kvcache {

struct LocationHash {
  size_t operator()(const tensorlog::Location& l) const {
    return std::hash<uint64_t>()(l.segment * 0x9e3779b97f4a7c15ull ^ l.offset);
  }
};
// Capacity counts all the segment files' bytes (LogUsage::file_bytes), the
// dead records of the active segment too, though no collection can take them
// before it is sealed: the one segment of slack kv_store.h allows is for the
// copy a collection makes while puts go on (at most one segment's records:
// copy_region, maintain_once). Counting the active dead bytes out as well let
// a background copy push the files 4 KiB past capacity + one segment.

// Region eviction reuses segment files (tensorlog/tensor_log.h, "Reused
// files") when the capacity holds at least this many segments. A spare is
// a segment's worth of the capacity that only the put head's new pages
// fill; with few segments it costs hits: on the synthetic trace at 1/10
// (137 MiB, 8.5 segments of 16 MiB) hit rate 0.243 against 0.249 without
// (7 and 6 runs), at 1/3 (28 segments) 0.520 against 0.521, in the demo
// (32 segments) the same 0.383 (bench/RESULTS.md, "Reused segment files");
// at 1/10 with 4 MiB segments (34) 0.255 against 0.252 (7 and 3 runs).
inline constexpr uint64_t kReuseMinSegments = 16;

// The options with their "0 = by the others" defaults filled in
// (segment_bytes).
StoreOptions resolved(StoreOptions o);

// The index key of records, by location.
using LocationKeys = std::unordered_map<tensorlog::Location, std::string, LocationHash>;

// InvalidArgument unless dir holds a store (index/CURRENT and tensors/).
Status check_is_store(const std::string& dir);
// Busy naming dir, for a lock another process holds (s).
Status locked_status(const std::string& dir, const Status& s);

class KvStoreImpl final : public KvStore {
 public:
  // rebuild: open rebuilds the index from the tensor log whatever its state
  // (KvStore::repair).
  explicit KvStoreImpl(const StoreOptions& options, bool rebuild = false)
      : opt_(resolved(options)),
        force_rebuild_(rebuild),
        segment_by_default_(options.segment_bytes == 0),
        ghost_(opt_.capacity_bytes) {}
  ~KvStoreImpl() override { close().ignore_error(); }  // close() reports; a destructor cannot

  Status open();
  Status register_namespace(std::string_view name, const KvLayout& layout, NamespaceId* out) override;
  Status put_batch(NamespaceId ns, std::span<const Token> tokens, const KvBuffer& src,
                   PutResult* result = nullptr) override;
  Status put_batch(std::span<const PutRequest> requests, PutResult* result = nullptr) override;
  Status probe(NamespaceId ns, std::span<const Token> tokens, size_t* cached) override;
  Status get_batch(NamespaceId ns, std::span<const Token> tokens, size_t n, const KvBuffer& dst) override;
  Status get_batch(std::span<GetRequest> requests) override;
  std::future<Status> get_batch_async(NamespaceId ns, std::vector<Token> tokens, size_t n,
                                      KvBuffer dst) override;
  // The page-key API: kv_store_pages.cc.
  Status exists_prefix(NamespaceId ns, std::span<const std::string_view> keys, size_t* n) override;
  Status put_pages(NamespaceId ns, std::span<const std::string_view> keys,
                   std::span<const PageSlices> sources, PutResult* result = nullptr) override;
  Status get_pages(NamespaceId ns, std::span<const std::string_view> keys, std::span<const PageSlices> destinations,
                   std::vector<Status>* results) override;
  Status evict_to(uint64_t target_bytes) override;
  Status collect_garbage() override;
  Status stats(StoreStats* out) const override;
  StoreStats stats() const override;
  Status check_invariants() override;
  Status close() override;

  uint32_t page_tokens() const override { return opt_.page_tokens; }

  // The admin surface (store_admin.h): store_inspect.cc, store_verify.cc,
  // store_stats_file.cc.
  static Status open_existing(StoreOptions options, std::unique_ptr<KvStore>* out);
  Status list_namespaces(std::vector<admin::NamespaceInfo>* out);
  Status tree(std::string_view ns_name, size_t max_depth, size_t top, admin::TreeInfo* out);
  Status verify(admin::VerifyReport* report, const admin::VerifyProgress& progress);
  Status persist_stats();
  // Writes the stats file, in `state` ("running", "closed"); one writer at
  // a time (stats_file_mu_).
  Status write_stats(const char* state);
  // Null after close(). For store_admin.cc only.
  engine::DB* index() { return index_.get(); }
  tensorlog::TensorLog* tensor_log() { return log_.get(); }
  void set_region_walk_hook(std::function<void(testing::RegionPoint)> hook) {
    std::lock_guard g(walk_hook_mu_);
    walk_hook_ = std::move(hook);
  }
  // The stats file every kStatsInterval and at close (stop_stats_writer(),
  // which close() calls first). KvStore::open starts it, open_existing not.
  void start_stats_writer();
  void stop_stats_writer();
  // What the rebuild of this open found (kv_store_recovery.cc).
  const RepairReport& repair_report() const { return repair_; }

 private:
  Status check_open() const {
    return closed_ ? Status::invalid_argument(opt_.dir + ": store is closed") : Status::OK();
  }
  // check_open, and NotSupported on a read-only store.
  Status check_writable(const char* what) const;
  void observe() {
    if (tuner_) tuner_->observe();
  }
  Status layout_of(NamespaceId ns, KvLayout* out) const;
  Status check_buffer(const KvBuffer& b, const KvLayout& layout, size_t tokens, const char* what) const;
  // get_batch's checks: layouts, n, buffers, one CUDA stream. *on_device:
  // the first device destination (its stream is the batch's), or null.
  Status check_get_requests(std::span<GetRequest> requests, std::vector<KvLayout>* layouts,
                            const GetRequest** on_device) const;
  // Marks the records the reads that succeeded read (TensorLog::mark_read),
  // where region eviction judges pages by their reads; elsewhere gets skip
  // the log's lock.
  void note_reads(std::span<const tensorlog::ReadRequest> reads);
  // Whole pages of keys[0..) that are stored (keys of one prompt, in order).
  Status cached_pages(const PromptKeys& keys, size_t* pages);
  // multi_get of keys in any order (the index wants them sorted).
  Status lookup_all(const std::vector<std::string>& keys, std::vector<std::string>* values,
                    std::vector<Status>* statuses);
  // *result: pages_stored and pages_present.
  Status put_locked(std::span<const PutRequest> requests, PutResult* result);
  // The checks every page-key call makes; *page_bytes: the namespace's page.
  Status check_keyed(const char* what, NamespaceId ns, std::span<const std::string_view> keys,
                     const std::span<const PageSlices>* slices, uint64_t* page_bytes) const;
  // Evicts one keyed page (its own LRU entry). REQUIRES: write_mu_ held.
  Status evict_keyed(const std::string& key, bool durable, uint64_t* freed);
  // REQUIRES (all down to apply_collection): write_mu_ held.
  // keep_roots: the root subtrees the put extends; paths: the deepest key of
  // each of its requests (their prefixes must stay).
  // *acted: it evicted or collected.
  // fill: of needed, the bytes of the pages that go to the put head, which
  // fill its reused files' blocks before any new ones
  // (tensorlog/tensor_log.h, "Reused files").
  Status make_room(uint64_t needed, uint64_t fill, const std::vector<std::string>& keep_roots,
                   const std::unordered_set<std::string>& paths, bool* acted = nullptr);
  // make_room for a put (REQUIRES: write_mu_ held), counted as a stall when
  // it had to act.
  Status make_room_for_put(uint64_t needed, uint64_t fill, const std::vector<std::string>& keep_roots,
                           const std::unordered_set<std::string>& paths);
  // Background maintenance (kv_store_maintenance.cc): one thread, from the
  // end of open to close, woken by puts that pass the high watermark.
  void start_maintainer();
  void stop_maintainer();
  void join_maintainer();
  void maintainer_loop();
  void wake_maintainer();
  // The background's marks (see StoreOptions::maintenance_room): it starts
  // past the high ones and works down to the low ones.
  struct Watermarks {
    uint64_t live_high, live_low, files_high, files_low;
  };
  Watermarks watermarks() const;
  // The share of the capacity the background keeps ahead of the puts:
  // maintenance_room, bounded by maintenance_room_max_bytes.
  double room_share() const;
  bool over_high_watermark() const;
  Status maintain_once(bool* acted);
  // Commits retired_ first. REQUIRES: collect_mu_ held (and write_mu_,
  // when a copied collection is pending).
  Status apply_copied(uint64_t* retired = nullptr);
  // Commits the collection a round left (retired_). Its file may stay as
  // the log's spare (tensor_log.h, "Reused files") only with write_held:
  // no put in flight, so the log's count of its files is exact.
  // REQUIRES: collect_mu_ held, and write_mu_ when write_held.
  Status commit_retired(bool write_held = false);
  // commit_retired from the background thread, holding neither lock: when
  // the file may stay as the spare, its syncs under collect_mu_ only
  // (TensorLog::settle_collection), then the spare kept under both (cheap);
  // else under collect_mu_ only, while puts go on.
  Status commit_retired_in_background();
  // Releases both locks and commits retired_ (if any) as
  // commit_retired_in_background does; until then a put that needs room
  // may commit it. REQUIRES: *w holds write_mu_, *c collect_mu_.
  Status commit_releasing(std::unique_lock<std::mutex>* w, std::unique_lock<std::mutex>* c);
  // Where a put's apply_copied leaves its old segment: to the background
  // (retired_), or null without one (deleted inline).
  uint64_t* leave_to_background() { return opt_.maintenance_room > 0 ? &retired_ : nullptr; }
  // Evicts least recently used subtrees (none in keep_roots) until the
  // stored bytes are at most target_bytes; a subtree much bigger than what
  // is left to free loses only its oldest branches; when only keep_roots are
  // left, their oldest branches off `paths` go (branch_eviction.h).
  // durable: the range deletions are synced whatever the sync mode (evict_to
  // deletes the segments they empty next).
  Status evict_lru(uint64_t target_bytes, const std::vector<std::string>& keep_roots,
                   const std::unordered_set<std::string>& paths, bool durable = false);
  // Evicts the oldest branches of root's subtree worth at least `bytes`
  // (none on paths; all of it for bytes = max and no paths); *freed: what went.
  Status evict_branches(const std::string& root, uint64_t bytes, const std::unordered_set<std::string>& paths,
                        bool durable, uint64_t* freed);
  // Reports records dead; NoSpace from DEAD.log is not an error (the marks
  // hold in memory, and the next open finds unreferenced records anyway).
  Status forget_records(std::span<const tensorlog::Location> locations);
  // The full-disk reserve (kv_store.h, Full disk): runs step; when it gets
  // NoSpace while the reserve is held, deletes the reserve and runs it once
  // more; then re-creates the reserve if there is room.
  Status with_reserve(const std::function<Status()>& step);
  void create_reserve();
  bool release_reserve();
  // Collects the least live segments until the segment files' counted bytes
  // are at most target or nothing more can be reclaimed.
  // max_collections: at most that many collections that copy; *acted: any
  // collection ran.
  Status reclaim_dead_bytes(uint64_t target, size_t max_collections, bool* acted);
  Status collect_garbage_locked();
  // keys: the key of each moved record, where the caller knows them.
  Status apply_collection(const tensorlog::Collection& c, const LocationKeys* keys = nullptr,
                          uint64_t* retired = nullptr);
  // Region eviction (kv_store_region.cc; StoreOptions::eviction = kRegion).
  struct RegionChoice {
    uint64_t segment = 0;  // 0: no sealed segment to take
    LocationKeys kept;     // the region's pages that stay (read, or on a put's paths)
  };
  // The region's pages, found from its segment's list (segment_pages_):
  // those the index still places in the segment, and the subtrees of those
  // that go unless a read or a put saves them.
  struct RegionPage {
    std::string key;
    std::string root;  // its LRU entry; empty: none
    tensorlog::Location location;
    bool keyed = false;  // a page-key page: no subtree
  };
  struct ForestPage {
    std::string key;
    tensorlog::Location location;
    size_t parent = SIZE_MAX;  // index in forest; SIZE_MAX: a walked subtree's top
    size_t top = 0;            // index in region of the page whose walk found it (its LRU root's)
    size_t region = SIZE_MAX;  // index in region, or SIZE_MAX: in another segment
  };
  struct RegionWalk {
    uint64_t segment = 0;
    bool small = false;  // a region of the small FIFO (StoreOptions::region_small_share)
    std::vector<RegionPage> region;   // by offset
    std::vector<ForestPage> forest;   // the walked subtrees, any order
  };
  // The region that goes next: the oldest segment, or with two FIFOs the
  // small FIFO's oldest while it is over its share, else the main's.
  uint64_t region_victim() const;
  // Two FIFOs: the small FIFO's files (u.put_head_bytes) pass its share of
  // the capacity.
  bool small_over_share(const tensorlog::LogUsage& u) const;
  // The segment size now: opt_.segment_bytes, or more once fit_segments_to
  // raised it.
  uint64_t segment_bytes() const { return log_ ? log_->segment_size() : opt_.segment_bytes; }
  // With segment_bytes by default: segments hold 16 pages of page_bytes or
  // more from now on, within the default's bounds. REQUIRES: meta_mu_ held
  // (or open in progress).
  void fit_segments_to(uint64_t page_bytes);
  // Region eviction over two FIFOs (StoreOptions::region_small_share): on
  // when the capacity holds 4 segments or more, so that the two heads'
  // active segments (which no round can take) leave half of it to the FIFOs.
  // Decided at open (fit_segments_to keeps 4 segments at least).
  bool two_fifos() const {
    return opt_.eviction == EvictionPolicy::kRegion && opt_.capacity_bytes > 0 && opt_.region_small_share > 0 &&
           opt_.capacity_bytes >= 4 * opt_.segment_bytes;
  }
  // With two FIFOs, the indexes of the page keys the ghost set remembers
  // (taken from it): pages the put readmits to the main FIFO. Decided
  // before the put makes room, which counts where its bytes go.
  std::vector<size_t> take_readmissions(std::span<const std::string_view> keys);
  // Readmitted pages go to the main FIFO's head, which does not reuse files
  // (tensorlog/tensor_log.h, "Reused files"): when that alone would make a
  // put of `needed` bytes, `*fill` of them to the put head, take a region,
  // the put head's reused file having the room, they go to the put head
  // instead (*readmit cleared, *fill = needed). REQUIRES: write_mu_ held.
  void route_readmissions(uint64_t needed, uint64_t* fill, std::vector<size_t>* readmit) const;
  // Appends a put's records to the log: those of readmit (ascending) to the
  // main FIFO's head, the others to the put head.
  Status append_put(std::span<const tensorlog::RecordInput> records, std::span<const size_t> readmit,
                    std::vector<tensorlog::Location>* locs);
  // Page lists are kept under region eviction with a capacity (writable).
  bool lists_pages() const {
    return opt_.eviction == EvictionPolicy::kRegion && opt_.capacity_bytes > 0 && !opt_.read_only;
  }
  // TensorLogOptions::reuse_files_within for segments of segment_bytes:
  // region eviction reuses collected segments' files within the capacity
  // (tensor_log.h, "Reused files"; make_region_room counts them) when it
  // holds kReuseMinSegments of them; 0 (off) otherwise.
  uint64_t reuse_files_within(uint64_t segment_bytes) const {
    return lists_pages() && opt_.capacity_bytes >= kReuseMinSegments * segment_bytes ? opt_.capacity_bytes : 0;
  }
  // listed: the victim's list, taken under write_mu_ (so that it names every
  // page a put finished); paths: pages no walk is needed below (known
  // kept), or null.
  Status walk_region(uint64_t victim, const std::vector<ListedPage>& listed,
                     const std::unordered_set<std::string>* paths, RegionWalk* out);
  // A page of the walked region that its reads keep: read region_keep_reads
  // times since written (region_main_keep_reads in a main region of two
  // FIFOs).
  bool read_enough(const RegionWalk& walk, const tensorlog::Location& loc) const;
  // What the walked region's choice would be now: *unread by region index
  // (not on paths, not read enough), *goes by forest index (an unread page
  // of the region, or below one).
  void region_fates(const RegionWalk& walk, const std::unordered_set<std::string>& paths, std::vector<bool>* unread,
                    std::vector<bool>* goes) const;
  Status evict_walked(const RegionWalk& walk, const std::unordered_set<std::string>& paths, RegionChoice* out);
  Status evict_region(const std::unordered_set<std::string>& paths, RegionChoice* out);
  Status copy_region(RegionChoice choice);
  Status region_round(const std::unordered_set<std::string>& paths, bool* acted);
  Status free_dead_segments();
  // REQUIRES: write_mu_ held (not collect_mu_). room: what the files may
  // hold besides the put; fill: see make_room.
  Status make_region_room(uint64_t room, uint64_t fill, const std::unordered_set<std::string>& paths, bool* acted);
  // The segment files as a put that appends `fill` bytes to the put head
  // counts them under region eviction: with the spare bytes it will not
  // fill (reused files, on disk), and, of a collection in flight, the
  // smaller of two counts, each leaving the files within the capacity's one
  // segment of slack: the files less its copies made so far (the slack is
  // theirs) but with the overhead of the head segment they may fill; or,
  // when its victim is one segment, the files less the victim and those
  // copies but with all its copies to be and that overhead (the slack is
  // the victim's: a put need not wait for a region's copy to use the
  // region's dead bytes). A preparation's move counts in full from the
  // start (moving_bytes_): its copies stay after it.
  uint64_t region_counted_bytes(uint64_t fill) const;
  // What the files grow by when `bytes` of records are appended to a head:
  // the records and the overhead of every segment they fill.
  uint64_t records_growth(uint64_t bytes) const;
  uint64_t put_room(uint64_t needed) const;
  Status maintain_region_once(uint64_t files_low, bool* acted);
  // ahead_of_fill: the small FIFO's next segment after promoted_upto_
  // (early_promotion_target), not the next region.
  Status prepare_region_once(bool* acted, bool ahead_of_fill = false);
  // The end of a background round whose copy is in copied_: puts go on
  // while the hook runs at `at`, then the copy is applied (unless a put that
  // needed room applied it first) and committed. REQUIRES: *c held, *w not;
  // so on return.
  Status apply_background_copy(std::unique_lock<std::mutex>* w, std::unique_lock<std::mutex>* c,
                               testing::RegionPoint at);
  // Whether the background should prepare the next region: the files
  // (file_bytes, as the caller read them) are past two segments below the
  // low mark files_low, and that region is not prepared yet. REQUIRES:
  // region eviction with a capacity.
  bool wants_preparation(uint64_t file_bytes, uint64_t files_low) const;
  // Promotion ahead of the fill (two FIFOs): while the files are below where
  // preparation starts and the small FIFO holds more than its share, the
  // background passes over its sealed segments, oldest first, moving the
  // pages read since to the main FIFO as their rounds would, a pass each
  // time the files have grown by kPromotionPassShare of the capacity, so
  // that the first regions to go do not copy everything read since the
  // store was empty in one burst. u: the log's usage as the caller read it.
  // REQUIRES: region eviction with a capacity.
  bool wants_early_promotion(const tensorlog::LogUsage& u, uint64_t files_low) const;
  // The next segment of the pass (0: the pass is done); whether the next
  // pass is due at file_bytes.
  uint64_t early_promotion_target() const;
  bool early_pass_due(uint64_t file_bytes) const;
  Status load_state();
  // The loader (kv_store.cc): what open leaves to the background.
  Status load_pages(engine::Iterator* snapshot, const tensorlog::Location& last);
  // Blocks until the loader is done; its Status. Everything that evicts,
  // collects or reads the LRU as a whole waits.
  Status wait_loaded();
  // Starts the loader on the snapshot load_state took (once).
  void start_loader();
  void stop_loader();
  // Recovery from damage: kv_store_recovery.cc. open_index opens the index
  // (unless a rebuild left it open)
  // (the tensor log is open), checks the "cfg" record against CONFIG and
  // loads the store's state; a Corruption from it is the index's.
  Status open_index(const engine::Options& eo);
  // After open_index failed with `damage` (or for a repair): fails, or moves
  // the index aside and rebuilds it, as opt_.on_corruption says.
  Status recover_index(const engine::Options& eo, const Status& damage);
  Status rebuild_index(const StoreConfig& cfg);
  StoreConfig current_config() const;  // REQUIRES: meta_mu_ held
  // Rewrites CONFIG when it differs from what the index holds.
  Status sync_config_file();
  // A page a get reads: its key, its prompt's first page (its LRU root) and
  // its depth.
  struct ReadPage {
    std::string key, root;
    size_t depth = 0;
  };
  // A read of a get failed: drops the pages whose records are damaged (and
  // their subtrees) and turns the failure into the get's answer.
  // REQUIRES: gc_mu_ not held.
  Status read_failed(const std::vector<tensorlog::ReadRequest>& reads, const std::vector<ReadPage>& pages,
                     const Status& s);
  // Drops page's subtree if its key still names the damaged record at loc;
  // *dropped: how many pages went. REQUIRES: write_mu_ held.
  Status drop_damaged_subtree(const ReadPage& page, const tensorlog::Location& loc, uint64_t* dropped);
  // A get found page `hole` of the prompt k missing below a stored page
  // (damage): drops the pages below the hole and answers NotFound.
  // REQUIRES: gc_mu_ not held.
  Status hole_found(NamespaceId ns, const PromptKeys& k, size_t hole);
  // Deletes every page walk_pages(prefix, depth_before) finds; root: their
  // LRU root. *dropped: how many. REQUIRES: write_mu_ held.
  Status drop_pages(std::string_view prefix, size_t depth_before, const std::string& root, uint64_t* dropped);
  // Reports dead every live tensor-log record not in referenced (the index's).
  // Records after `last` (written since the index snapshot) are not judged.
  Status mark_orphans_dead(std::vector<tensorlog::Location> referenced, const tensorlog::Location& last);
  // Calls fn(key, entry) for every page entry of the index whose key starts
  // with prefix (empty: all of them), in key order; entry is null when the
  // value does not decode. fn returns false to stop.
  Status for_each_page_entry(const std::function<bool(std::string_view key, const PageEntry* entry)>& fn,
                             std::string_view prefix = {});
  Status resolve_pending_collections();
  // Recency: microseconds of the wall clock, strictly increasing within the
  // process, so that a reopened store's new puts are newer than what it
  // holds without reading every entry first.
  uint64_t next_tick();
  void touch(const std::string& root);

  const StoreOptions opt_;
  const bool force_rebuild_;
  const bool segment_by_default_;  // StoreOptions::segment_bytes was 0: fit_segments_to may raise it
  uint32_t window_ = 0;   // the store's key_window_pages (prefix_key.h), set by open
  // The fingerprint test hook when the store was opened (test_hooks.h); empty: XXH3-64.
  const Fingerprinter fingerprint_ = testing::key_hooks().fingerprint;
  RepairReport repair_;   // set by open
  bool rebuilt_ = false;  // open rebuilt the index
  std::unique_ptr<engine::DB> index_;
  std::unique_ptr<tensorlog::TensorLog> log_;
  std::unique_ptr<tuner::Controller> tuner_;  // observes index_; created after it, destroyed before it; null read-only
  FileSystem* fs_ = nullptr;
  std::atomic<bool> closed_{true};
  bool reserve_held_ = false;  // guarded by write_mu_ (after open)

  std::mutex async_mu_;
  std::condition_variable async_cv_;
  size_t async_in_flight_ = 0;  // guarded by async_mu_
  bool closing_ = false;        // guarded by async_mu_

  std::mutex write_mu_;
  std::shared_mutex gc_mu_;
  // Taken around every acquisition of gc_mu_ so that a waiting GC commit
  // holds new readers back (pthread rwlocks prefer readers; a steady stream
  // of gets would starve the commit).
  std::mutex gc_gate_;
  mutable std::mutex meta_mu_;
  std::map<NamespaceId, KvLayout> layouts_;  // guarded by meta_mu_
  std::map<std::string, NamespaceId> names_;  // guarded by meta_mu_
  // Pages evicted unread from the small FIFO (two FIFOs only).
  mutable std::mutex ghost_mu_;
  GhostSet ghost_;  // guarded by ghost_mu_
  mutable std::mutex lru_mu_;
  SubtreeLru lru_;  // guarded by lru_mu_
  SegmentPages segment_pages_;  // lists_pages() only; thread-safe
  std::atomic<uint64_t> tick_{0};

  std::thread loader_;
  std::mutex load_mu_;
  std::condition_variable load_cv_;
  bool loaded_ = true;   // guarded by load_mu_
  Status load_status_;   // guarded by load_mu_
  std::atomic<bool> load_stop_{false};
  std::unique_ptr<engine::Iterator> load_snapshot_;  // taken by load_state, handed to the loader
  tensorlog::Location load_last_;

  struct Counters {
    std::atomic<uint64_t> hit_tokens{0}, miss_tokens{0}, hit_pages{0}, miss_pages{0};
    std::atomic<uint64_t> bytes_put{0}, bytes_got{0}, pages_put{0}, pages_evicted{0};
    std::atomic<uint64_t> evictions{0}, collisions{0}, gc_bytes_copied{0}, corrupt_pages_dropped{0};
    std::atomic<uint64_t> put_stalls{0}, put_stall_micros{0}, maintenance_rounds{0}, pages_readmitted{0};
  } counters_;
  LatencyHistogram put_latency_, probe_latency_, get_latency_;

  // Collections: one at a time. The maintainer copies under collect_mu_
  // alone and applies under write_mu_ + collect_mu_; whoever takes both
  // first applies it (copied_). Order: write_mu_ before collect_mu_.
  std::mutex collect_mu_;
  // Bumped by every change of the index but a put's (forget_records: every
  // eviction and drop; apply_collection): a background region walk that one
  // overtook is stale.
  std::atomic<uint64_t> index_epoch_{0};
  // While the background walks a region's pages: the prefixes every
  // put since extends, which the region's choice keeps. Guarded by write_mu_.
  std::optional<std::unordered_set<std::string>> walk_paths_;
  std::mutex walk_hook_mu_;
  std::function<void(testing::RegionPoint)> walk_hook_;  // testing::set_region_walk_hook; guarded by walk_hook_mu_
  void region_hook(testing::RegionPoint at) {
    std::lock_guard g(walk_hook_mu_);
    if (walk_hook_) walk_hook_(at);
  }
  // The region the background last prepared (prepare_region_once); 0: none.
  // Written under collect_mu_, read by puts (over_high_watermark).
  std::atomic<uint64_t> prepared_{0};
  // The newest small-FIFO segment the current pass of promotion ahead of
  // the fill has moved the read pages of (prepare_region_once); 0: none.
  std::atomic<uint64_t> promoted_upto_{0};
  // The files when the current pass began (under both locks).
  std::atomic<uint64_t> early_pass_files_{0};
  // What the preparation whose move is copied_ (or being copied) adds to
  // the files, records and segment overhead: set under both locks when it
  // starts, cleared when it is applied or fails. A move, unlike a region's
  // copy, frees nothing: counted from the start (region_counted_bytes), so
  // that a put admitted during it leaves the files within the capacity
  // after it, and the one segment of slack to the rounds' copies. Read by
  // puts under write_mu_ alone.
  std::atomic<uint64_t> moving_bytes_{0};
  std::optional<tensorlog::Collection> copied_;  // guarded by collect_mu_
  LocationKeys copied_keys_;                     // guarded by collect_mu_; copied_'s keys, when known
  // A collection that a put's own region round retired and left for the
  // background to commit (its old segment's file deleted: ~10 ms per 16 MiB
  // on our disks, with discard), so that the put waits for less. At most
  // one: whoever collects next commits it first (apply_copied, copy_region),
  // so the files exceed the counted bytes by that one segment at most.
  uint64_t retired_ = 0;  // guarded by collect_mu_; 0: none
  std::thread maintainer_;
  std::mutex maint_mu_;
  std::condition_variable maint_cv_;
  bool maint_stop_ = false;   // guarded by maint_mu_
  bool maint_wanted_ = false;  // guarded by maint_mu_

  // The stats writer thread (store_stats_file.cc).
  std::mutex stats_mu_;
  std::condition_variable stats_cv_;
  bool stats_stop_ = false;  // guarded by stats_mu_
  // Serializes writes of the stats file: the thread's and persist_stats()'s
  // (admin::persist_stats) would otherwise share its temporary file, and
  // one's rename could find it gone.
  std::mutex stats_file_mu_;
  std::thread stats_thread_;
};

}  // namespace lsm4kv::kvcache
