// SegmentPages: for each tensor-log segment, the index keys of the pages
// whose records were written to it (by a put or a collection's copy), each
// with the root of its prompt's subtree (its LRU entry). Region eviction
// (kv_store_region.cc) reads the list of the segment that goes instead of
// walking the whole index: the walk cost a round time in proportion to the
// store, the list costs it in proportion to the region.
//
// A list may name more than the segment holds: pages evicted or moved since
// they were written stay listed until their segment goes, so a reader looks
// each key up in the index and keeps those whose entry still points into the
// segment. It never names fewer: every way a page entry gets a location adds
// it (put_batch, put_pages, a collection's relocation, the loader at open),
// and KvStore::check_invariants checks that.
//
// Memory: one arena per segment, key + 2 (+ root) bytes per record (sizes
// as varints), ~60 bytes for a page of the first key window and ~85 deeper
// (a root is stored only where it is not a prefix of the key).
//
// Thread-safety: every method takes the object's mutex.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lsm4kv::kvcache {

struct ListedPage {
  std::string key;
  std::string root;  // its LRU root: the key itself for a keyed page; empty when unknown
};

class SegmentPages {
 public:
  // Lists key in segment, with its root. An empty root is "unknown" (a page
  // whose prefix the loader could not resolve: counted in no LRU entry).
  void add(uint64_t segment, std::string_view key, std::string_view root);
  // The pages listed for segment, in the order they were added.
  std::vector<ListedPage> of(uint64_t segment) const;
  // Forgets the segment's list (a collection took it).
  void erase(uint64_t segment);
  uint64_t memory_bytes() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, std::string> arenas_;  // segment -> records
};

}  // namespace lsm4kv::kvcache
