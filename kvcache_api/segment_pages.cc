#include "kvcache_api/segment_pages.h"

#include <cassert>

namespace lsm4kv::kvcache {

// An arena record: u16 key size | key | u16 root code [| root]. The root
// code is 0x8000 | size for a root that is a prefix of the key (a first
// window's page, a keyed page: nothing more is stored), else the root's size
// and its bytes follow (0: unknown).
namespace {

constexpr uint16_t kRootInKey = 0x8000;

void put_u16(std::string* out, size_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}

uint16_t get_u16(const std::string& a, size_t* at) {
  const auto lo = static_cast<uint8_t>(a[*at]), hi = static_cast<uint8_t>(a[*at + 1]);
  *at += 2;
  return static_cast<uint16_t>(lo | (hi << 8));
}

// Calls fn(key, root) for every record of arena a.
template <typename Fn>
void for_each_record(const std::string& a, Fn fn) {
  for (size_t at = 0; at < a.size();) {
    const uint16_t key_size = get_u16(a, &at);
    const std::string_view key(a.data() + at, key_size);
    at += key_size;
    const uint16_t code = get_u16(a, &at);
    std::string_view root;
    if (code & kRootInKey) {
      root = key.substr(0, code & ~kRootInKey);
    } else {
      root = std::string_view(a.data() + at, code);
      at += code;
    }
    fn(key, root);
  }
}

}  // namespace

void SegmentPages::add(uint64_t segment, std::string_view key, std::string_view root) {
  assert(key.size() < kRootInKey && root.size() < kRootInKey);  // keys are at most 18 + 8 x 64 bytes
  std::lock_guard g(mu_);
  std::string& a = arenas_[segment];
  put_u16(&a, key.size());
  a.append(key);
  if (!root.empty() && key.starts_with(root)) {
    put_u16(&a, kRootInKey | root.size());
  } else {
    put_u16(&a, root.size());
    a.append(root);
  }
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
