#include "kvcache_api/branch_eviction.h"

#include <algorithm>
#include <limits>

#include "kvcache_api/prefix_key.h"

namespace lsm4kv::kvcache {

BranchChoice choose_branches(const std::vector<SubtreePage>& pages, const std::unordered_set<std::string>& protect,
                             uint64_t bytes) {
  constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
  const size_t n = pages.size();
  // age[i]: the newest tick in page i's subtree; kNever on a protected path.
  std::vector<uint64_t> age(n);
  for (size_t i = 0; i < n; ++i) age[i] = protect.count(pages[i].key) ? kNever : pages[i].tick;
  for (size_t i = n; i-- > 0;)  // children come after their parent
    if (pages[i].parent < n) age[pages[i].parent] = std::max(age[pages[i].parent], age[i]);

  // Oldest first; among equal ages the deeper first, so that every prefix of
  // this order holds a page's descendants whenever it holds the page.
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i)
    if (age[i] != kNever) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (age[a] != age[b]) return age[a] < age[b];
    return pages[a].depth > pages[b].depth;
  });
  BranchChoice out;
  size_t take = 0;
  while (take < order.size() && out.bytes < bytes) {
    // A whole age group at once: a branch's pages share its age.
    const uint64_t a = age[order[take]];
    for (; take < order.size() && age[order[take]] == a; ++take) out.bytes += pages[order[take]].bytes;
  }
  std::vector<bool> chosen(n, false);
  for (size_t k = 0; k < take; ++k) {
    out.pages.push_back(order[k]);
    chosen[order[k]] = true;
  }
  std::sort(out.pages.begin(), out.pages.end());
  for (size_t i : out.pages)
    if (pages[i].parent >= n || !chosen[pages[i].parent]) out.roots.push_back(i);
  return out;
}

void delete_chosen(const std::vector<SubtreePage>& pages, const BranchChoice& choice, uint32_t window,
                   engine::WriteBatch* batch) {
  std::vector<bool> chosen(pages.size(), false);
  for (size_t i : choice.pages) chosen[i] = true;
  for (size_t i : choice.pages) {
    const std::string& key = pages[i].key;
    const size_t in_window = key_window_pages(key);
    // Inside its parent's window, the parent's range deletion covers it.
    if (in_window > 1 && pages[i].parent < pages.size() && chosen[pages[i].parent]) continue;
    if (in_window == window) batch->delete_key(key);  // its range holds only itself
    else batch->delete_range(key, key_successor(key));
  }
}

}  // namespace lsm4kv::kvcache
