// PrefixKey: the encodings the store writes into the index and the tensor
// log (store format version 4).
//
// Chained digest of a prompt up to and including page i (128 bits):
//   d_{-1} = XXH3-128 of the 2 big-endian bytes of ns_id   (root_digest)
//   d_i    = XXH3-128 of the 16 bytes of d_{i-1} (u64 low then u64 high,
//            little-endian) followed by the 4·P bytes of page i's token ids
//            (little-endian int32)                          (chain_digest)
//
// Index key of page i: windows of W pages (W = the store's key_window_pages,
// fixed when it is created). Page i is in window w = i / W, which starts at
// page s = w·W:
//   u16 ns_id (big-endian) | 16 B d_{s-1} | u64 f(page s) | ... | u64 f(page i)
// f = XXH3-64 of the page's token ids (big-endian in the key). A key is at
// most 18 + 8·W bytes whatever the depth of the page. Within a window the
// key of a prefix is a byte-prefix of its extensions' keys, so the part of a
// subtree inside one window is the key range [key, key_successor(key)); the
// pages below a window's last page i start the next window, whose keys all
// begin with ns | d_i: one more range. A subtree is walked range by range
// (subtree_walk.h). W = 1 is the plain chained-digest key (ns | d_{i-1} |
// f(page i) names the same prefix as d_i): every page is its own window.
//
// Index value:  varint-encoded tensorlog::Location | varint64 tick
//               [| 16 B d_i, only for the last page of a window (i % W ==
//               W - 1): the prefix of the next window's keys]
//   tick = a store-wide counter at the time of the put (recency across restarts)
//
// Tensor-record tag (compared whole on every read, built from the request's
// tokens), kTagBytes = 46 bytes whatever the page size P:
//   0   u16    ns_id (big-endian)
//   2   u32    page index i (little-endian)
//   6   16 B   d_{i-1}: the chained digest of the prompt before this page
//   22  u64    f(page i): the page's fingerprint, as in the index key
//              (big-endian)
//   30  16 B   d_i: the chained digest through this page
// So each record names its parent: the record of page i-1 is the one whose
// d_i equals this tag's d_{i-1}; and a window key (ns | d_{s-1} | f(s) ...
// f(i)) is made of tag fields of pages s..i, so the index can be rebuilt from
// the log alone (index_rebuild.h). The page size is not in the tag: it is
// fixed when a store is created, so every record of a store has it.
//
// What a read verifies (the trust boundary). The reader builds the whole tag
// from the request's tokens and the tensor log compares it byte for byte with
// the record's (after the record's checksum): namespace, page index, parent
// digest, fingerprint and d_i must all be equal. A record returned for a prompt
// therefore has the same namespace and depth and the same 128-bit chained XXH3
// digest of every token through its page. The tokens themselves are not stored
// (format 3 kept them: 4·P bytes, 2 KiB of a 36 KiB page at P = 512), so the
// one way a wrong page could be returned is a collision of the chained XXH3-128
// digest (d_i equal for two different prefixes: about N^2 / 2^129 among N
// stored prefixes by chance, 2^-89 at a million) — the same trust the page-key
// API gives its callers' keys, and SGLang, vLLM and LMCache give their own page
// hashes. XXH3 is not a cryptographic hash: whoever chooses prompts could craft
// a collision and be served another prompt's page of the same namespace. The
// tag's namespace field keeps a read from ever matching another namespace's
// record, so tenants that do not trust each other belong in namespaces of their
// own. A collision of the 64-bit fingerprint alone (different tokens, one index
// key) is caught: d_i differs, the tag does not match, and the get is a miss
// counted in StoreStats::collisions. Formats 1..3 (before) stored the page's token ids in the tag;
// stores of formats 1, 2 and 3 are refused at open. Format 2 keyed page i by ns
// | f(page 0) | ... | f(page i): 2 + 8·(i+1) bytes, 8 KiB at 1,024 pages.
//
// Keyed pages (the page-key API, KvStore::put_pages): the caller names each
// page with a key of its own (8..64 bytes; SGLang HiCache: a chained SHA-256
// of the prompt through the page). Index key = u16 (ns | 0x8000) big-endian
// | the caller's key; value = Location | tick. The record's tag is the index
// key itself: a read checks that the record is the one stored under that key
// (no tokens are known: the caller's key is trusted to name the prefix).
// Namespace ids of token pages are therefore below 0x8000.
//
// Metadata lives under the reserved namespace id 0xFFFF:
//   0xFFFF "cfg"         -> varint page_tokens | varint store format version
//                           | varint key_window_pages (formats 3 and 4)
//   0xFFFF "ns:" name    -> u16 id | varint layers | varint kv_heads | varint head_dim | u8 dtype
//                           (opaque: u16 id | 0 | 0 | varint bytes per token | u8 0x80)
// and is mirrored in the CONFIG file of the store's directory (store_config.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
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
constexpr size_t kKeyHeadBytes = kNsBytes + kDigestBytes;  // a key before its fingerprints
constexpr size_t kTagBytes = kNsBytes + 4 + kDigestBytes + kFingerprintBytes + kDigestBytes;  // a page's tag
// The store format this build writes and reads (the "cfg" record).
constexpr uint32_t kStoreFormatVersion = 4;
constexpr uint32_t kMaxKeyWindowPages = 64;
constexpr NamespaceId kKeyedBit = 0x8000;

