// TensorLog: the append-only log of KV tensors, the facade of tensorlog/.
//
// Key-value separation: the store's LSM index keeps small Locations, the big
// tensors live here in segment files of bounded size (record_format.h), so
// compaction never rewrites them and the file count stays bounded however
// large the cache grows. The log knows nothing of keys; a record carries an
// opaque tag (the store's: namespace, page index and digests) that every
// read compares.
//
// Writing: append() encodes a batch with the store's codec and writes it (a
// big one in chunks, pipelined through io_uring); the returned locations are
// durable when the sync mode says so (SegmentWriter). Reading: read() takes
// a batch of requests, reads them sorted and coalesced through io_uring
// (UringReader), verifies checksum and tag of every record (a mismatch is an
// error naming segment and offset; its bytes are never returned) and decodes
// into host memory or, through pinned staging buffers and cudaMemcpyAsync on
// the caller's stream, device memory.
// read_async() does the same on a worker thread and returns a handle.
//
// Garbage collection: the caller reports dead records (mark_dead, persisted
// in DEAD.log; defer_dead when its forgetting is not durable yet).
// collect() rewrites the live records of mostly-dead segments and of small
// segments into the active one, durably, and returns a Collection: (old ->
// new) locations. The caller updates its index, makes that durable (itself,
// or in its before_reclaim hook, which every commit calls first), then calls
// commit_collection(), which deletes the old segments (retire_collection()
// first, where readers must be kept out: the part that makes old locations
// unreadable, in memory only). Until then both copies exist, and the
// Collection is journaled (GC-<id>.pending): after a crash
// pending_collections() lists it and the caller commits (its index has the
// new locations) or aborts (it has the old ones). A crash at any point loses
// no live record. Reads of an old location after commit get
// NotFound, so a store keeps readers of a location out while it commits.
//
// Read-only (TensorLogOptions::read_only, for inspection tools): open
// writes nothing to the directory — no LOCK file is created (an existing one
// is locked, so a live writer is detected as Busy), torn tails are not cut,
// unsealed segments are not sealed, segments with a zeroed header are left
// alone (and not listed), DEAD.log is replayed but not rewritten, no segment
// is created. Reads work; mark_dead() marks in memory only; append, sync,
// collect and commit/abort return NotSupported.
//
// Reused files (TensorLogOptions::reuse_files_within > 0). Deleting a
// segment's file frees its blocks, and on a disk mounted with discard that
// costs as much device time as writing a fifth of them (measured: 16 MiB
// files written at 0.48 GB/s with the oldest unlinked, 0.58 GB/s reusing
// it). So a commit keeps one collected segment's file as the spare, and the
// kPut head's next segment takes it: renamed to the new segment's name and
// written over from its start (FileSystem::reuse_direct_writable), the
// sealed segment cut to its end. The put head turns to a waiting spare as
// soon as its own segment would grow its file, so that its writes fill
// blocks the disk has before new ones. What a reused file holds past its new
// records is the old segment's, whose checksums name the old id
// (record_format.h, "Reused files"): never taken for records. A spare is on
// disk and counted (LogUsage::spare_bytes); it is kept only while the
// segment files and spares stay within reuse_files_within, and deleted by
// close() or drop_spare(). After a crash a spare is an old segment again,
// whose records nothing references. A spare is not written over while a
// read that resolved its old segment before the retirement may still read
// it (Spare::file). The store turns reuse on under region eviction with a
// capacity of 16 segments or more (kvcache_api/kv_store_impl.h).
//
// INVARIANT: segment ids are never reused: GC output always goes to a segment
// newer than its victims, so the newest segment is never deleted.
//
// Thread-safety: all methods may be called concurrently from many threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "tensorlog/codec.h"
#include "tensorlog/gc_planner.h"
#include "tensorlog/pinned_pool.h"
#include "tensorlog/record_format.h"
#include "tensorlog/segment.h"
#include "tensorlog/segment_writer.h"
#include "tensorlog/uring_reader.h"

