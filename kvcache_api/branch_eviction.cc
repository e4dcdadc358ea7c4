#include "kvcache_api/branch_eviction.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "kvcache_api/prefix_key.h"

namespace lsm4kv::kvcache {

BranchChoice choose_branches(const std::vector<SubtreePage>& pages, const std::vector<std::string>& protect,
                             uint64_t bytes) {
  constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
  const size_t n = pages.size();
  // age[i]: the newest tick in page i's subtree; kNever on a protected path.
  std::vector<uint64_t> age(n);
  for (size_t i = 0; i < n; ++i) {
    age[i] = pages[i].tick;
    for (const std::string& p : protect)
      if (std::string_view(p).starts_with(pages[i].key)) age[i] = kNever;
  }
  // Depth-first order: a page's ancestors are on the stack when it comes.
  std::vector<size_t> stack;
  auto pop = [&] {
    size_t done = stack.back();
    stack.pop_back();
    if (!stack.empty()) age[stack.back()] = std::max(age[stack.back()], age[done]);
  };
  for (size_t i = 0; i < n; ++i) {
    while (!stack.empty() && !std::string_view(pages[i].key).starts_with(pages[stack.back()].key)) pop();
    stack.push_back(i);
  }
  while (!stack.empty()) pop();

  // Oldest first; among equal ages the deeper first, so that every prefix of
  // this order holds a page's descendants whenever it holds the page.
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i)
    if (age[i] != kNever) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (age[a] != age[b]) return age[a] < age[b];
    return pages[a].key.size() > pages[b].key.size();
  });
  BranchChoice out;
  size_t take = 0;
  while (take < order.size() && out.bytes < bytes) {
    // A whole age group at once: a branch's pages share its age.
    const uint64_t a = age[order[take]];
    for (; take < order.size() && age[order[take]] == a; ++take) out.bytes += pages[order[take]].bytes;
  }
  std::unordered_set<std::string_view> chosen;
  for (size_t k = 0; k < take; ++k) {
    out.pages.push_back(order[k]);
    chosen.insert(pages[order[k]].key);
  }
  std::sort(out.pages.begin(), out.pages.end());
  for (size_t i : out.pages) {
    std::string_view key = pages[i].key;
    std::string_view parent = key.substr(0, key.size() - kFingerprintBytes);
    if (key_pages(key) <= 1 || !chosen.count(parent)) out.roots.emplace_back(key);
  }
  return out;
}

}  // namespace lsm4kv::kvcache
