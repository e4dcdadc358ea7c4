#include "kvcache_api/prefix_key.h"

#include <xxhash.h>

#include <cstring>

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

Digest root_digest(NamespaceId ns) {
  const std::string b = ns_prefix(ns);
  XXH128_hash_t h = XXH3_128bits(b.data(), b.size());
  return {h.low64, h.high64};
}

Digest chain_digest(const Digest& parent, std::string_view page_token_bytes) {
  thread_local std::string buf;  // one hash call over both parts: faster than a streaming state
  buf.clear();
  put_fixed64(&buf, parent.low);
  put_fixed64(&buf, parent.high);
  buf.append(page_token_bytes);
  XXH128_hash_t h = XXH3_128bits(buf.data(), buf.size());
  return {h.low64, h.high64};
}

bool decode_tag(std::string_view tag, uint32_t page_tokens, PageTag* out) {
  if (tag.size() != kTagHeaderBytes + size_t{page_tokens} * sizeof(Token)) return false;
  out->ns = static_cast<NamespaceId>((static_cast<unsigned char>(tag[0]) << 8) | static_cast<unsigned char>(tag[1]));
  out->page = decode_fixed32(tag.data() + kNsBytes);
  out->parent.low = decode_fixed64(tag.data() + kNsBytes + 4);
  out->parent.high = decode_fixed64(tag.data() + kNsBytes + 12);
  out->tokens = tag.substr(kTagHeaderBytes);
  return true;
}

uint64_t page_fingerprint(std::string_view page_token_bytes, const Fingerprinter& fp) {
  if (!fp) return XXH3_64bits(page_token_bytes.data(), page_token_bytes.size());
  std::vector<Token> tokens(page_token_bytes.size() / sizeof(Token));
  std::memcpy(tokens.data(), page_token_bytes.data(), tokens.size() * sizeof(Token));
  return fp(tokens);
}

void append_fingerprint(std::string* key, uint64_t f) { put_be(key, f, kFingerprintBytes); }

std::vector<std::string> page_keys(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens,
                                   size_t pages, const Fingerprinter& fp) {
  std::vector<std::string> keys;
  keys.reserve(pages);
  std::string k = ns_prefix(ns);
  for (size_t p = 0; p < pages; p++) {
    auto page = tokens.subspan(p * page_tokens, page_tokens);
    uint64_t f = fp ? fp(page) : XXH3_64bits(page.data(), page.size_bytes());
    append_fingerprint(&k, f);
    keys.push_back(k);
  }
  return keys;
}

std::vector<std::string> page_tags(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens,
                                   size_t first, size_t count) {
  auto bytes_of = [&](size_t p) {
    auto page = tokens.subspan(p * page_tokens, page_tokens);
    return std::string_view(reinterpret_cast<const char*>(page.data()), page.size_bytes());
  };
  Digest d = root_digest(ns);
  for (size_t p = 0; p < first; p++) d = chain_digest(d, bytes_of(p));
  std::vector<std::string> tags;
  tags.reserve(count);
  for (size_t p = first; p < first + count; p++) {
    std::string t;
    t.reserve(kTagHeaderBytes + size_t{page_tokens} * sizeof(Token));
    put_be(&t, ns, kNsBytes);
    put_fixed32(&t, static_cast<uint32_t>(p));
    put_fixed64(&t, d.low);
    put_fixed64(&t, d.high);
    t.append(bytes_of(p));
    d = chain_digest(d, bytes_of(p));
    tags.push_back(std::move(t));
  }
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