namespace lsm4kv::tensorlog {

class DeadLog;

// The log has two heads, each with its own active segment, so that records
// of different expected lifetimes fill different segments (and a segment's
// records leave together): kPut takes new records, kKept the copies of
// collections (records that outlived their first segment; unless
// TensorLogOptions::copy_head says otherwise) and whatever the
// caller appends there as likely to live long (a store's readmitted pages).
// Which head a segment was written by is known in memory only: segments
// recovered at open are counted as kKept.
enum class Head : uint8_t { kPut = 0, kKept = 1 };

struct TensorLogOptions {
  // Writes, renames and removals go through it (tests inject faults); reads
  // use their own O_DIRECT descriptors.
  FileSystem* fs = FileSystem::posix();
  // Segments are rotated before they pass this size (a single larger record
  // gets a segment of its own).
  uint64_t segment_size = uint64_t{256} << 20;
  // The codec of new records; any codec is read back.
  Codec codec = Codec::kNone;
  // kPerBatch: append() returns after fdatasync. kGroupCommit: concurrent
  // appends share one. kNone: durable only after sync() or segment rotation.
  SyncMode sync = SyncMode::kPerBatch;
  // Reads and writes segments with O_DIRECT (falling back to buffered I/O
  // where refused; writes only when fs is FileSystem::posix()).
  bool direct_io = true;
  // Queue depth, staging arena and read sizes of each reader.
  UringReaderOptions reader;
  // Concurrent read batches; more wait for a reader.
  unsigned max_readers = 4;
  // Worker threads of read_async.
  unsigned async_threads = 2;
  // Stage through cudaHostAlloc memory when a CUDA device is present.
  bool use_cuda = true;
  // Open for inspection only: write nothing to the directory (see above).
  bool read_only = false;
  // Where collections copy their records: kKept keeps the survivors out of
  // the new records' segments; kPut is one head for all (a caller that
  // never appends to kKept then has one active segment).
  Head copy_head = Head::kKept;
  // Keep collected segments' files for the put head to reuse (see "Reused
  // files" above) while LogUsage::file_bytes + spare_bytes stay within this
  // many bytes; 0 deletes them. Only with a FileSystem that can reuse files.
  uint64_t reuse_files_within = 0;
};

enum class MemoryKind : uint8_t { kHost = 0, kDevice = 1 };

// One record to read. `dst` receives exactly `size` bytes, which must be the
// record's raw (decoded) length; `tag` must equal the record's tag.
struct ReadRequest {
  Location location;
  std::string_view tag;
  void* dst = nullptr;
  size_t size = 0;
  MemoryKind memory = MemoryKind::kHost;
  // Host memory only: when not empty, the destination is these slices in
  // order (their sizes sum to `size`; `dst` is unused).
  std::span<const IoSlice> dst_slices;
  // Out: OK, Corruption (checksum; names segment and offset), TagMismatch
  // (a sound record of another key),
  // NotFound (segment collected), InvalidArgument (wrong size) or IOError.
  Status status;
};

struct ReadOptions {
  // The cudaStream_t device copies go to; the read returns (or its handle
  // completes) once they are done.
  void* cuda_stream = nullptr;
};

// The result of read_async(). wait() may be called once or many times.
class ReadHandle {
 public:
  ReadHandle() = default;
  // Blocks until the read is done; the first failing request's status.
  Status wait();
  bool ready() const;
  // The requests with their statuses; valid after wait().
  const std::vector<ReadRequest>& requests() const;

