// Options of the engine: plain structs, each default written and explained
// next to its field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/lsm_shape.h"
#include "base/sync_mode.h"
#include "base/file_system.h"

namespace lsm4kv::engine {

// How a write is made durable before it is acknowledged (of the WAL).
using ::lsm4kv::SyncMode;

// How the Bloom filter memory is spread across levels.
enum class BloomAllocation : uint8_t {
  kUniform = 0,  // every level gets bloom_bits_per_key
  kMonkey = 1,   // Monkey (Dayan et al., SIGMOD 2017): same total memory, more
                 // bits for smaller levels, so the sum of false-positive rates
                 // over levels is minimal
};

// The shape of the tree (base/lsm_shape.h).
using Shape = ::lsm4kv::LsmShape;

struct Options {
  FileSystem* fs = FileSystem::posix();
  bool create_if_missing = true;
  bool error_if_exists = false;
  // Open without writing anything in the directory, for inspection (kvtool):
  // no directory or LOCK is created (an existing LOCK is taken, so a live
  // writer makes open fail with Busy), the manifest and WALs are replayed
  // into memory (a torn WAL tail is tolerated as in a normal open), and
  // nothing is flushed, rewritten or deleted; no background thread runs.
  // put, delete_key, delete_range, write, flush, compact_all and reshape
  // return InvalidArgument; wait_for_compactions returns OK at once. A
  // missing CURRENT is an error (InvalidArgument, or Corruption when the
  // directory holds engine files), never a new DB. create_if_missing is ignored.
  bool read_only = false;

  // M: the memtable is flushed to a level-0 run when it holds this many bytes.
  size_t write_buffer_size = 8 << 20;
  SyncMode sync_mode = SyncMode::kGroupCommit;
  Shape shape;

  // Sorted-run layout. 4 KiB blocks match the page size of SSDs and the
  // kernel; a restart point every 16 keys bounds the linear scan inside a
  // block while leaving most keys delta-encoded.
  size_t block_size = 4096;
  int block_restart_interval = 16;
  // 10 bits/key gives ~1% false positives per run.
  double bloom_bits_per_key = 10.0;
  BloomAllocation bloom_allocation = BloomAllocation::kMonkey;

  // Bytes of data blocks kept in memory (fence pointers and Bloom filters are
  // always in memory and not counted here).
  size_t block_cache_bytes = 64 << 20;

  // Writers wait while level 0 holds this many runs (compaction is behind).
  int level0_stop_runs = 8;
};

struct WriteOptions {
  // Overrides Options::sync_mode for this write when set.
  bool sync_override = false;
  SyncMode sync = SyncMode::kGroupCommit;
};

struct ReadOptions {
  // Verify block checksums on every read (always on for data from disk;
  // this also re-verifies cached blocks).
  bool verify_cached = false;
  // Put blocks read by this operation into the block cache.
  bool fill_cache = true;
};

}  // namespace lsm4kv::engine
