#include "kvcache_api/prefix_key.h"

#include <xxhash.h>

#include "base/coding.h"

namespace lsm4kv::kvcache {
namespace {

void put_be(std::string* dst, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--) dst->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

size_t dtype_size(DType d) {
  switch (d) {
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kF32: return 4;
    case DType::kFP8: return 1;
  }
  return 0;
}

std::string ns_prefix(NamespaceId ns) {
  std::string k;
  put_be(&k, ns, kNsBytes);
  return k;
}

std::vector<std::string> page_keys(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens,
                                   size_t pages, const Fingerprinter& fp) {
  std::vector<std::string> keys;
  keys.reserve(pages);
  std::string k = ns_prefix(ns);
  for (size_t p = 0; p < pages; p++) {
    auto page = tokens.subspan(p * page_tokens, page_tokens);
    uint64_t f = fp ? fp(page) : XXH3_64bits(page.data(), page.size_bytes());
    put_be(&k, f, kFingerprintBytes);
    keys.push_back(k);
  }
  return keys;
}

std::vector<std::string> page_tags(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens,
                                   size_t first, size_t count) {
  std::vector<std::string> tags;
  tags.reserve(count);
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  XXH3_128bits_update(st, tokens.data(), first * page_tokens * sizeof(Token));
  for (size_t p = first; p < first + count; p++) {
    auto page = tokens.subspan(p * page_tokens, page_tokens);
    XXH3_128bits_update(st, page.data(), page.size_bytes());
    XXH128_hash_t h = XXH3_128bits_digest(st);
    std::string t;
    put_be(&t, ns, kNsBytes);
    put_fixed32(&t, static_cast<uint32_t>(p));
    put_fixed64(&t, h.low64);
    put_fixed64(&t, h.high64);
    t.append(reinterpret_cast<const char*>(page.data()), page.size_bytes());
    tags.push_back(std::move(t));
  }
  XXH3_freeState(st);
  return tags;
}

std::string key_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xff) s.pop_back();
  if (!s.empty()) s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;  // empty: no successor (prefix was all 0xff); callers never pass that
}

size_t key_pages(std::string_view key) {
  if (key.size() < kNsBytes || (key.size() - kNsBytes) % kFingerprintBytes != 0) return 0;
  return (key.size() - kNsBytes) / kFingerprintBytes;
}

void PageEntry::encode_to(std::string* dst) const {
  location.encode_to(dst);
  put_varint64(dst, tick);
}

bool PageEntry::decode_from(std::string_view in) {
  return location.decode_from(&in) && get_varint64(&in, &tick) && in.empty();
}

std::string meta_key(std::string_view name) {
  std::string k = ns_prefix(kMetaNamespace);
  k.append(name);
  return k;
}

}  // namespace lsm4kv::kvcache
