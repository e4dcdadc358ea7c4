#include "kvcache_api/subtree_lru.h"

#include <algorithm>

namespace lsm4kv::kvcache {

void SubtreeLru::add(const std::string& root, uint64_t bytes, uint64_t tick) {
  auto [it, fresh] = roots_.try_emplace(root);
  if (fresh) key_bytes_ += root.capacity();
  else by_tick_.erase({it->second.tick, root});
  it->second.bytes += bytes;
  if (tick > it->second.tick) it->second.tick = tick;
  by_tick_.insert({it->second.tick, root});
  total_ += bytes;
}

void SubtreeLru::touch(const std::string& root, uint64_t tick) {
  auto it = roots_.find(root);
  if (it == roots_.end() || tick <= it->second.tick) return;
  by_tick_.erase({it->second.tick, root});
  it->second.tick = tick;
  by_tick_.insert({tick, root});
}

uint64_t SubtreeLru::remove(const std::string& root) {
  auto it = roots_.find(root);
  if (it == roots_.end()) return 0;
  uint64_t bytes = it->second.bytes;
  by_tick_.erase({it->second.tick, root});
  key_bytes_ -= std::min(key_bytes_, uint64_t{it->first.capacity()});
  roots_.erase(it);
  total_ -= bytes;
  return bytes;
}

void SubtreeLru::subtract(const std::string& root, uint64_t bytes) {
  auto it = roots_.find(root);
  if (it == roots_.end()) return;
  bytes = std::min(bytes, it->second.bytes);
  it->second.bytes -= bytes;
  total_ -= bytes;
}

uint64_t SubtreeLru::memory_bytes() const {
  // A red-black tree node is 32 bytes of links and colour before its value;
  // each key is held twice (the map and the recency set).
  constexpr uint64_t kNode = 32;
  const uint64_t per_root = 2 * kNode + 2 * sizeof(std::string) + sizeof(Info) + sizeof(uint64_t);
  const uint64_t heap_keys = 2 * key_bytes_;
  return roots_.size() * per_root + heap_keys;
}

uint64_t SubtreeLru::bytes_of(const std::string& root) const {
  auto it = roots_.find(root);
  return it == roots_.end() ? 0 : it->second.bytes;
}

std::optional<std::string> SubtreeLru::oldest(const std::vector<std::string>& keep) const {
  for (const auto& [tick, root] : by_tick_)
    if (std::find(keep.begin(), keep.end(), root) == keep.end()) return root;
  return std::nullopt;
}

}  // namespace lsm4kv::kvcache
