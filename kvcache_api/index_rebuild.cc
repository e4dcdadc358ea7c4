#include "kvcache_api/index_rebuild.h"

#include <algorithm>

namespace lsm4kv::kvcache {
namespace {

constexpr size_t kMaxProblems = 100;  // then only counted

}  // namespace

void IndexRebuilder::add(const tensorlog::Location& loc, std::string_view tag) {
  counts_.records_scanned++;
  if (is_keyed_page(tag)) {  // the tag is the page's index key (prefix_key.h)
    const size_t key_bytes = tag.size() - kNsBytes;
    if (!namespaces_.count(static_cast<NamespaceId>(key_namespace(tag) & ~kKeyedBit)) ||
        key_bytes < kMinPageKeyBytes || key_bytes > kMaxPageKeyBytes) {
      counts_.foreign_records++;
      return;
    }
    auto [it, inserted] = keyed_.try_emplace(std::string(tag), loc);
    if (!inserted) {
      counts_.duplicates++;
      if (it->second < loc) it->second = loc;  // newest wins
    }
    return;
  }
  PageTag t;
  if (!decode_tag(tag, &t) || !namespaces_.count(t.ns)) {
    counts_.foreign_records++;
    return;
  }
  Page p{loc, t.parent, t.digest, t.fingerprint, t.page, t.ns};
  auto [it, inserted] = by_digest_.try_emplace(t.digest, pages_.size());
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
  // Recency follows write order: tick = rank by (segment, offset), token
  // and keyed pages together.
  std::vector<tensorlog::Location> written;
  for (const Page& p : pages_) written.push_back(p.location);
  for (const auto& [key, loc] : keyed_) written.push_back(loc);
  std::sort(written.begin(), written.end());
  auto tick_of = [&](const tensorlog::Location& l) {
    return static_cast<uint64_t>(std::lower_bound(written.begin(), written.end(), l) - written.begin()) + 1;
  };
  std::vector<uint64_t> tick(pages_.size());
  for (size_t i = 0; i < pages_.size(); i++) tick[i] = tick_of(pages_[i].location);
  for (const auto& [key, loc] : keyed_) LSM4KV_RETURN_IF_ERROR(emit(key, PageEntry{loc, tick_of(loc), std::nullopt}));

  // Depth first from each root: the key of a page is its parent's followed
  // by its fingerprint, or a new window's. A frame carries its parent's key
  // when it continues the parent's window: a sibling's subtree may have
  // started other windows since the parent was visited.
  uint64_t kept = 0;
  struct Frame {
    size_t page;
    std::string parent_key;  // empty for a page that starts a window
  };
  std::vector<Frame> stack;
  for (size_t r : roots) {
    stack.push_back({r, {}});
    while (!stack.empty()) {
      Frame f = std::move(stack.back());
      stack.pop_back();
      const Page& p = pages_[f.page];
      std::string key = p.index % window_ == 0 ? window_prefix(p.ns, p.parent) : std::move(f.parent_key);
      append_fingerprint(&key, p.fingerprint);
      PageEntry e{p.location, tick[f.page], std::nullopt};
      const bool window_end = p.index % window_ == window_ - 1;
      if (window_end) e.digest = p.own;
      LSM4KV_RETURN_IF_ERROR(emit(key, e));
      kept++;
      for (size_t c = first_child[f.page]; c != kNone; c = next_sibling[c])
        stack.push_back({c, window_end ? std::string() : key});
    }
  }
  *report = counts_;
  report->pages_kept = kept + keyed_.size();
  report->pages_dropped = pages_.size() - kept;
  return Status::OK();
}

}  // namespace lsm4kv::kvcache
