// lsm4kv — the disk tier for the KV cache of LLM serving.
//
// A KvStore keeps the KV tensors of prompt prefixes on local SSD so that a
// request whose prompt shares a prefix with an earlier one loads that prefix
// instead of recomputing it. Three primitives (SGLang-LSM, section 3.2):
//
//   KvStore::open(options, &store)
//   store->register_namespace("llama3-8b", layout, &ns)      // once per model/tenant
//   store->put_batch(ns, tokens, KvBuffer::host(kv, bytes))  // after prefill
//   size_t cached = 0;
//   store->probe(ns, tokens, &cached)                        // longest cached prefix, in tokens
//   store->get_batch(ns, tokens, cached, KvBuffer::host(dst, cached * bpt))
//
// Data model. Tokens are grouped in pages of `page_tokens` (default 64); only
// whole pages are stored. A page's key has a size independent of its depth:
// the namespace id, the 128-bit chained digest of the prompt before the
// page's window of key_window_pages pages, and one 64-bit fingerprint (XXH3)
// of each page of the window up to this one (prefix_key.h). Within a window
// the key of a prefix is a byte-prefix of its extensions' keys. The stored
// key set is kept prefix-closed (every stored page's ancestors are stored:
// puts store from the first missing page, every removal takes the pages
// below), so probe is a binary search over windows with Bloom-filtered
// point lookups and one seek inside the last window. A page's tensor record
// carries a 46-byte tag: the namespace, the page index, the 128-bit chained
// digests of the prompt before and through the page, and the page's
// fingerprint; every get compares it, so a fingerprint collision or a torn
// write becomes a miss, never another prompt's KV (a collision of the
// chained XXH3-128 digest is the one case not caught: prefix_key.h). The tags name each page's parent, so
// the index can be rebuilt from the tensor log alone
// (StoreOptions::on_corruption, KvStore::repair). A get that finds a page
// missing below one that is stored (a hole: the key set is not
// prefix-closed, which only damage causes) returns NotFound and drops the
// pages below the hole, as it does for a damaged record.
//
// KV bytes. bytes_per_token = 2 (K and V) · layers · kv_heads · head_dim ·
// dtype size (or, for an opaque namespace, the bytes it was declared with:
// its pages are byte blobs, page_tokens · bytes_per_token each). The PAGE-MAJOR layout of a prompt's KV is token after token; each
// token holds, layer after layer, its K then its V, each [kv_heads][head_dim]:
//   offset(token t, layer l, kv k∈{0 = K, 1 = V}, head h, dim d) =
//     ((t · layers + l) · 2 + k) · kv_heads · head_dim + h · head_dim + d   (× dtype size)
// The PER-LAYER form is what GPU KV pools hold: for each layer a K and a V
// buffer whose row i (token i of the request) is kv_heads · head_dim elements
// and rows are `row_stride` bytes apart. Device pointers (CUDA) are accepted
// for get_batch destinations and put_batch sources when a GPU is present;
// without one they get NotSupported.
//
// Capacity. capacity_bytes bounds the tensor log's segment files on disk
// (StoreStats::tensor_file_bytes: records live and dead, segment headers and
// seals), not only the bytes the index references. At every moment they are
// at most capacity_bytes + segment_bytes: a put makes room for itself within
// the capacity, and the one segment of slack is for a collection that copies
// while puts go on (the live records it moves, at most one segment's worth,
// are on disk twice until it commits; under kRegion a region's collection
// counts all its copies to be in place of the region's file, which takes
// the slack, so that a put uses the region's dead bytes without waiting
// for the copy: tensorlog's LogUsage::victim_bytes), or for the file of a
// region that a put took itself under kRegion, which it leaves to the
// background thread to delete (deleting a 16 MiB file takes ~10 ms with
// discard; what that file holds past one segment, its header and seal,
// counts: LogUsage::retired_bytes); the next collection deletes it first,
// so the two never add up.
// Dead records of the active segment count, though none can be reclaimed
// before it is sealed.
// Under kRegion a committed region's file is not deleted but kept for the
// next put segment to write over (tensorlog/tensor_log.h, "Reused files":
// deleting costs a discard as long as a fifth of writing it), while the
// files and it fit in the capacity; it and the part of a reused file past
// its records count (StoreStats::tensor_spare_bytes), and a put counts
// them less what its own pages will fill of them. The file is kept only by
// a commit made under the write lock, where no put is in flight.
// Two rules make room (StoreOptions::eviction):
//   - kRegion (the default), as flash caches do it (CacheLib's BlockCache):
//     eviction and GC are one step over whole segments, oldest first. A put
//     that would take the files past the capacity first takes the oldest
//     sealed segment: its pages read at least region_keep_reads times since
//     they were written (and the prefixes the put extends) are copied to the
//     head of the log, the others are evicted with every page below them
//     (a page whose ancestor is gone is garbage), and the segment is deleted;
//     then the next oldest, until the files and the put fit. Live data fills
//     the capacity (no GC headroom; gc_headroom is not used), nothing else is
//     ever copied, and pages are judged one by one by their own reads. A page
//     is read whenever a page below it is, so a kept page never loses an
//     ancestor. Read counts live in memory and are saved by a clean close
//     (tensorlog/read_counts.h); a crash forgets them (the log's order,
//     recency as of each page's last copy, survives either way).
//     With region_small_share > 0 (the default) and a capacity of 4
//     segments or more, the log is two FIFOs, as in S3-FIFO (Yang et al.,
//     SOSP '23): new pages go to segments of their own (the small FIFO),
//     whose regions go first while they hold more than region_small_share
//     of the capacity; a page read there is copied to the main FIFO, the
//     others are evicted and remembered (by a hash, for a capacity's worth
//     of bytes and 2^20 pages at most): a put of one of them stores it in
//     the main FIFO directly (StoreStats::pages_readmitted). A main region
//     keeps the pages read region_main_keep_reads times in their pass.
//     One-time pages so leave after a short pass instead of a whole one,
//     and the pages that are reused keep the room (bench/RESULTS.md, "Two
//     FIFOs"). Which FIFO a segment belongs to is known in memory only:
//     after a restart every segment counts as main.
//     A round finds its segment's pages in a list kept in memory for each
//     segment (~60-90 bytes a page, in MemoryUsage::eviction; rebuilt at
//     open from the index), so that its cost follows the segment, not the
//     store.
//   - kSubtreeLru, the classic log-structured rule with GC headroom:
//     a put that would take the live bytes (those the index
//     references) past (1 - gc_headroom) x capacity_bytes first evicts the
//     least recently used prefix subtrees (by their first page; recency is
//     the last put or get, and survives restarts as write order), with one
//     range deletion each, keeping the key set prefix-closed, until the live
//     bytes and the put fit with 5% of the capacity to spare. A subtree more
//     than 4x what is left to free, or one the put extends (a system prompt
//     every request starts with makes the whole cache one subtree), loses
//     only its oldest branches (by the newest put in each; branch_eviction.h),
//     never the prefixes the put extends; a put that would take the files
//     past the capacity first collects the segments with the lowest live
//     ratio, until they fit with 5% of the capacity to spare. Live data is at
//     most (1 - gc_headroom) of the capacity, in exchange for collections of
//     mostly dead segments (bench/RESULTS.md, "Capacity: region eviction",
//     compares the two).
// A put whose own prefix paths leave no room gets NoSpace.
// Background maintenance (maintenance_room > 0) does the same work ahead of
// need: a thread wakes when the files pass (1 - room/2) x capacity (or, under
// kSubtreeLru, the live bytes (1 - room/2) x the live limit), and evicts and
// collects (one region or collection at a time, letting puts in between, the
// copy without the write lock) down to (1 - room) of each (room:
// maintenance_room, or less where maintenance_room_max_bytes bounds it).
// Under kRegion, from two segments below that low mark it also prepares the
// region that goes next: the pages that would stay if it went now are moved
// out of it ahead of time (copied to the main FIFO, their old copies dead),
// so that the round that takes it, the background's or a put's, copies only
// what was read or extended since. A move frees nothing until its region
// goes, so it takes only what fits below the high mark (the room stays the
// puts'); the round copies the rest. Further below (a store still filling)
// and with two FIFOs, it promotes ahead of the fill: pass after pass over
// the small FIFO's sealed segments (a pass each time the files have grown by
// a 16th of the capacity), it moves the pages read since the last pass to
// the main FIFO, as their regions' rounds would, so that the first regions
// to go do not copy everything read since the store was empty at once (the
// demo's first evicting stage: bench/RESULTS.md, twenty-first step of
// issue 12).
// A put that still finds no room makes it
// itself, as above, or waits for the copy in flight: StoreStats::put_stalls
// counts those puts and their time. The bounds above hold at every moment,
// whichever thread does the work. A smaller room holds more pages (under
// kRegion the files run between the marks) at the price of more puts that
// wait: at 137 MiB of the trace bench (~0.7 MiB a put) 0.01 held ~3 MiB
// more pages than 0.05 (hit rate 0.263 against 0.253) but took the put p99
// from 1.8x the unbounded one to 2.3x; in the demo (~22 MiB a put into
// 128 MiB regions) it slowed the evicting puts to 0.77-0.86x of the others
// (bench/RESULTS.md, "Prepared regions").
//
// Durability. A put appends the tensors first (durably, per sync), then
// writes the index entries as one atomic batch: after a crash an index entry
// never points at a payload that is not there. Region eviction's evictions
// and every collection's relocations go to the index unsynced, and the
// tensor log deletes or reuses no segment file before the index is synced
// (its before_reclaim hook, DB::sync_wal): a crash may bring evicted pages
// back, or undo a collection (its journal), never leave an entry whose
// record is gone. The next synced put makes them durable too.
//
// Full disk. A file DIR/RESERVE of reserve_bytes is kept so that eviction
// and GC can run when the disk is full: when one of their writes gets
// NoSpace, the file is deleted and the step runs once more; once space is
// back (at the end of that step, or at the next evict_to / collect_garbage
// / open) it is re-created. Segments without a live record are deleted
// before anything is copied, so eviction frees space before it needs any.
// Puts never use the reserve: on a full disk they get NoSpace, and
// evict_to() makes room. Open works on a full disk.
//
// Errors are Status values; bad input (sub-page or empty token lists, a
// buffer of the wrong size, null pointers, an unknown namespace, n beyond the
// cached prefix) changes nothing. Options are checked at open and layouts at
// register_namespace: an out-of-range value is InvalidArgument naming the
// field. After close() every call returns InvalidArgument.
//
// Thread-safety: every method may be called concurrently from many threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Only base/ and the standard library: the store's own value types.
#include "base/codec_id.h"
#include "base/file_system.h"
#include "base/io_slice.h"
#include "base/lsm_shape.h"
#include "base/status.h"
#include "base/sync_mode.h"

