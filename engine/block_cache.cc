#include "engine/block_cache.h"

#include <algorithm>

namespace lsm4kv::engine {

namespace {

constexpr size_t kBytesPerShard = 1 << 20;
constexpr int kMaxShardBits = 4;

int default_shard_bits(size_t capacity) {
  int bits = 0;
  while (bits < kMaxShardBits && (capacity / kBytesPerShard) >= (size_t{2} << bits)) bits++;
  return bits;
}

}  // namespace

BlockCache::BlockCache(size_t capacity_bytes, int shard_bits) : capacity_(capacity_bytes) {
  shard_bits_ = shard_bits < 0 ? default_shard_bits(capacity_bytes)
                               : std::min(shard_bits, 2 * kMaxShardBits);
  size_t n = size_t{1} << shard_bits_;
  for (size_t i = 0; i < n; i++) {
    auto shard = std::make_unique<Shard>();
    // Spread the remainder so that the shares add up to the capacity exactly.
    shard->capacity = capacity_bytes / n + (i < capacity_bytes % n ? 1 : 0);
    shards_.push_back(std::move(shard));
  }
}

BlockCache::Shard& BlockCache::shard_for(uint64_t file_number, uint64_t offset) {
  uint64_t h = (file_number * 0x9e3779b97f4a7c15ull) ^ (offset * 0xc2b2ae3d27d4eb4full);
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return *shards_[shard_bits_ == 0 ? 0 : (h >> (64 - shard_bits_))];
}

void BlockCache::Shard::erase(Lru::iterator it) {
  auto file = index.find(it->file_number);
  file->second.erase(it->offset);
  if (file->second.empty()) index.erase(file);
  usage -= it->charge;
  lru.erase(it);
}

void BlockCache::Shard::evict_to(size_t budget) {
  while (usage > budget && !lru.empty()) erase(std::prev(lru.end()));
}

std::shared_ptr<const Block> BlockCache::lookup(uint64_t file_number, uint64_t offset) {
  if (capacity_ == 0) return nullptr;
  Shard& s = shard_for(file_number, offset);
  std::lock_guard<std::mutex> lock(s.mu);
  auto file = s.index.find(file_number);
  if (file == s.index.end()) return nullptr;
  auto pos = file->second.find(offset);
  if (pos == file->second.end()) return nullptr;
  s.lru.splice(s.lru.begin(), s.lru, pos->second);
  return pos->second->block;
}

void BlockCache::insert(uint64_t file_number, uint64_t offset,
                        std::shared_ptr<const Block> block, size_t charge) {
  if (capacity_ == 0) return;
  Shard& s = shard_for(file_number, offset);
  std::shared_ptr<const Block> dropped;  // released after the lock
  std::lock_guard<std::mutex> lock(s.mu);
  auto file = s.index.find(file_number);
  if (file != s.index.end()) {
    auto pos = file->second.find(offset);
    if (pos != file->second.end()) {
      dropped = std::move(pos->second->block);
      s.erase(pos->second);
    }
  }
  if (charge > s.capacity) return;
  s.evict_to(s.capacity - charge);
  s.lru.push_front(Entry{file_number, offset, std::move(block), charge});
  s.index[file_number][offset] = s.lru.begin();
  s.usage += charge;
}

void BlockCache::erase_file(uint64_t file_number) {
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    auto file = shard->index.find(file_number);
    if (file == shard->index.end()) continue;
    for (auto& [offset, it] : file->second) {
      shard->usage -= it->charge;
      shard->lru.erase(it);
    }
    shard->index.erase(file);
  }
}

size_t BlockCache::usage() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    total += shard->usage;
  }
  return total;
}

size_t BlockCache::num_blocks() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    total += shard->lru.size();
  }
  return total;
}

}  // namespace lsm4kv::engine
