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
// Tensor-record tag (store format version 2; compared whole on every read,
// built from the request's tokens), 22 + 4·P bytes:
//   0   u16    ns_id (big-endian)
//   2   u32    page index i (little-endian)
//   6   16 B   d_{i-1}: the chained digest of the prompt before this page,
//              u64 low then u64 high half (little-endian)
//   22  P × i32 the page's token ids (little-endian)
// The chained digest of a prompt up to and including page i:
//   d_{-1} = XXH3-128 of the 2 big-endian bytes of ns_id   (root_digest)
//   d_i    = XXH3-128 of the 16 bytes of d_{i-1} (as in the tag) followed by
//            the 4·P bytes of page i's token ids           (chain_digest)
// So each record names its parent: the record of page i-1 is the one whose
// own d (its tag's parent digest chained with its tokens) equals this tag's
// parent digest, and the index can be rebuilt from the log alone
// (index_rebuild.h). Format version 1 (before) held d_i itself in bytes
// 6..22 (a digest of every token from the prompt's start): a record could
// not name its parent. A store of version 1 is refused at open.
//
// Metadata lives under the reserved namespace id 0xFFFF:
//   0xFFFF "cfg"         -> varint page_tokens | varint store format version
//                           (version absent: format 1)
//   0xFFFF "ns:" name    -> u16 id | varint layers | varint kv_heads | varint head_dim | u8 dtype
// and is mirrored in the CONFIG file of the store's directory (store_config.h).
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
constexpr size_t kDigestBytes = 16;
constexpr size_t kTagHeaderBytes = kNsBytes + 4 + kDigestBytes;  // the tag before its tokens
// The store format this build writes and reads (the "cfg" record).
constexpr uint32_t kStoreFormatVersion = 2;

using Fingerprinter = std::function<uint64_t(std::span<const Token>)>;

// The keys of pages 0..pages-1 of tokens (pages = whole pages wanted).
std::vector<std::string> page_keys(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens,
                                   size_t pages, const Fingerprinter& fp);
// A chained prompt digest (see the tag format above).
struct Digest {
  uint64_t low = 0, high = 0;
  bool operator==(const Digest&) const = default;
};
Digest root_digest(NamespaceId ns);
// d_i from d_{i-1} and the raw bytes of page i's token ids.
Digest chain_digest(const Digest& parent, std::string_view page_token_bytes);

// A tensor-record tag taken apart; tokens points into the tag.
struct PageTag {
  NamespaceId ns = 0;
  uint32_t page = 0;
  Digest parent;
  std::string_view tokens;  // P × int32, little-endian
};
// False when tag is not the size of a tag of page_tokens tokens.
bool decode_tag(std::string_view tag, uint32_t page_tokens, PageTag* out);
// The page's fingerprint in the index key: fp, or XXH3-64 of the token bytes.
uint64_t page_fingerprint(std::string_view page_token_bytes, const Fingerprinter& fp);
// Appends the big-endian fingerprint of one page to a key.
void append_fingerprint(std::string* key, uint64_t f);

// The tags of pages [first, first+count).
std::vector<std::string> page_tags(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens,
                                   size_t first, size_t count);
// The smallest key greater than every key that starts with prefix.
std::string key_successor(std::string_view prefix);
// Pages of key (its fingerprint count); 0 for a malformed key.
size_t key_pages(std::string_view key);
// The namespace prefix of a data key.
std::string ns_prefix(NamespaceId ns);

// Bytes a record takes on disk (tensorlog::allocated_bytes): what capacity
// counts.
inline uint64_t disk_bytes(const tensorlog::Location& l) { return tensorlog::allocated_bytes(l); }

struct PageEntry {
  tensorlog::Location location;
  uint64_t tick = 0;
  void encode_to(std::string* dst) const;
  bool decode_from(std::string_view in);
};

std::string meta_key(std::string_view name);

}  // namespace lsm4kv::kvcache
