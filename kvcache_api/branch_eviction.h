// Branch eviction: which parts of one prefix subtree to evict when evicting
// all of it is wrong — the subtree is the one a put extends (a system prompt
// every request starts with makes the whole cache one subtree), or it is far
// bigger than the bytes to free.
//
// The pages of the subtree come as a walk gives them (subtree_walk.h), each
// after its parent. A page's age is the newest put tick in its own subtree,
// so a page is never older than a descendant and evicting "the oldest pages
// first" removes whole branches: the set chosen is closed under descendants,
// and the key set stays prefix-closed. Pages on a protected path (the
// prefixes a put extends) are never chosen. delete_chosen() deletes them with
// one range deletion per branch root and per window they reach
// (prefix_key.h), a point deletion where a range holds one page.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/write_batch.h"

namespace lsm4kv::kvcache {

struct SubtreePage {
  std::string key;
  uint64_t tick = 0;   // put tick of this page
  uint64_t bytes = 0;  // its record on disk
  size_t parent = SIZE_MAX;  // index of its parent in the list; SIZE_MAX: the subtree's root
  size_t depth = 0;
};

struct BranchChoice {
  std::vector<size_t> roots;       // indexes of the chosen branch roots
  std::vector<size_t> pages;       // indexes of every chosen page (roots and their descendants)
  uint64_t bytes = 0;              // their bytes
};

// Chooses the oldest branches of `pages` (one subtree, parents first) worth
// at least `bytes`, or as many as there are; never a page whose key is in
// `protect`.
BranchChoice choose_branches(const std::vector<SubtreePage>& pages, const std::unordered_set<std::string>& protect,
                             uint64_t bytes);
// Adds the deletions of the chosen pages (closed under descendants) to batch.
void delete_chosen(const std::vector<SubtreePage>& pages, const BranchChoice& choice, uint32_t window,
                   engine::WriteBatch* batch);

}  // namespace lsm4kv::kvcache
