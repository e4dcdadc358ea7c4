#include "kvcache_api/ghost_set.h"

namespace lsm4kv::kvcache {

void GhostSet::insert(uint64_t hash, uint64_t bytes) {
  if (bytes > bound_) return;
  const uint64_t seq = next_seq_++;
  fifo_.push_back({hash, seq, bytes});
  latest_[hash] = seq;
  bytes_ += bytes;
  while (bytes_ > bound_ || fifo_.size() > max_entries_) {
    const Entry e = fifo_.front();
    fifo_.pop_front();
    bytes_ -= e.bytes;
    auto it = latest_.find(e.hash);
    if (it != latest_.end() && it->second == e.seq) latest_.erase(it);
  }
}

bool GhostSet::take(uint64_t hash) { return latest_.erase(hash) > 0; }

uint64_t GhostSet::memory_bytes() const {
  // The deque's entries and the map's nodes (key, value, next pointer, cached
  // hash) and buckets.
  return fifo_.size() * sizeof(Entry) + latest_.size() * 4 * sizeof(uint64_t) +
         latest_.bucket_count() * sizeof(void*);
}

}  // namespace lsm4kv::kvcache