namespace lsm4kv::kvcache {

using Token = int32_t;

enum class DType : uint8_t { kF16 = 0, kBF16 = 1, kF32 = 2, kFP8 = 3 };
size_t dtype_size(DType d);

// register_namespace takes a layout whose fields are all > 0, dtype one of
// DType, and bytes_per_token() * page_tokens (a page's record) at most
// kMaxPageBytes, computed without overflow. Or an OPAQUE layout, declared by
// its bytes per token alone (KvLayout::opaque): for pages the caller does
// not describe as layers x heads x dims (SGLang's host pool pages, MLA
// latents, quantized KV with scales); layers, kv_heads and head_dim are then
// 0, and per-layer buffers are refused (there are no layers to split by).
struct KvLayout {
  uint32_t layers = 0;
  uint32_t kv_heads = 0;
  uint32_t head_dim = 0;
  DType dtype = DType::kBF16;
  uint32_t opaque_bytes_per_token = 0;  // > 0: an opaque layout

  static KvLayout opaque(uint32_t bytes_per_token) {
    KvLayout l;
    l.opaque_bytes_per_token = bytes_per_token;
    return l;
  }
  bool is_opaque() const { return opaque_bytes_per_token > 0; }
  size_t bytes_per_token() const {
    if (is_opaque()) return opaque_bytes_per_token;
    return size_t{2} * layers * kv_heads * head_dim * dtype_size(dtype);
  }
  bool operator==(const KvLayout&) const = default;
};

// Where a put reads KV bytes from, or a get writes them to.
struct KvBuffer {
  enum class Kind : uint8_t { kHostPageMajor, kHostPerLayer, kDevicePageMajor };
  Kind kind = Kind::kHostPageMajor;
  void* data = nullptr;  // page-major: the first token's bytes
  size_t size = 0;       // page-major: bytes available at data
  // Per-layer: k[l] and v[l] point at row 0 (token 0 of the request) of layer
  // l; rows are row_stride bytes apart (>= kv_heads · head_dim · dtype size).
  std::vector<void*> k, v;
  size_t row_stride = 0;
  void* cuda_stream = nullptr;  // device copies go to this cudaStream_t