 private:
  friend class TensorLog;
  struct State;
  std::shared_ptr<State> state_;
};

struct SegmentInfo {
  uint64_t id = 0;
  uint64_t file_bytes = 0;
  uint64_t live_bytes = 0;  // allocated bytes (allocated_bytes()) of live records
  uint64_t dead_bytes = 0;
  uint64_t records = 0;
  uint64_t live_records = 0;
  bool sealed = false;
  bool active = false;
  // Read-only open: bytes after the last complete record of an unsealed
  // segment (a torn tail), which a writable open cuts off.
  uint64_t torn_bytes = 0;
};

// Totals over all segments (what segments() sums), without per-record work.
struct LogUsage {
  uint64_t segments = 0;
  uint64_t file_bytes = 0;         // the segment files on disk
  uint64_t live_bytes = 0;         // allocated bytes (allocated_bytes()) of live records
  uint64_t dead_bytes = 0;
  // Of dead_bytes, those in the active segment: no collection can reclaim
  // them until the segment is sealed.
  uint64_t active_dead_bytes = 0;
  // Of file_bytes, the records that collections in progress or pending have
  // copied: on disk twice until the collection commits (its segments go) or
  // aborts.
  uint64_t copying_bytes = 0;
  // Of file_bytes, the segments that collect()s in progress or pending (not
  // retired yet) will delete, and the allocated bytes of the live records
  // they copy out of them, copied yet or not: what those segments leave on
  // disk once their collections commit. A caller that bounds the files may
  // count a victim's copies in place of it, the victim in its slack.
  uint64_t victim_bytes = 0, victim_planned_bytes = 0;
  // Not of file_bytes: the files of retired segments whose collections have
  // not committed yet (retire_collection), on disk until the commit deletes
  // them or keeps one as the spare.
  uint64_t retired_bytes = 0;
  // Of file_bytes, the segments written by Head::kPut.
  uint64_t put_head_bytes = 0;
  // RAM of the per-record tables (offset, length, liveness of every record).
  uint64_t table_bytes = 0;
  // Bytes on disk beyond file_bytes: the spare file and what a reused active
  // segment's file holds past its records ("Reused files" above).
  uint64_t spare_bytes = 0;
};

struct Relocation {
  Location from;
  Location to;
};

struct Collection {
  uint64_t id = 0;
  std::vector<uint64_t> segments;        // deleted by commit_collection
  std::vector<Relocation> relocations;  // every live record of those segments
  std::vector<Location> lost;           // live records that failed verification
  uint64_t copied_bytes = 0;            // allocated bytes of the copies (not journaled)
  bool retired = false;                  // retire_collection() ran (not journaled)
  // Until it is retired, a collect()'s: its segments' file bytes and the
  // allocated bytes of the live records it copies out of them, copied yet
  // or not (LogUsage::victim_bytes; not journaled).
  uint64_t victim_bytes = 0, planned_bytes = 0;
  // Records it marked dead (copies of records dead since the copy, and
  // move_records' originals), for DEAD.log at commit.
  std::vector<Location> retired_dead;
};

class TensorLog {
 public:
  // Opens (creating if needed) the log in dir: recovers unsealed segments
  // (torn tails are cut after the last complete record), replays DEAD.log and
  // loads pending collections.
  static Status open(const std::string& dir, const TensorLogOptions& options,
                     std::unique_ptr<TensorLog>* out);
  ~TensorLog();
  TensorLog(const TensorLog&) = delete;
  TensorLog& operator=(const TensorLog&) = delete;

  // Appends a batch; *locations gets one Location per record, in order. On
  // error nothing of the batch is visible and *locations is empty. A batch of
  // more than 16 MiB (encoded) is encoded and written in chunks, several in
  // flight while the next is encoded (SegmentWriter::append_chunked); it is
  // still one batch: a failure in any chunk cuts the segments back to where
  // they were before it, and a durable sync mode syncs it once, at its end.
  Status append(std::span<const RecordInput> records, std::vector<Location>* locations,
                Head head = Head::kPut);
  // Makes every appended record durable (for SyncMode::kNone).
  Status sync();

