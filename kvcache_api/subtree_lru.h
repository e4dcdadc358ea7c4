// SubtreeLru: recency and size of every prefix subtree rooted at a prompt's
// first page, for eviction. Evicting a whole root subtree (one range
// deletion) keeps the stored key set prefix-closed; so does evicting some of
// its branches (branch_eviction.h), after which subtract() keeps its size.
//
// Thread-safety: none; the store guards it with a mutex.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace lsm4kv::kvcache {

class SubtreeLru {
 public:
  // Adds bytes to the subtree and raises its recency to at least tick.
  void add(const std::string& root, uint64_t bytes, uint64_t tick);
  void touch(const std::string& root, uint64_t tick);
  // Forgets the subtree; returns its bytes.
  uint64_t remove(const std::string& root);
  // Takes bytes off the subtree (some of its branches were evicted); its
  // recency stays.
  void subtract(const std::string& root, uint64_t bytes);
  uint64_t bytes_of(const std::string& root) const;
  // The least recently used root not in `keep`.
  std::optional<std::string> oldest(const std::vector<std::string>& keep = {}) const;
  uint64_t total_bytes() const { return total_; }
  size_t size() const { return roots_.size(); }
  // Bytes of RAM it takes (an estimate from its node and key sizes).
  uint64_t memory_bytes() const;

 private:
  struct Info {
    uint64_t bytes = 0;
    uint64_t tick = 0;
  };
  std::map<std::string, Info> roots_;
  std::set<std::pair<uint64_t, std::string>> by_tick_;
  uint64_t total_ = 0;
  uint64_t key_bytes_ = 0;  // capacity of the roots' keys
};

}  // namespace lsm4kv::kvcache