  static KvBuffer host(void* data, size_t size) { return {Kind::kHostPageMajor, data, size, {}, {}, 0, nullptr}; }
  static KvBuffer host(const void* data, size_t size) { return host(const_cast<void*>(data), size); }
  static KvBuffer per_layer(std::vector<void*> k, std::vector<void*> v, size_t row_stride) {
    return {Kind::kHostPerLayer, nullptr, 0, std::move(k), std::move(v), row_stride, nullptr};
  }
  static KvBuffer device(void* data, size_t size, void* stream = nullptr) {
    return {Kind::kDevicePageMajor, data, size, {}, {}, 0, stream};
  }
};

// Whether KvBuffer::device buffers work in this process: the library was
// built with the CUDA runtime and a device answers. Decided once per
// process (a child forked after that sees none: CUDA does not survive
// fork()). When false, *why (if given) says why, as the NotSupported that a
// device buffer then gets does.
bool device_available(std::string* why = nullptr);

enum class ProbeStrategy : uint8_t {
  // Binary search over the windows (point lookups of their last pages), then
  // one predecessor seek inside the first window not wholly stored.
  kSeek = 0,
  // The paper's: binary search over the pages with Bloom-filtered point
  // lookups. Both rely on the key set being prefix-closed.
  kBinarySearch = 1,
};

using ::lsm4kv::SyncMode;  // base/sync_mode.h: kNone, kPerBatch, kGroupCommit

// How a store under a capacity makes room (see Capacity).
enum class EvictionPolicy : uint8_t {
  kRegion = 0,      // the oldest segment goes; its pages read since written are copied forward
  kSubtreeLru = 1,  // least recently used prefix subtrees, GC of the emptiest segments, gc_headroom
};

// What open does with an index it cannot read (a damaged or missing
// MANIFEST, CURRENT, run file or WAL record; an index directory deleted).
enum class OnCorruption : uint8_t {
  kFail = 0,     // open fails with the Corruption, naming the file
  kRebuild = 1,  // the index is moved aside (DIR/index.damaged) and rebuilt
                 // from the tensor log (KvStore::repair), then opened
};

// What a rebuild of the index from the tensor log found (KvStore::repair).
struct RepairReport {
  uint64_t records_scanned = 0;  // live records of the tensor log read
  uint64_t pages_kept = 0;       // index entries written
  uint64_t pages_dropped = 0;    // valid records whose page lost an ancestor's record (prefix closure)
  uint64_t damaged_records = 0;  // records that failed their checksum or could not be read: skipped
  uint64_t duplicates = 0;       // older records of a page a newer record holds
  uint64_t foreign_records = 0;  // tags of no registered namespace or another page size
  std::vector<std::string> problems;  // the first damaged records, naming segment and offset
};

inline constexpr uint64_t kMaxPageBytes = uint64_t{4} << 30;

struct StoreOptions {
  std::string dir;                  // created if missing
  FileSystem* fs = nullptr;         // every file access; nullptr = POSIX (tests inject faults)
  uint32_t page_tokens = 64;        // P; 1 gives per-token granularity; at most 512
  SyncMode sync = SyncMode::kPerBatch;
  // Tensor-log file bytes (see Capacity); 0 = unbounded, else at least two
  // segments (segment_bytes): one is the slack a collection's copy takes.
  uint64_t capacity_bytes = 0;
  // Under kSubtreeLru, the share of capacity_bytes kept free of live data for
  // GC (see Capacity): live bytes stay within (1 - gc_headroom) x
  // capacity_bytes. 0 <= it < 1.
  double gc_headroom = 0.2;
  // Background maintenance (capacity_bytes > 0; see Capacity): a thread
  // evicts and collects ahead of the puts, so that a put finds room made
  // and waits only when the thread falls behind. It starts once the files
  // pass capacity - maintenance_room / 2 and makes room as a put of
  // maintenance_room x capacity_bytes would (0.05 measured best for put
  // p99; a smaller room holds more pages and makes more puts wait: bench/
  // RESULTS.md). 0 turns it off: every put makes its own room, inline.
  // With it on, a get may find pages evicted since its probe (NotFound, a
  // miss). 0 <= it < 1.
  double maintenance_room = 0.05;
  // The most bytes that room takes, or two segments if that is more; 0 = no
  // bound. The room is for the puts that arrive while the thread takes a
  // region (a segment), so past a few segments it is disk that holds no
  // pages: 5 % of 1 TiB is 51 GiB, against two 256 MiB segments. At the
  // default share the bound is reached from ~10 GiB of capacity on (the
  // demo kept 1.5 % more pages at 16 GiB, 2.6 % at 32 GiB, and no put
  // waited: bench/RESULTS.md, twentieth step of issue 12).
  uint64_t maintenance_room_max_bytes = uint64_t{512} << 20;
  // How room is made under a capacity (see Capacity): whole regions (the
  // oldest segment; its pages read since written are kept) or least
  // recently used prefix subtrees with GC headroom.
  EvictionPolicy eviction = EvictionPolicy::kRegion;
  // Region eviction keeps (copies forward) a page read at least this often
  // since it was written; 0 keeps none (plain FIFO). 0..3. With
  // region_small_share > 0, of the new pages' regions only.
  uint32_t region_keep_reads = 1;
  // Region eviction over two FIFOs (S3-FIFO, see Capacity): the share of the
  // capacity new pages have for their first pass. 0 = one FIFO for all
  // pages (region_keep_reads for every region), as is a capacity of fewer
  // than 4 segments. 0 <= it < 1.
  double region_small_share = 0.1;
  // With region_small_share > 0: a region of pages that earned their place
  // keeps (copies forward) those read at least this often in their pass.
  // 1..3.
  uint32_t region_main_keep_reads = 3;
  Codec codec = Codec::kNone;        // base/codec_id.h
  bool tuner = true;                // retune T and K from the workload (tuner/)
  LsmShape initial_shape;           // the index's shape when the store is created
  std::optional<LsmShape> pinned_shape;  // set: the index takes and keeps this shape
  size_t tuner_window_ops = 4096;   // operations per tuner window
  ProbeStrategy probe = ProbeStrategy::kSeek;
  // Pages per key window (prefix_key.h): a key is at most 18 + 8 x this
  // bytes; a probe makes about log2(pages / window) point lookups and one
  // seek. 1..64. Fixed when the store is created (an existing store keeps
  // its own).
  uint32_t key_window_pages = 8;
  size_t index_write_buffer = 8 << 20;
  size_t index_block_cache = 64 << 20;
  OnCorruption on_corruption = OnCorruption::kFail;
  // Tensor-log segment size: 16 KiB .. 16 GiB, or 0 = by the capacity:
  // capacity_bytes / 32 within 4 .. 256 MiB, at most a quarter of it (256
  // MiB unbounded). A region is a segment: small ones let the background
  // keep ahead of the puts with a small maintenance_room, and keep the
  // files fuller (a region going frees its bytes at once: at 1/10 of the
  // synthetic trace's KV, 4 MiB segments held ~127 MiB live of 137 against
  // ~123 with 16 MiB); 32 of them bound the file count. A page bigger than
  // what is left of a segment starts the next, so a segment wastes up to a
  // page at its end: by default, segments begun after a namespace is
  // registered (or found at open) hold 16 of its pages or more (within the
  // same 256 MiB and quarter-capacity bounds), so at most a 16th is wasted.
  // A size given here is kept as it is. bench/RESULTS.md, "Capacity: region
  // eviction".
  uint64_t segment_bytes = 0;
  // The full-disk reserve (see Full disk). It must cover the index writes of
  // an eviction (a memtable flush of index_write_buffer included) and a
  // region's copy (at most a segment, in up to two of the kept head's).
  // kReserveByCapacity (the default), at open: index_write_buffer + two
  // segments (segment_bytes as at open), at most 64 MiB; 64 MiB without a
  // capacity (a collection then copies up to half of it). A fixed 64 MiB was
  // 47 % of a 137 MiB store's capacity on disk beside it; by the capacity it
  // is 16 MiB there. 0 = no reserve.
  static constexpr uint64_t kReserveByCapacity = UINT64_MAX;
  uint64_t reserve_bytes = kReserveByCapacity;
  // Open for inspection only (kvtool info, tree, probe, get, verify): nothing
  // is written to the directory — no recovery that writes (the index replays
  // its WAL in memory, torn tails stay), no stats file, no tuner, no
  // RESERVE, orphan records marked dead in memory only. The store must
  // exist; page_tokens is read from it. Puts, register_namespace (of a new
  // name), evict_to, collect_garbage and admin::persist_stats return
  // NotSupported.
  bool read_only = false;
};

using NamespaceId = uint16_t;

struct Percentiles {
  double p50_us = 0, p99_us = 0;
  uint64_t count = 0;
};

// The store's memory by part, in bytes.
struct MemoryUsage {
  uint64_t index_filters = 0;      // Bloom filters of the index's runs
  uint64_t index_fences = 0;       // fence pointers of the index's runs (one key per block)
  uint64_t index_block_cache = 0;  // index blocks cached (at most StoreOptions::index_block_cache)
  uint64_t index_memtables = 0;    // the index's write buffers
  uint64_t tensor_tables = 0;      // the tensor log's per-record tables
  uint64_t eviction = 0;           // the LRU of subtrees and keyed pages, the ghost set, the segments' page lists
  uint64_t total() const {
    return index_filters + index_fences + index_block_cache + index_memtables + tensor_tables + eviction;
  }
};

// One decision of the tuner (tuner/): what it saw and what it did.
struct TunerDecision {
  enum class Outcome : uint8_t {
    kReshaped = 0,  // the index was reshaped to new_shape
    kKept = 1,      // the best shape did not pay for the move (or is the current one)
    kPinned = 2,    // StoreOptions::pinned_shape applied at open
    kFailed = 3,    // the reshape failed: see error
  };
  std::chrono::system_clock::time_point time;
  double operations = 0;  // index operations counted by then
  // Fractions of the window's operations: writes, point lookups that hit
  // and that missed, seeks.
  double writes = 0, point_hits = 0, point_misses = 0, seeks = 0;
  double entries = 0;     // index entries the model was given
  LsmShape old_shape, new_shape;
  double old_cost = 0, new_cost = 0;  // modelled block I/Os per operation
  double predicted_gain = 0;          // (old_cost - new_cost) / old_cost
  Outcome outcome = Outcome::kKept;
  std::string error;                  // kFailed: the reshape's status
};
const char* outcome_name(TunerDecision::Outcome outcome);

struct StoreStats {
  uint64_t hit_tokens = 0, miss_tokens = 0;  // probe: tokens found / not found
  uint64_t hit_pages = 0, miss_pages = 0;
  uint64_t bytes_put = 0, bytes_got = 0;
  uint64_t pages_put = 0, pages_evicted = 0, evictions = 0;  // evictions: subtrees and branches evicted
  uint64_t collisions = 0;                   // gets refused because a tag did not match
  // Pages a get found damaged (checksum): each was dropped from the index
  // with every page below it, so the next put of the prompt stores it anew.
  uint64_t corrupt_pages_dropped = 0;
  bool index_rebuilt = false;                // this open rebuilt the index (on_corruption)
  RepairReport rebuild;                      // what that rebuild found
  Percentiles put_latency, probe_latency, get_latency;
  uint64_t tensor_live_bytes = 0, tensor_dead_bytes = 0, tensor_segments = 0;
  uint64_t tensor_file_bytes = 0;            // the segment files on disk: what capacity bounds
  // Of tensor_file_bytes, a segment file kept for reuse (tensorlog/tensor_log.h,
  // "Reused files") and what a reused one holds past its records.
  uint64_t tensor_spare_bytes = 0;
  uint64_t gc_bytes_copied = 0;              // live record bytes GC rewrote (committed collections)
  // Puts (put_batch, put_pages) that had to make room themselves (evict or
  // collect inline, or wait for the background's copy in flight: background
  // maintenance was behind or off), and the microseconds they spent on it.
  uint64_t put_stalls = 0, put_stall_micros = 0;
  uint64_t maintenance_rounds = 0;           // background rounds that evicted or collected
  // Region eviction, two FIFOs: pages put straight to the main FIFO because
  // they had been evicted unread from the small one not long before.
  uint64_t pages_readmitted = 0;
  uint64_t stored_bytes = 0;                 // record bytes the index references
  size_t files = 0;                          // index + tensor-log files
  LsmShape index_shape;
  std::vector<size_t> runs_per_level;        // index: runs in level 0, 1, ...
  std::vector<TunerDecision> tuner_decisions;  // the tuner's recent decisions, oldest first
  MemoryUsage memory;
};

// One piece of a page's bytes: a page given by key (put_pages, get_pages) is
// a scatter-gather list of slices whose bytes, in order, are the page's
// record (page_tokens x bytes_per_token in all); SGLang's host pool gives two
// per page (K and V) in its page_first layout.
using ::lsm4kv::IoSlice;  // base/io_slice.h
using PageSlices = std::vector<IoSlice>;

// Bounds on the caller's page keys of put_pages / get_pages / exists_prefix.
inline constexpr size_t kMinPageKeyBytes = 8, kMaxPageKeyBytes = 64;

struct PutRequest {
  NamespaceId ns = 0;
  std::span<const Token> tokens;
  KvBuffer src;
};

// What one put did (put_batch, put_pages), when the caller asks.
struct PutResult {
  uint64_t pages_stored = 0;   // written by this call
  uint64_t pages_present = 0;  // stored already (or named twice in the call): not written again
  uint64_t pages_evicted = 0;  // evicted to make room for this call (the background's evictions are not counted)
};

struct GetRequest {
  NamespaceId ns = 0;
  std::span<const Token> tokens;
  size_t n = 0;  // tokens to load, from the start
  KvBuffer dst;
};

class KvStore {
 public:
  static Status open(const StoreOptions& options, std::unique_ptr<KvStore>* out);
  // Rebuilds the index of the store in options.dir from its tensor log
  // (index_rebuild.h), whatever state the index is in: the old one is moved
  // to DIR/index.damaged. The page size and namespaces come from DIR/CONFIG
  // (or from the index when CONFIG is damaged; Corruption naming both when
  // neither can be read). options.page_tokens is ignored. Any damage short
  // of losing segment files loses at most the damaged pages and those below
  // them. InvalidArgument when options.dir is no store; Busy when open.
  static Status repair(const StoreOptions& options, RepairReport* report);
  virtual ~KvStore() = default;

