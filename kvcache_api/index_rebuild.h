// IndexRebuild: the store's index rebuilt from the tensor log alone, for a
// store whose index is damaged or gone (StoreOptions::on_corruption =
// kRebuild, KvStore::repair, `kvtool repair`).
//
// Every tensor record's tag names its namespace, its page index, the chained
// digest of the prompt before the page and the page's tokens (prefix_key.h),
// so each record knows its own digest d_i = chain(parent digest, tokens) and
// its parent's. From the valid records (checksum verified by the scan):
//   - the newest record of a page (the same d_i) wins, by (segment, offset):
//     older copies (a GC copy whose collection never committed, a page put
//     again after an eviction) are duplicates;
//   - a root page's key is ns | fp(page 0); a page's key is its parent's key
//     | fp(its tokens). A page whose parent has no valid record is dropped
//     with all its descendants, so the key set is prefix-closed again;
//   - records of no registered namespace or of another page size are
//     foreign and left out.
// Every record not kept becomes unreferenced, and the store's open reports
// it dead (orphans): GC reclaims it. Recency: ticks in (segment, offset)
// order, so the oldest writes are evicted first.
//
// Thread-safety: none (one rebuild, one thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "kvcache_api/kv_store.h"
#include "kvcache_api/prefix_key.h"

namespace lsm4kv::kvcache {

class IndexRebuilder {
 public:
  IndexRebuilder(uint32_t page_tokens, uint32_t key_window_pages, std::set<NamespaceId> namespaces, Fingerprinter fp)
      : page_tokens_(page_tokens), window_(key_window_pages), namespaces_(std::move(namespaces)), fp_(std::move(fp)) {}

  // A record whose checksum verified, with its tag.
  void add(const tensorlog::Location& loc, std::string_view tag);
  // A record that did not verify (or could not be read).
  void damaged(const tensorlog::Location& loc, const Status& why);
  // Calls emit(key, entry) for every kept page, each parent before its
  // children, and fills the counts of *report; stops at emit's first error.
  Status finish(const std::function<Status(std::string_view key, const PageEntry& entry)>& emit,
                RepairReport* report);

 private:
  struct Page {
    tensorlog::Location location;
    Digest parent;
    Digest own;
    uint64_t fingerprint = 0;
    uint32_t index = 0;
    NamespaceId ns = 0;
  };
  const uint32_t page_tokens_;
  const uint32_t window_;
  const std::set<NamespaceId> namespaces_;
  const Fingerprinter fp_;
  std::vector<Page> pages_;
  std::unordered_map<Digest, size_t, DigestHash> by_digest_;  // d_i -> pages_ index (the newest copy)
  std::map<std::string, tensorlog::Location> keyed_;          // keyed pages: index key -> newest record
  RepairReport counts_;
};

}  // namespace lsm4kv::kvcache
