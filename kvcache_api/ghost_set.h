// GhostSet: the keys of pages evicted lately without having been read (the
// ghost queue of S3-FIFO, Yang et al., SOSP '23), as 64-bit hashes, oldest
// forgotten first once the pages they stand for would pass a byte bound.
// A put of a page found here is a page that came back soon after it was
// dropped: it is reused, though not within its first short pass, and region
// eviction admits it among the pages that earned their place
// (kv_store_region.cc). A hash collision admits a page there that was not
// evicted: a placement hint, never a correctness matter.
//
// Not thread-safe: the store guards it with a mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>

namespace lsm4kv::kvcache {

class GhostSet {
 public:
  // Remembers pages whose bytes sum to at most bound_bytes, and at most
  // max_entries of them: ~80 bytes of RAM each (the FIFO's entry and the
  // map's node), so that small pages under a big capacity cost at most
  // ~80 MiB by default, remembering the latest evictions only.
  explicit GhostSet(uint64_t bound_bytes, size_t max_entries = size_t{1} << 20)
      : bound_(bound_bytes), max_entries_(max_entries) {}
  GhostSet(const GhostSet&) = delete;
  GhostSet& operator=(const GhostSet&) = delete;

  void insert(uint64_t hash, uint64_t bytes);
  // True (and forgets it) when hash is remembered.
  bool take(uint64_t hash);
  size_t size() const { return latest_.size(); }
  uint64_t memory_bytes() const;

 private:
  struct Entry {
    uint64_t hash;
    uint64_t seq;  // stale once latest_[hash] is another (or gone)
    uint64_t bytes;
  };
  const uint64_t bound_;
  const size_t max_entries_;
  uint64_t bytes_ = 0;  // of every entry in fifo_, stale ones included
  uint64_t next_seq_ = 0;
  std::deque<Entry> fifo_;
  std::unordered_map<uint64_t, uint64_t> latest_;  // hash -> seq of its live entry
};

}  // namespace lsm4kv::kvcache
