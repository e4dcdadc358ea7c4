// DB: the LSM-tree index of lsm4kv — a persistent, sorted map from byte-string
// keys to small byte-string values, with native control of its shape: the
// size ratio T and the number of runs K allowed in each level.
//
//   std::unique_ptr<DB> db;
//   Status s = DB::open(options, "/path/to/dir", &db);
//   s = db->put({}, "key", "value");
//   std::string v;
//   s = db->get({}, "key", &v);          // NotFound when absent
//   db->reshape({.size_ratio = 4, .runs_per_level = {3}});   // toward tiering, lazily
//
// Durability: every write goes to the write-ahead log first (sync per
// Options::sync_mode) and is acknowledged only when durable under that mode;
// the set of sorted runs and the shape live in a manifest of version edits
// whose CURRENT pointer is switched by atomic rename. A crash loses nothing
// acknowledged and never leaves half a batch.
//
// Shape: see engine/options.h (Shape). reshape() is lazy, as in SGLang-LSM's
// appendix C: a larger K lets existing runs stay unmerged; a smaller K is
// honoured at the next compaction into that level; a new T applies as data
// next flows between levels. The shape is persisted in the manifest.
//
// A full disk is not fatal: a flush or compaction that fails with NoSpace
// makes writes return NoSpace while it lasts; each such write first asks for
// the step to be retried, so writes succeed again as soon as space is freed,
// without a reopen. Other background failures (after 3 tries, or any
// Corruption) stop writes until reopen.
//
// Thread-safety: a DB is safe for concurrent use by many threads. Flushes and
// compactions run on a background thread and never block readers; writers
// stall only while level 0 holds Options::level0_stop_runs runs.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/options.h"
#include "engine/write_batch.h"

namespace lsm4kv::engine {

// A cursor over a consistent snapshot of the DB taken when it was created.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual bool valid() const = 0;
  virtual void seek_to_first() = 0;
  virtual void seek_to_last() = 0;
  // First key >= target.
  virtual void seek(std::string_view target) = 0;
  // Last key <= target.
  virtual void seek_for_prev(std::string_view target) = 0;
  // REQUIRES: valid().
  virtual void next() = 0;
  virtual void prev() = 0;
  // Valid until the iterator moves.
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Not OK when a read failed (e.g. Corruption); the iterator is then invalid.
  virtual Status status() const = 0;
};

struct RunInfo {
  uint64_t file_number = 0;
  uint64_t file_size = 0;
  uint64_t entries = 0;
  double bloom_bits_per_key = 0;
  size_t bloom_memory_bytes = 0;
  size_t fence_memory_bytes = 0;
};

struct LevelInfo {
  int level = 0;
  int max_runs = 0;             // K of this level (0 for level 0: not governed by K)
  uint64_t capacity_bytes = 0;  // M·T^level (0 for level 0)
  uint64_t bytes = 0;
  std::vector<RunInfo> runs;    // newest first
};

// A snapshot of the engine's counters and structure (engine/counters.h).
struct Properties {
  Shape shape;
  std::vector<LevelInfo> levels;  // level 0 first
  uint64_t entries_written = 0;
  uint64_t user_bytes_written = 0;  // key + value bytes written by users
  uint64_t point_lookups_found = 0;
  uint64_t point_lookups_empty = 0;
  uint64_t seeks = 0;
  uint64_t runs_probed = 0;
  uint64_t bloom_checked = 0;
  uint64_t bloom_negatives = 0;
  uint64_t bloom_false_positives = 0;
  uint64_t blocks_read = 0;
  uint64_t block_bytes_read = 0;
  uint64_t block_cache_hits = 0;
  uint64_t wal_bytes_written = 0;
  uint64_t flush_bytes_written = 0;
  std::vector<uint64_t> compaction_bytes_written;  // by output level
  std::vector<uint64_t> compaction_bytes_read;     // by output level
  uint64_t write_stalls = 0;
  uint64_t flushes = 0;
  uint64_t compactions = 0;
  uint64_t memtable_bytes = 0;
  uint64_t block_cache_usage = 0;
  uint64_t last_sequence = 0;
  size_t live_files = 0;  // run files + WAL + manifest
  // Bytes written to disk by flush and compaction / bytes of user data put.
  double write_amplification() const;
};

class DB {
 public:
  virtual ~DB() = default;

  // Opens (or, with Options::create_if_missing, creates) the DB in dir,
  // replaying the manifest and WAL. Holds an exclusive lock on dir/LOCK:
  // a second open of the same directory gets Busy. (Options::read_only:
  // see engine/options.h; such an open writes nothing.)
  //
  // Open never discards data silently: a missing CURRENT in a directory
  // holding engine files, a damaged CURRENT or manifest, or a run the
  // manifest names that is missing or damaged, is Corruption naming the file,
  // and nothing is deleted. Once the state is read, open rewrites it (the
  // WALs' data to a run, a fresh WAL and manifest); if that cannot be
  // written (a full disk), open still succeeds and serves reads from what
  // it read, old files untouched, and every write first retries the rewrite
  // and returns its error (NoSpace) while it fails.
  static Status open(const Options& options, const std::string& dir, std::unique_ptr<DB>* out);

  virtual Status put(const WriteOptions& wo, std::string_view key, std::string_view value) = 0;
  virtual Status delete_key(const WriteOptions& wo, std::string_view key) = 0;
  // Deletes every key k with begin <= k < end (one range tombstone).
  // InvalidArgument when end < begin.
  virtual Status delete_range(const WriteOptions& wo, std::string_view begin,
                              std::string_view end) = 0;
  // Applies the whole batch atomically. A synced write (or sync_wal) makes
  // every write acknowledged before it durable too, unsynced ones included:
  // a memtable switch syncs the WAL it leaves if it holds unsynced writes.
  virtual Status write(const WriteOptions& wo, WriteBatch* batch) = 0;
  // Makes every write acknowledged so far durable; no fsync when none is
  // unsynced. Callers that write unsynced and must later know their writes
  // durable (before deleting what those writes stop referencing) call it.
  virtual Status sync_wal() = 0;

  // NotFound when key is absent.
  virtual Status get(const ReadOptions& ro, std::string_view key, std::string* value) = 0;
  // Looks up keys (sorted ascending; InvalidArgument otherwise) against one
  // consistent snapshot. (*statuses)[i] is OK, NotFound or an error for keys[i].
  virtual Status multi_get(const ReadOptions& ro, std::span<const std::string_view> keys,
                           std::vector<std::string>* values,
                           std::vector<Status>* statuses) = 0;
  virtual std::unique_ptr<Iterator> new_iterator(const ReadOptions& ro) = 0;

  // Writes the memtable to a level-0 run and waits for it.
  virtual Status flush() = 0;
  // Flushes, then merges everything into one run in the deepest level.
  virtual Status compact_all() = 0;
  // Waits until no compaction is pending under the current shape.
  virtual Status wait_for_compactions() = 0;
  // Sets a new shape, persisted in the manifest and applied lazily.
  // InvalidArgument when T < 2 or any K < 1.
  virtual Status reshape(const Shape& shape) = 0;
  virtual Shape shape() const = 0;
  virtual Properties properties() const = 0;
  // Checks every run file's blocks and the manifest; Corruption names the file.
  virtual Status verify() = 0;
  // Flushes nothing, stops background work, releases the lock. Also done by
  // the destructor.
  virtual Status close() = 0;
};

}  // namespace lsm4kv::engine