using Fingerprinter = std::function<uint64_t(std::span<const Token>)>;

// A chained prompt digest (see the format above).
struct Digest {
  uint64_t low = 0, high = 0;
  bool operator==(const Digest&) const = default;
};
struct DigestHash {
  size_t operator()(const Digest& d) const { return static_cast<size_t>(d.low ^ (d.high * 0x9e3779b97f4a7c15ull)); }
};
Digest root_digest(NamespaceId ns);
// d_i from d_{i-1} and the raw bytes of page i's token ids.
Digest chain_digest(const Digest& parent, std::string_view page_token_bytes);

// The keys of pages 0..pages-1 of a prompt and their chained digests
// (window = the store's key_window_pages). The digests are computed at
// construction (each depends on every token before it); a key only when it
// is asked for, with the fingerprints of its window: a probe of a deep prompt
// needs a few keys, not all. Not thread-safe.
class PromptKeys {
 public:
  PromptKeys(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens, size_t pages, uint32_t window,
             const Fingerprinter& fp);
  size_t size() const { return digests_.size(); }
  const std::string& key(size_t i) const;
  // Every key, in page order.
  const std::vector<std::string>& all_keys() const;
  // d_i, and d_{i-1}: the digest of the prompt before page i.
  const Digest& digest(size_t i) const { return digests_[i]; }
  Digest parent_of(size_t i) const { return i == 0 ? root_digest(ns_) : digests_[i - 1]; }
  // f(page i), computed once.
  uint64_t fingerprint(size_t i) const;
  NamespaceId ns() const { return ns_; }

 private:
  const NamespaceId ns_;
  const std::span<const Token> tokens_;
  const uint32_t page_tokens_, window_;
  const Fingerprinter fp_;
  std::vector<Digest> digests_;
  mutable std::vector<std::string> keys_;      // empty: not computed yet
  mutable std::vector<uint64_t> fingerprints_;
  mutable std::vector<bool> have_fingerprint_;
};
inline PromptKeys prompt_keys(NamespaceId ns, std::span<const Token> tokens, uint32_t page_tokens, size_t pages,
                              uint32_t window, const Fingerprinter& fp) {
  return PromptKeys(ns, tokens, page_tokens, pages, window, fp);
}
// The tags of pages [first, first+count) of a prompt whose keys are k.
std::vector<std::string> page_tags(const PromptKeys& k, size_t first, size_t count);

// A tensor-record tag taken apart.
struct PageTag {
  NamespaceId ns = 0;
  uint32_t page = 0;
  Digest parent;            // d_{i-1}
  uint64_t fingerprint = 0;  // f(page i)
  Digest digest;            // d_i
};
std::string encode_tag(const PageTag& t);
// False when tag is not kTagBytes long.
bool decode_tag(std::string_view tag, PageTag* out);
// The page's fingerprint in the index key: fp, or XXH3-64 of the token bytes.
uint64_t page_fingerprint(std::string_view page_token_bytes, const Fingerprinter& fp);

// Keys taken apart. A key is well-formed when it is ns | digest | 1..window
// fingerprints.
bool key_well_formed(std::string_view key, uint32_t window);
// Pages of the key's window up to and including its page (1..W).
size_t key_window_pages(std::string_view key);
NamespaceId key_namespace(std::string_view key);
Digest key_digest(std::string_view key);  // the digest before the key's window
uint64_t key_fingerprint(std::string_view key);  // its page's
// The key of the first page of a window: ns | parent | f.
std::string window_key(NamespaceId ns, const Digest& parent, uint64_t f);
// Appends the big-endian fingerprint of one page to a key.
void append_fingerprint(std::string* key, uint64_t f);
// The prefix of every key of the window that starts after a page whose
// chained digest is d: ns | d.
std::string window_prefix(NamespaceId ns, const Digest& d);
// The smallest key greater than every key that starts with prefix.
std::string key_successor(std::string_view prefix);
// The namespace prefix of a data key.
std::string ns_prefix(NamespaceId ns);

// Bytes a record takes on disk (tensorlog::allocated_bytes): what capacity
// counts.
inline uint64_t disk_bytes(const tensorlog::Location& l) { return tensorlog::allocated_bytes(l); }

struct PageEntry {
  tensorlog::Location location;
  uint64_t tick = 0;
  std::optional<Digest> digest;  // d_i, on a window's last page only
  void encode_to(std::string* dst) const;
  bool decode_from(std::string_view in);
};

std::string meta_key(std::string_view name);

// Keyed pages (see above).
std::string keyed_page_key(NamespaceId ns, std::string_view key);
// An index key (or a record tag) of a keyed page: its namespace has the
// keyed bit and is not the metadata's.
bool is_keyed_page(std::string_view index_key);

}  // namespace lsm4kv::kvcache
