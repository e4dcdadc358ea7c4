// SortedRun: an open, immutable sorted-run file (layout in
// engine/run_format.h). open() checks the footer and the tail blocks and
// keeps the fence pointers, the Bloom filter, the range tombstones and the
// properties in memory; data blocks are read on demand with pread (through
// the block cache when there is one), and every block read from disk has its
// checksum verified.
//
// A run holds at most one entry per user key. get() and the iterator return
// entries as stored, deletes included; applying range tombstones (this run's
// range_tombstones() and those of newer sources) is the caller's job.
//
// Errors: every Corruption or IOError message names the file's path, and the
// offset where one is known. A damaged file never crashes the reader nor
// yields wrong data: open() fails, or the lookup or iterator that meets the
// damage fails.
//
// Thread-safety: a SortedRun is immutable after open() and may be used by any
// number of threads at once. Each iterator holds a reference to its run, so
// a run may be dropped from the tree while iterators over it are alive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/file_system.h"
#include "base/status.h"
#include "engine/block.h"
#include "engine/block_cache.h"
#include "engine/bloom.h"
#include "engine/counters.h"
#include "engine/entry.h"
#include "engine/internal_iterator.h"
#include "engine/options.h"
#include "engine/range_tombstones.h"
#include "engine/run_format.h"

namespace lsm4kv::engine {

struct RunLookup {
  bool found = false;  // the run holds an entry (put or delete) for the key
  EntryType type = EntryType::kPut;
  SequenceNumber seq = 0;
  std::string value;   // empty for a delete
};

class SortedRun : public std::enable_shared_from_this<SortedRun> {
 public:
  // cache and counters may be null; both must outlive the run.
  static Status open(FileSystem* fs, const std::string& path, uint64_t file_number,
                     BlockCache* cache, EngineCounters* counters,
                     std::shared_ptr<SortedRun>* out);

  // Point lookup: the Bloom filter first (bloom_checked, bloom_negatives,
  // bloom_false_positives), then a binary search over the fence pointers,
  // then at most one data block (runs_probed, blocks_read, block_bytes_read,
  // block_cache_hits). OK with out->found == false when the key is absent.
  Status get(std::string_view key, const ReadOptions& ro, RunLookup* out) const;
  // The same with key_hash = BloomFilter::hash(key), computed once by a
  // caller that probes many runs.
  Status get(std::string_view key, uint64_t key_hash, const ReadOptions& ro,
             RunLookup* out) const;
  // Without the Bloom filter, for callers that consulted may_contain().
  Status get_unfiltered(std::string_view key, const ReadOptions& ro, RunLookup* out) const;
  // The Bloom filter alone (no counters); true when the run has no filter.
  bool may_contain(uint64_t key_hash) const { return bloom_.may_contain_hash(key_hash); }

  // All four seek kinds, next and prev, across blocks. Blocks it reads go
  // through the cache as ro says (fill_cache = false for compactions).
  std::unique_ptr<InternalIterator> new_iterator(const ReadOptions& ro) const;
  const FragmentedTombstones& range_tombstones() const { return tombstones_; }
  // Rereads every block from disk (not the cache), checks its checksum,
  // decodes every entry and checks key order, fences and entry count.
  Status verify() const;

  uint64_t file_number() const { return file_number_; }
  uint64_t file_size() const { return file_size_; }
  uint64_t entries() const { return props_.entries; }
  const std::string& smallest() const { return props_.smallest; }  // point entries only
  const std::string& largest() const { return props_.largest; }
  SequenceNumber min_seq() const { return props_.min_seq; }  // entries and tombstones
  SequenceNumber max_seq() const { return props_.max_seq; }
  size_t bloom_memory_bytes() const { return bloom_.memory_bytes(); }
  size_t fence_memory_bytes() const { return fences_.memory_bytes(); }
  size_t num_blocks() const { return fences_.size(); }
  double bloom_bits_per_key() const { return props_.bloom_bits_per_key; }
  const std::string& path() const { return path_; }
  const RunProperties& properties() const { return props_; }
  const FencePointers& fences() const { return fences_; }

  // Data block i, from the cache or from disk (checksum verified).
  Status read_block(size_t index, const ReadOptions& ro, std::shared_ptr<const Block>* out) const;
  // `s` (a Block or BlockIter error) with the path and block offset prepended.
  Status annotate(const Status& s, uint64_t offset) const;

 private:
  SortedRun() = default;
  Status load_tail(const Footer& footer);
  // Reads the block at handle with its trailer into *buf and checks the trailer.
  Status read_raw(BlockHandle handle, std::string* buf) const;
  Status search(std::string_view key, const ReadOptions& ro, RunLookup* out) const;
  Status verify_data_block(size_t index, std::string* prev_key, uint64_t* count) const;
  void count(EngineCounters::Counter EngineCounters::*field, uint64_t n = 1) const {
    if (counters_ != nullptr) (counters_->*field).fetch_add(n, std::memory_order_relaxed);
  }

  std::string path_;
  uint64_t file_number_ = 0;
  uint64_t file_size_ = 0;
  std::unique_ptr<RandomAccessFile> file_;
  BlockCache* cache_ = nullptr;
  EngineCounters* counters_ = nullptr;
  Footer footer_;
  RunProperties props_;
  FencePointers fences_;
  BloomFilter bloom_;
  FragmentedTombstones tombstones_;
};

}  // namespace lsm4kv::engine
