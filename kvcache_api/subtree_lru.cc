#include "kvcache_api/subtree_lru.h"

#include <algorithm>

namespace lsm4kv::kvcache {

void SubtreeLru::add(const std::string& root, uint64_t bytes, uint64_t tick) {
  auto [it, fresh] = roots_.try_emplace(root);
  if (!fresh) by_tick_.erase({it->second.tick, root});
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