  // Reads a batch; fills every request's status and returns the first error
  // (in request order). A device request without a CUDA device fails the
  // whole batch with NotSupported before any read.
  Status read(std::span<ReadRequest> requests, const ReadOptions& options = {});
  // Makes the first read's reader ahead of it (its staging arena allocated,
  // faulted in and registered with io_uring: 0.1-0.3 s for 64 MiB), so that
  // the first read does not wait for it. A no-op when one is idle already.
  Status warm_reader();
  // The same on a worker thread; every dst must stay valid until wait().
  ReadHandle read_async(std::vector<ReadRequest> requests, const ReadOptions& options = {});

  // Reports records the caller no longer references. Unknown locations
  // (already collected) are ignored.
  Status mark_dead(std::span<const Location> locations);
  // The same, from a caller whose forgetting of them is not durable yet (an
  // unsynced index write): they are dead in memory now (usage, collect), and
  // go to DEAD.log only after the before_reclaim hook has returned OK, at
  // the next commit_collection or settle_dead. A crash before that keeps
  // them live, as the caller's reference may be back; one after the hook
  // but before DEAD.log has them leaves records nothing references, which
  // the caller finds at open (as it does a put's whose index write was lost).
  void defer_dead(std::span<const Location> locations);
  // Called by every commit_collection before it writes DEAD.log or deletes
  // or reuses a file, and by settle_dead: makes the caller's last writes
  // that stopped referencing records (evictions, relocations) durable, so
  // that no reference can come back to what goes. Unset: nothing to do.
  // Set once, before the log is shared between threads.
  void set_before_reclaim(std::function<Status()> hook) { before_reclaim_ = std::move(hook); }
  // The hook, then the deferred marks to DEAD.log (with `more`, durably).
  // Commit does it; a caller also does before it closes.
  Status settle_dead(std::span<const Location> more = {});
  // Marks records read since they were written (a cache hit): region
  // eviction keeps them and evicts the others. Kept in memory, saved by
  // close() and restored by open (read_counts.h); a copy (GC) starts
  // unmarked. Unknown locations are ignored.
  void mark_read(std::span<const Location> locations);
  // How often the record was read since written (saturating at
  // RecordTable::kMaxReads); 0 for an unknown location.
  uint32_t reads(const Location& location) const;
  // The oldest sealed segment no collection holds (the head of the FIFO that
  // region eviction takes), or 0; of one head's segments when it is given;
  // of those after segment `after` when it is not 0.
  uint64_t oldest_collectable_segment(std::optional<Head> head = std::nullopt, uint64_t after = 0) const;
  // The head that wrote the segment (kKept for one recovered at open or
  // unknown).
  Head segment_head(uint64_t id) const;

  // Rewrites the live records of the segments the planner picks. *out is
  // empty (id 0) when there is nothing to do.
  Status collect(const CollectOptions& options, Collection* out);
  // A collection of chosen records, not of segments: copies those of
  // `records` still live (in sealed segments no collection holds) to the
  // copy head, journaled as any collection's copies, and leaves their
  // segments in place; retire_collection() marks the originals dead, so a
  // segment's other records can go with it later without a copy (region
  // eviction prepares its next region so: kvcache_api/kv_store_region.cc).
  // Commit and abort as for collect(). *out is empty (id 0) when none is
  // live; InvalidArgument for a record of the active segment or of one in a
  // collection.
  Status move_records(std::span<const Location> records, Collection* out);
  // Deletes the collected segments; call after the index is durably updated.
  // Retires them first unless retire_collection() did. With may_keep_spare,
  // the first one's file stays as the spare when would_keep_spare() says so
  // ("Reused files"): the caller makes sure no append is in flight, so that
  // file_bytes is exact.
  Status commit_collection(uint64_t id, bool may_keep_spare = false);
  // The first step of commit_collection on its own: retires collection id
  // and makes the caller's reference changes and its records' dead marks
  // durable (before_reclaim, then DEAD.log), so that the commit after does
  // only what is left (deferred marks since, the files, the journal). Lets
  // a caller take the syncs out of a lock that the commit needs. A
  // collection that only moved records settles at its commit (its marks
  // wait for its journal to go).
  Status settle_collection(uint64_t id);
  // Whether committing collection id may keep a file: reuse is on, no spare
  // waits, and the files and spares would stay within reuse_files_within.
  bool would_keep_spare(uint64_t id) const;
  // Segments begun from now on hold `bytes` (bigger pages came:
  // kvcache_api's StoreOptions::segment_bytes), and reuse_files_within
  // becomes this (0: off). Segments written before keep their size.
  void resize_segments(uint64_t bytes, uint64_t reuse_files_within);
  uint64_t segment_size() const { return segment_size_.load(std::memory_order_relaxed); }
  // The in-memory part of a commit: the collected segments leave the table
  // (reads of their locations get NotFound; a read that resolved them
  // earlier finishes), copies of records reported dead since the copy are
  // marked dead. Nothing on disk changes: after a crash the collection is
  // still pending. Idempotent; abort is refused afterwards.
  Status retire_collection(uint64_t id);
  // Segments with no live record go without any copying: their collection
  // (first, alone) has no relocations and no journal, and commit deletes
  // them, so GC frees space on a full disk before it needs any.
  // Forgets a collection whose relocations the caller did not apply: the
  // new copies become dead. Refused once commit has started deleting.
  Status abort_collection(uint64_t id);
  // Collections neither committed nor aborted (also from before a crash).
  std::vector<Collection> pending_collections() const;