  // Registers (or re-opens) a namespace; InvalidArgument when it exists with
  // another layout.
  virtual Status register_namespace(std::string_view name, const KvLayout& layout,
                                    NamespaceId* out) = 0;

  // Stores every whole page of tokens not yet stored. src holds the KV of all
  // of tokens (exactly tokens.size() · bytes_per_token). Idempotent. A prompt
  // shorter than one page stores nothing and is OK, as probe of it is 0.
  // *result (optional) says what was stored, found and evicted.
  virtual Status put_batch(NamespaceId ns, std::span<const Token> tokens, const KvBuffer& src,
                           PutResult* result = nullptr) = 0;
  virtual Status put_batch(std::span<const PutRequest> requests, PutResult* result = nullptr) = 0;

  // *cached = the longest cached prefix of tokens, in tokens (a multiple of P).
  virtual Status probe(NamespaceId ns, std::span<const Token> tokens, size_t* cached) = 0;

  // Loads the KV of the first n tokens (n <= the cached prefix) into dst
  // (sized for n tokens) with one tensor-log submission. Pages that are not
  // stored (never put, or evicted since the probe: eviction runs in the
  // background) make it NotFound, a miss, with dst's contents unspecified.
  // A page whose record
  // fails its checksum is dropped from the index with every page below it
  // (StoreStats::corrupt_pages_dropped) and the get returns NotFound, as a
  // miss: probe no longer reports it and the next put stores it again.
  virtual Status get_batch(NamespaceId ns, std::span<const Token> tokens, size_t n,
                           const KvBuffer& dst) = 0;
  // Many prompts in one tensor-log submission. Its device destinations
  // share one CUDA stream (the copies of one submission are ordered on one
  // stream): destinations on different streams are InvalidArgument; make one
  // batch per stream.
  virtual Status get_batch(std::span<GetRequest> requests) = 0;
  // The same, finished on a worker thread; buffers must outlive the future.
  virtual std::future<Status> get_batch_async(NamespaceId ns, std::vector<Token> tokens, size_t n,
                                              KvBuffer dst) = 0;

