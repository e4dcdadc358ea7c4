#include "kvcache_api/index_rebuild.h"

#include <algorithm>
#include <numeric>

namespace lsm4kv::kvcache {
namespace {

constexpr size_t kMaxProblems = 100;  // then only counted

}  // namespace

void IndexRebuilder::add(const tensorlog::Location& loc, std::string_view tag) {
  counts_.records_scanned++;
  PageTag t;
  if (!decode_tag(tag, page_tokens_, &t) || !namespaces_.count(t.ns)) {
    counts_.foreign_records++;
    return;
  }
  const Digest own = chain_digest(t.parent, t.tokens);
  Page p{loc, t.parent, own, page_fingerprint(t.tokens, fp_), t.page, t.ns};
  auto [it, inserted] = by_digest_.try_emplace(own, pages_.size());
  if (!inserted) {
    counts_.duplicates++;
    Page& kept = pages_[it->second];
    if (kept.location < loc) kept = p;  // newest wins
    return;
  }
  pages_.push_back(p);
}

void IndexRebuilder::damaged(const tensorlog::Location& loc, const Status& why) {
  counts_.records_scanned++;
  counts_.damaged_records++;
  if (counts_.problems.size() < kMaxProblems) counts_.problems.push_back(loc.to_string() + ": " + why.to_string());
}

Status IndexRebuilder::finish(const std::function<Status(std::string_view key, const PageEntry& entry)>& emit,
                              RepairReport* report) {
  // Children of each page; roots are pages 0 whose parent is their
  // namespace's seed. Everything else hangs off no kept page: dropped.
  constexpr size_t kNone = SIZE_MAX;
  std::vector<size_t> first_child(pages_.size(), kNone), next_sibling(pages_.size(), kNone);
  std::vector<size_t> roots;
  for (size_t i = 0; i < pages_.size(); i++) {
    const Page& p = pages_[i];
    if (p.index == 0) {
      if (p.parent == root_digest(p.ns)) roots.push_back(i);
      continue;
    }
    auto parent = by_digest_.find(p.parent);
    if (parent == by_digest_.end()) continue;
    const Page& q = pages_[parent->second];
    if (q.ns != p.ns || q.index + 1 != p.index) continue;
    next_sibling[i] = first_child[parent->second];
    first_child[parent->second] = i;
  }
  // Recency follows write order: tick = rank by (segment, offset).
  std::vector<size_t> order(pages_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pages_[a].location < pages_[b].location; });
  std::vector<uint64_t> tick(pages_.size());
  for (size_t r = 0; r < order.size(); r++) tick[order[r]] = r + 1;

  // Depth first from each root, one key buffer: the key of a page is its
  // parent's followed by its fingerprint, or a new window's.
  uint64_t kept = 0;
  std::string key;
  struct Frame {
    size_t page;
    size_t key_size;  // the key's length before this page's fingerprint
  };
  std::vector<Frame> stack;
  for (size_t r : roots) {
    stack.push_back({r, 0});
    while (!stack.empty()) {
      const Frame f = stack.back();
      stack.pop_back();
      const Page& p = pages_[f.page];
      if (p.index % window_ == 0) key = window_prefix(p.ns, p.parent);
      else key.resize(f.key_size);
      append_fingerprint(&key, p.fingerprint);
      PageEntry e{p.location, tick[f.page], std::nullopt};
      if (p.index % window_ == window_ - 1) e.digest = p.own;
      LSM4KV_RETURN_IF_ERROR(emit(key, e));
      kept++;
      for (size_t c = first_child[f.page]; c != kNone; c = next_sibling[c]) stack.push_back({c, key.size()});
    }
  }
  *report = counts_;
  report->pages_kept = kept;
  report->pages_dropped = pages_.size() - kept;
  return Status::ok();
}

}  // namespace lsm4kv::kvcache