  std::vector<SegmentInfo> segments() const;
  LogUsage usage() const;
  // Of LogUsage::spare_bytes, what appends of `put_bytes` to the put head
  // write over before any file grows: its reused active segment below the
  // segment size, then the spare ("Reused files" above; no other head
  // reuses files).
  uint64_t spare_filled_by(uint64_t put_bytes) const;
  // Deletes the spare file, if one waits; false when none did.
  Status drop_spare(bool* dropped);
  // Every record not reported dead, in (segment, offset) order: a caller
  // reconciles its references with them (a crash between an append and the
  // caller's record of it leaves records nothing references) and reports the
  // unreferenced ones dead.
  std::vector<Location> live_records() const;
  // The last record written, by (segment, offset), dead or alive (a zero
  // Location when there is none): every record appended later comes after
  // it (collections, which write new segments, included).
  Location last_record() const;
  // Reads and verifies every live record (not reported dead), segment by
  // segment in offset order (scan_segment): valid data records go to
  // `valid` with their tag, damaged ones to `damaged` with why. For repair
  // (the store rebuilds its index from the tags); it reads the whole log.
  // Records appended or collected meanwhile may or may not be seen.
  Status scan(const ScanVisitor& valid, const DamageVisitor& damaged);
  const std::string& dir() const { return dir_; }
  bool read_only() const { return options_.read_only; }
  // Seals the active segment and stops the async workers.
  Status close();

 private:
  // settle_collection's and commit_collection's first step (collector.cc).
  Status settle_retired(uint64_t id, const char* what, bool sync_move, Collection* out);
  class Catalog;
  struct ReadJob;
  TensorLog(std::string dir, const TensorLogOptions& options);
  Status recover();
  Status load_journals(const std::vector<std::string>& names);
  Status acquire_reader(std::unique_ptr<UringReader>* out);
  void release_reader(std::unique_ptr<UringReader> r);
  Status read_records(std::span<ReadRequest> requests, const ReadOptions& options);
  Status copy_live(const std::vector<ReadExtent>& extents, Collection* out);
  Status write_journal(const Collection& c);
  // copy_live, then the journal; pending once both are durable. On failure
  // the copies are dead and *out is empty.
  Status copy_and_journal(const std::vector<ReadExtent>& extents, Collection* out);
  std::string journal_name(uint64_t id) const;
  void async_worker();
  bool mark_dead_locked(const Location& loc);
  // Busy while a collection is pending: collections run one at a time.
  Status check_none_pending_locked() const;
  // The table holding loc's record and its index there, or {nullptr, kNone};
  // for changing its marks. REQUIRES: mu_ held.
  std::pair<RecordTable*, size_t> find_record_locked(const Location& loc);
  // A sealed segment no collection holds: what collect() may take.
  // REQUIRES: mu_ held.
  bool collectable_locked(uint64_t id, const SegmentRecords& s) const {
    return s.sealed && !s.active && !collecting_.contains(id);
  }
  Status check_writable(const char* what) const;

