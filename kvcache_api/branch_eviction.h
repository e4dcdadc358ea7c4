// Branch eviction: which parts of one prefix subtree to evict when evicting
// all of it is wrong — the subtree is the one a put extends (a system prompt
// every request starts with makes the whole cache one subtree), or it is far
// bigger than the bytes to free.
//
// The pages of the subtree come in key order, which is depth-first order (a
// page's key is a prefix of its children's). A page's age is the newest put
// tick in its own subtree, so a page is never older than a descendant and
// evicting "the oldest pages first" removes whole branches: the set chosen is
// closed under descendants, and the key set stays prefix-closed. Pages on a
// protected path (the prefixes a put extends) are never chosen. Each chosen
// branch is deleted with one range deletion of its root's key range.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lsm4kv::kvcache {

struct SubtreePage {
  std::string key;
  uint64_t tick = 0;   // put tick of this page
  uint64_t bytes = 0;  // its record on disk
};

struct BranchChoice {
  std::vector<std::string> roots;  // branch roots to range-delete, in key order
  std::vector<size_t> pages;       // indexes of every chosen page (roots and their descendants)
  uint64_t bytes = 0;              // their bytes
};

// Chooses the oldest branches of `pages` (one subtree, key order) worth at
// least `bytes`, or as many as there are; never a page whose key is a prefix
// of a key in `protect`.
BranchChoice choose_branches(const std::vector<SubtreePage>& pages, const std::vector<std::string>& protect,
                             uint64_t bytes);

}  // namespace lsm4kv::kvcache