  // The page-key API, for engines that name pages themselves (SGLang
  // HiCache: one chained hash of the prompt through the page, 32 bytes).
  // Keys are 8..64 bytes. Keyed pages live beside the token pages of the
  // same namespace, in a key space of their own: a page put by key is found
  // only by key. Trust: a keyed page is verified on read against its key
  // (the record's tag is the key), not against tokens, which the store never
  // sees: the caller's key must name the whole prefix through the page, as a
  // chained hash does. Bad input (no keys, a key of the wrong length, as many
  // slice lists as keys not given, a null slice, slices that do not add up to
  // a page) is InvalidArgument and changes nothing.
  //
  // *n = how many of keys, from the first, are stored (looked up in
  // growing batches until the first missing key: exact whatever is stored
  // after it).
  virtual Status exists_prefix(NamespaceId ns, std::span<const std::string_view> keys, size_t* n) = 0;
  // Stores the pages not yet stored (idempotent); sources[i] is page i's.
  virtual Status put_pages(NamespaceId ns, std::span<const std::string_view> keys,
                           std::span<const PageSlices> sources, PutResult* result = nullptr) = 0;
  // Loads the stored pages of keys into destinations with one tensor-log
  // submission. (*results)[i]: OK, NotFound (not stored; or its record was
  // damaged, and the page left the index), or another error. The Status is
  // not OK only when the call could not run (bad input, closed store).
  virtual Status get_pages(NamespaceId ns, std::span<const std::string_view> keys,
                           std::span<const PageSlices> destinations, std::vector<Status>* results) = 0;