  const std::string dir_;
  const TensorLogOptions options_;
  // options_.segment_size and reuse_files_within, until resize_segments().
  std::atomic<uint64_t> segment_size_, reuse_files_within_;
  std::unique_ptr<FileLock> lock_;
  PinnedPool pool_;
  std::unique_ptr<Catalog> catalogs_[2];        // by Head
  std::unique_ptr<SegmentWriter> writers_[2];  // by Head
  SegmentWriter* writer(Head head) const { return writers_[static_cast<int>(head)].get(); }
  std::unique_ptr<DeadLog> dead_log_;
  std::function<Status()> before_reclaim_;
  std::vector<Location> deferred_dead_;  // defer_dead's marks not in DEAD.log yet; guarded by mu_

  mutable std::mutex mu_;
  std::map<uint64_t, SegmentRecords> segments_;       // guarded by mu_
  uint64_t next_segment_id_ = 1;                      // guarded by mu_
  // The collected segment whose file waits to be reused ("Reused files"):
  // its old id and file size. Guarded by mu_; spare_ready_ mirrors it.
  struct Spare {
    uint64_t id = 0;
    uint64_t bytes = 0;
    // Its reading side: a read that resolved a location of the old segment
    // before it was retired may still hold it, and must not see new bytes.
    // Taken only once expired.
    std::weak_ptr<SegmentFile> file;
  };
  std::optional<Spare> spare_;
  std::atomic<bool> spare_ready_{false};
  // Retired segments' reading sides and file sizes (LogUsage::retired_bytes),
  // until their collection commits.
  struct RetiredFile {
    std::weak_ptr<SegmentFile> file;
    uint64_t bytes = 0;
  };
  std::map<uint64_t, RetiredFile> retired_files_;  // guarded by mu_
  // Whether the spare may be written over now (no reader holds it).
  bool spare_free();
  std::map<uint64_t, Collection> pending_;           // guarded by mu_
  std::map<uint64_t, bool> collecting_;               // segments in a collect; guarded by mu_
  uint64_t copying_bytes_ = 0;                        // LogUsage::copying_bytes; guarded by mu_
  uint64_t victim_bytes_ = 0, victim_planned_bytes_ = 0;  // LogUsage's; guarded by mu_
  // Takes c's victim and planned bytes out of the totals (once).
  void release_victims_locked(Collection* c);
  uint64_t next_collection_id_ = 1;                   // guarded by mu_

  // The buffers collections copy through, kept from one chunk and one
  // collection to the next: a fresh one costs a page fault per 4 KiB (82 ms
  // per 16 MiB on our VMs, 5x the read and write it serves). Two: a copy's
  // chunk being appended and the next one, being read meanwhile; each at
  // most about one copy chunk (collector.cc) plus one record.
  std::mutex copy_mu_;
  EncodedBatch copy_batches_[2];  // guarded by copy_mu_
  struct CopyChunk;
  // Reads c's extents into c->batch, laid out from block offset tail.
  void read_copy_chunk(CopyChunk* c, uint64_t tail);

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<UringReader>> idle_readers_;  // guarded by readers_mu_
  // Idle readers let go of segments that left the table (before their files
  // are deleted, so that the deletion's cost is the deleter's).
  void drop_dead_reader_files();
  unsigned readers_created_ = 0;                            // guarded by readers_mu_

  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::vector<std::shared_ptr<ReadJob>> jobs_;  // guarded by jobs_mu_
  bool stopping_ = false;                       // guarded by jobs_mu_
  std::vector<std::thread> workers_;
  bool closed_ = false;
};

}  // namespace lsm4kv::tensorlog
