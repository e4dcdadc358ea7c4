// BlockCache: the data blocks of sorted runs kept in memory, keyed by
// (file number, block offset), under a byte budget. A sharded LRU: the key's
// hash picks one of 2^shard_bits shards, each with its own mutex, LRU list
// and 1/2^shard_bits of the budget, so concurrent readers rarely contend.
//
// The budget bounds the charges of the blocks the cache holds; a block that
// was evicted while a reader still holds its shared_ptr lives on until that
// reader lets go, outside the budget. A block whose charge exceeds its
// shard's share is not cached. A capacity of 0 caches nothing.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/block.h"

namespace lsm4kv::engine {

class BlockCache {
 public:
  // shard_bits < 0 picks a count from the capacity: one shard per MiB of
  // budget, at most 16.
  explicit BlockCache(size_t capacity_bytes, int shard_bits = -1);
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The cached block, or nullptr. A hit makes the block the most recently used.
  std::shared_ptr<const Block> lookup(uint64_t file_number, uint64_t offset);
  // Adds (or replaces) a block, then evicts least recently used blocks of the
  // shard until its usage fits its share of the budget.
  void insert(uint64_t file_number, uint64_t offset, std::shared_ptr<const Block> block,
              size_t charge);
  // Drops every block of a file (called when its run is deleted).
  void erase_file(uint64_t file_number);

  size_t usage() const;     // sum of the charges of the blocks held
  size_t capacity() const { return capacity_; }
  size_t num_blocks() const;

 private:
  struct Entry {
    uint64_t file_number;
    uint64_t offset;
    std::shared_ptr<const Block> block;
    size_t charge;
  };
  using Lru = std::list<Entry>;  // front = most recently used
  struct Shard {
    mutable std::mutex mu;
    size_t capacity = 0;
    size_t usage = 0;
    Lru lru;
    // file number -> block offset -> position in lru
    std::unordered_map<uint64_t, std::unordered_map<uint64_t, Lru::iterator>> index;

    void erase(Lru::iterator it);
    void evict_to(size_t budget);
  };

  Shard& shard_for(uint64_t file_number, uint64_t offset);

  const size_t capacity_;
  int shard_bits_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace lsm4kv::engine
