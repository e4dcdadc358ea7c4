// RunBuilder: writes one sorted run file (layout in engine/run_format.h)
// from entries given in strictly increasing key order, as a flush or a
// compaction produces them. Data blocks go to the file as they fill; the
// Bloom filter, fence pointers and properties are written by finish().
//
// A run may hold no point entries and only range tombstones, or nothing at
// all. On any error the builder keeps returning it; deleting the partial file
// is the caller's job.
//
// Thread-safety: one builder is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/file_system.h"
#include "base/status.h"
#include "engine/block_builder.h"
#include "engine/bloom.h"
#include "engine/entry.h"
#include "engine/range_tombstones.h"
#include "engine/run_format.h"

namespace lsm4kv::engine {

struct RunBuildOptions {
  // Target size of a data block before its trailer; a block is cut after the
  // entry that reaches it. 4 KiB matches the page size of SSDs.
  size_t block_size = 4096;
  // A restart point every this many entries: a seek inside a block scans at
  // most this many entries after its binary search.
  int restart_interval = 16;
  // Bloom filter bits per key; fractional values allowed; 0 = no filter.
  // 10 bits gives ~0.8% false positives.
  double bloom_bits_per_key = 10;
};

struct RunMeta {
  uint64_t file_number = 0;  // left to the caller
  uint64_t file_size = 0;
  uint64_t entries = 0;      // point entries
  uint64_t tombstone_fragments = 0;
  std::string smallest, largest;  // point entries only; "" when entries == 0
  SequenceNumber min_seq = 0, max_seq = 0;  // over entries and range tombstones
};

class RunBuilder {
 public:
  // REQUIRES: file is new and empty (FileSystem::new_writable).
  RunBuilder(const RunBuildOptions& options, std::unique_ptr<WritableFile> file);

  // REQUIRES: key > every key added before (strictly increasing); checked,
  // InvalidArgument otherwise. seq <= kMaxSequence.
  Status add(std::string_view key, EntryType type, SequenceNumber seq, std::string_view value);
  void set_range_tombstones(FragmentedTombstones t);
  // Writes the tail blocks and the footer, syncs and closes the file.
  // meta->file_number is left untouched.
  Status finish(RunMeta* meta);

  // The size of the file if finish() were called now.
  uint64_t estimated_file_size() const;
  uint64_t entries() const { return props_.entries; }

 private:
  Status flush_block();
  // Appends contents + trailer to the file; *handle says where it went.
  Status write_block(std::string contents, BlockHandle* handle);
  void note_seq(SequenceNumber seq);

  const RunBuildOptions options_;
  std::unique_ptr<WritableFile> file_;
  Status status_;
  bool finished_ = false;
  uint64_t offset_ = 0;  // bytes written so far
  BlockBuilder block_;
  IndexBlockBuilder index_;
  BloomFilterBuilder bloom_;
  FragmentedTombstones tombstones_;
  RunProperties props_;
  std::string last_key_;
  bool seen_seq_ = false;  // props_.min_seq/max_seq hold a real value
};

}  // namespace lsm4kv::engine
