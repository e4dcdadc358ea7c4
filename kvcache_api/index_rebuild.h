// IndexRebuild: the store's index rebuilt from the tensor log alone, for a
// store whose index is damaged or gone (StoreOptions::on_corruption =
// kRebuild, KvStore::repair, `kvtool repair`).
//
// Every tensor record's tag names its namespace, its page index, the chained
// digest of the prompt before the page, the page's fingerprint and its own
// chained digest d_i (prefix_key.h). From the valid records (checksum
// verified by the scan):
//   - the newest record of a page (the same d_i) wins, by (segment, offset):
//     older copies (a GC copy whose collection never committed, a page put
//     again after an eviction) are duplicates;
//   - a page's parent is the record whose d_i is the tag's parent digest; the
//     key of a page that starts a window is ns | its parent digest | its
//     fingerprint, any other page's is its parent's key | its fingerprint. A
//     page whose parent has no valid record is dropped with all its
//     descendants, so the key set is prefix-closed again;
//   - records of no registered namespace are foreign and left out. (The page
//     size is fixed when a store is created, so a store's log holds no
//     record of another.)
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
  // The tags carry the fingerprints and digests the store computed when it
  // put each page (with its hooks): neither the page size nor a
  // fingerprinter is needed (store format 4).
  IndexRebuilder(uint32_t key_window_pages, std::set<NamespaceId> namespaces)
      : window_(key_window_pages), namespaces_(std::move(namespaces)) {}

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
  const uint32_t window_;
  const std::set<NamespaceId> namespaces_;
  std::vector<Page> pages_;
  std::unordered_map<Digest, size_t, DigestHash> by_digest_;  // d_i -> pages_ index (the newest copy)
  std::map<std::string, tensorlog::Location> keyed_;          // keyed pages: index key -> newest record
  RepairReport counts_;
};

}  // namespace lsm4kv::kvcache
