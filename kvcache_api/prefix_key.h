// PrefixKey: the encodings the store writes into the index and the tensor
// log.
//
// Index key of page i of a prompt (prefix-preserving):
//   u16 ns_id (big-endian) | u64 f(page 0) | ... | u64 f(page i)   (big-endian)
// f = XXH3-64 of the page's token ids (little-endian int32). The key of a
// prefix is a byte-prefix of its extensions' keys, so a subtree is the range
// [key, key_successor(key)).
//
// Index value:  varint-encoded tensorlog::Location | varint64 tick
//   tick = a store-wide counter at the time of the put (recency across restarts)
//
// Tensor-record tag (compared on every read):
//   u16 ns_id | u32 page index | 16 bytes XXH3-128 of every token from the
//   prompt's start to the page's end | P × int32 the page's token ids
//
// Metadata lives under the reserved namespace id 0xFFFF:
//   0xFFFF "cfg"         -> varint page_tokens
//   0xFFFF "ns:" name    -> u16 id | varint layers | varint kv_heads | varint head_dim | u8 dtype
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache_api/kv_store.h"
#include "tensorlog/record_format.h"

namespace lsm4kv::kvcache {

constexpr NamespaceId kMetaNamespace = 0xFFFF;
constexpr size_t kNsBytes = 2;
constexpr size_t kFingerprintBytes = 8;

using Fingerprinter = std::function<uint64_t(std::span<const Token>)>;

// The keys of pages 0..pages-1 of tokens (pages = whole pages wanted).
std::vector<std::string> page_keys(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens,
                                   size_t pages, const Fingerprinter& fp);
// The tags of pages [first, first+count).
std::vector<std::string> page_tags(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens,
                                   size_t first, size_t count);
// The smallest key greater than every key that starts with prefix.
std::string key_successor(std::string_view prefix);
// Pages of key (its fingerprint count); 0 for a malformed key.
size_t key_pages(std::string_view key);
// The namespace prefix of a data key.
std::string ns_prefix(NamespaceId ns);

// Bytes a record takes on disk (records are aligned for O_DIRECT): what
// capacity counts.
inline uint64_t disk_bytes(const tensorlog::Location& l) {
  return (l.length + tensorlog::kAlign - 1) / tensorlog::kAlign * tensorlog::kAlign;
}

struct PageEntry {
  tensorlog::Location location;
  uint64_t tick = 0;
  void encode_to(std::string* dst) const;
  bool decode_from(std::string_view in);
};

std::string meta_key(std::string_view name);

}  // namespace lsm4kv::kvcache