  // Evicts least recently used subtrees until the stored bytes are <= target.
  virtual Status evict_to(uint64_t target_bytes) = 0;
  // Runs tensor-log GC and applies its relocations to the index.
  virtual Status collect_garbage() = 0;
  // InvalidArgument after close(). Right after open it waits until the
  // store's state is loaded (open leaves reading the index's entries to a
  // background thread: the LRU, the stored bytes, orphan records); so do
  // evict_to, collect_garbage, check_invariants and a put that must evict.
  virtual Status stats(StoreStats* out) const = 0;
  // The same; all zeros after close().
  virtual StoreStats stats() const = 0;
  // Checks the store's invariants: every stored page's parent is stored
  // (prefix closure), every index entry decodes, and the stored bytes of the
  // eviction accounting and the tensor log's live bytes both equal the bytes
  // the index references (no record is kept that nothing references).
  // Corruption names what is wrong.
  virtual Status check_invariants() = 0;
  // Syncs and releases the directory (it can then be reopened); later calls
  // get InvalidArgument. Waits for get_batch_async calls in flight; those
  // made after close() began get InvalidArgument. REQUIRES: no other call in
  // flight on another thread.
  virtual Status close() = 0;

  // The page size, in tokens (StoreOptions::page_tokens, or the stored
  // one). Inspection, verify, the stats file and maintenance for tools are
  // the admin surface (kvcache_api/store_admin.h).
  virtual uint32_t page_tokens() const = 0;
};

}  // namespace lsm4kv::kvcache
