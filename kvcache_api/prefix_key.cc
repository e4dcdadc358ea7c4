#include "kvcache_api/prefix_key.h"

#include <xxhash.h>

#include <atomic>
#include <cstring>

#include "base/coding.h"
#include "kvcache_api/test_hooks.h"

namespace lsm4kv::kvcache {
namespace {

void put_be(std::string* dst, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--) dst->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void append_digest(std::string* dst, const Digest& d) {
  put_fixed64(dst, d.low);
  put_fixed64(dst, d.high);
}

Digest read_digest(const char* p) { return {decode_fixed64(p), decode_fixed64(p + 8)}; }

uint64_t read_fingerprint(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < kFingerprintBytes; i++) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
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

namespace testing {
namespace {
KeyHooks g_hooks;
std::atomic<bool> g_chain_hooked{false};
}  // namespace

KeyHooks set_key_hooks(KeyHooks hooks) {
  KeyHooks previous = std::move(g_hooks);
  g_hooks = std::move(hooks);
  g_chain_hooked = static_cast<bool>(g_hooks.chain);
  return previous;
}

const KeyHooks& key_hooks() { return g_hooks; }
}  // namespace testing

Digest chain_digest(const Digest& parent, std::string_view page_token_bytes) {
  if (testing::g_chain_hooked.load(std::memory_order_relaxed)) return testing::g_hooks.chain(parent, page_token_bytes);
  thread_local std::string buf;  // one hash call over both parts: faster than a streaming state
  buf.clear();
  append_digest(&buf, parent);
  buf.append(page_token_bytes);
  XXH128_hash_t h = XXH3_128bits(buf.data(), buf.size());
  return {h.low64, h.high64};
}

std::string encode_tag(const PageTag& t) {
  std::string s;
  s.reserve(kTagBytes);
  put_be(&s, t.ns, kNsBytes);
  put_fixed32(&s, t.page);
  append_digest(&s, t.parent);
  put_be(&s, t.fingerprint, kFingerprintBytes);
  append_digest(&s, t.digest);
  return s;
}

bool decode_tag(std::string_view tag, PageTag* out) {
  if (tag.size() != kTagBytes) return false;
  const char* p = tag.data();
  out->ns = key_namespace(tag);
  out->page = decode_fixed32(p + kNsBytes);
  p += kNsBytes + 4;
  out->parent = read_digest(p);
  p += kDigestBytes;
  out->fingerprint = read_fingerprint(p);
  p += kFingerprintBytes;
  out->digest = read_digest(p);
  return true;
}

uint64_t page_fingerprint(std::string_view page_token_bytes, const Fingerprinter& fp) {
  if (!fp) return XXH3_64bits(page_token_bytes.data(), page_token_bytes.size());
  std::vector<Token> tokens(page_token_bytes.size() / sizeof(Token));
  std::memcpy(tokens.data(), page_token_bytes.data(), tokens.size() * sizeof(Token));
  return fp(tokens);
}

void append_fingerprint(std::string* key, uint64_t f) { put_be(key, f, kFingerprintBytes); }

namespace {

std::string_view token_bytes(std::span<const Token> tokens, uint32_t page_tokens, size_t page) {
  auto t = tokens.subspan(page * page_tokens, page_tokens);
  return {reinterpret_cast<const char*>(t.data()), t.size_bytes()};
}

}  // namespace

std::string window_prefix(NamespaceId ns, const Digest& d) {
  std::string k = ns_prefix(ns);
  append_digest(&k, d);
  return k;
}

std::string window_key(NamespaceId ns, const Digest& parent, uint64_t f) {
  std::string k = window_prefix(ns, parent);
  append_fingerprint(&k, f);
  return k;
}

PromptKeys::PromptKeys(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens, size_t pages,
                       uint32_t window, const Fingerprinter& fp)
    : ns_(ns), tokens_(tokens), page_tokens_(page_tokens), window_(window), fp_(fp), keys_(pages),
      fingerprints_(pages), have_fingerprint_(pages, false) {
  digests_.reserve(pages);
  Digest d = root_digest(ns);
  for (size_t p = 0; p < pages; p++) {
    d = chain_digest(d, token_bytes(tokens, page_tokens, p));
    digests_.push_back(d);
  }
}

uint64_t PromptKeys::fingerprint(size_t i) const {
  if (!have_fingerprint_[i]) {
    fingerprints_[i] = page_fingerprint(token_bytes(tokens_, page_tokens_, i), fp_);
    have_fingerprint_[i] = true;
  }
  return fingerprints_[i];
}

const std::string& PromptKeys::key(size_t i) const {
  std::string& k = keys_[i];
  if (!k.empty()) return k;
  const size_t start = i - i % window_;
  k.reserve(kKeyHeadBytes + (i - start + 1) * kFingerprintBytes);
  k = window_prefix(ns_, parent_of(start));
  for (size_t p = start; p <= i; p++) append_fingerprint(&k, fingerprint(p));
  return k;
}

const std::vector<std::string>& PromptKeys::all_keys() const {
  for (size_t i = 0; i < keys_.size(); i++) key(i);
  return keys_;
}

std::vector<std::string> page_tags(const PromptKeys& k, size_t first, size_t count) {
  std::vector<std::string> tags;
  tags.reserve(count);
  for (size_t p = first; p < first + count; p++)
    tags.push_back(encode_tag({k.ns(), static_cast<uint32_t>(p), k.parent_of(p), k.fingerprint(p), k.digest(p)}));
  return tags;
}

bool key_well_formed(std::string_view key, uint32_t window) {
  const size_t n = key_window_pages(key);
  return n >= 1 && n <= window;
}

size_t key_window_pages(std::string_view key) {
  if (key.size() < kKeyHeadBytes + kFingerprintBytes || (key.size() - kKeyHeadBytes) % kFingerprintBytes != 0) return 0;
  return (key.size() - kKeyHeadBytes) / kFingerprintBytes;
}

NamespaceId key_namespace(std::string_view key) {
  return static_cast<NamespaceId>((static_cast<unsigned char>(key[0]) << 8) | static_cast<unsigned char>(key[1]));
}

Digest key_digest(std::string_view key) { return read_digest(key.data() + kNsBytes); }

uint64_t key_fingerprint(std::string_view key) { return read_fingerprint(key.data() + key.size() - kFingerprintBytes); }

std::string key_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xff) s.pop_back();
  if (!s.empty()) s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;  // empty: no successor (prefix was all 0xff); callers never pass that
}

void PageEntry::encode_to(std::string* dst) const {
  location.encode_to(dst);
  put_varint64(dst, tick);
  if (digest) append_digest(dst, *digest);
}

bool PageEntry::decode_from(std::string_view in) {
  if (!location.decode_from(&in) || !get_varint64(&in, &tick)) return false;
  digest.reset();
  if (in.size() == kDigestBytes) digest = read_digest(in.data());
  else if (!in.empty()) return false;
  return true;
}

std::string keyed_page_key(NamespaceId ns, std::string_view key) {
  std::string k = ns_prefix(static_cast<NamespaceId>(ns | kKeyedBit));
  k.append(key);
  return k;
}

bool is_keyed_page(std::string_view index_key) {
  if (index_key.size() < kNsBytes) return false;
  const NamespaceId ns = key_namespace(index_key);
  return (ns & kKeyedBit) != 0 && ns != kMetaNamespace;
}

std::string meta_key(std::string_view name) {
  std::string k = ns_prefix(kMetaNamespace);
  k.append(name);
  return k;
}

}  // namespace lsm4kv::kvcache
