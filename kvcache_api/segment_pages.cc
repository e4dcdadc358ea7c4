#include "kvcache_api/segment_pages.h"

#include "base/coding.h"

namespace lsm4kv::kvcache {

// An arena record: length-prefixed key | varint root code [| root]. The
// root code is size << 1 | 1 for a root that is a prefix of the key (a first
// window's page, a keyed page: nothing more is stored), else size << 1 and
// the root's bytes follow (size 0: unknown). The arena is only ever written
// here, so a record that does not decode cannot happen.
namespace {

// Calls fn(key, root) for every record of arena a.
template <typename Fn>
void for_each_record(std::string_view a, Fn fn) {
  std::string_view key;
  uint32_t code = 0;
  while (get_length_prefixed(&a, &key) && get_varint32(&a, &code)) {
    const size_t size = code >> 1;
    std::string_view root = key.substr(0, size);
    if ((code & 1) == 0) {
      root = a.substr(0, size);
      a.remove_prefix(size);
    }
    fn(key, root);
  }
}

}  // namespace

void SegmentPages::add(uint64_t segment, std::string_view key, std::string_view root) {
  std::lock_guard g(mu_);
  std::string& a = arenas_[segment];
  put_length_prefixed(&a, key);
  const bool in_key = !root.empty() && key.starts_with(root);
  put_varint32(&a, static_cast<uint32_t>(root.size() << 1 | (in_key ? 1 : 0)));
  if (!in_key) a.append(root);
}

std::vector<ListedPage> SegmentPages::of(uint64_t segment) const {
  std::lock_guard g(mu_);
  std::vector<ListedPage> out;
  auto it = arenas_.find(segment);
  if (it == arenas_.end()) return out;
  for_each_record(it->second, [&](std::string_view key, std::string_view root) {
    out.push_back({std::string(key), std::string(root)});
  });
  return out;
}

void SegmentPages::erase(uint64_t segment) {
  std::lock_guard g(mu_);
  arenas_.erase(segment);
}

uint64_t SegmentPages::memory_bytes() const {
  std::lock_guard g(mu_);
  uint64_t bytes = 0;
  for (const auto& [segment, a] : arenas_) bytes += a.capacity() + 64;  // + the map's node
  return bytes;
}

}  // namespace lsm4kv::kvcache
