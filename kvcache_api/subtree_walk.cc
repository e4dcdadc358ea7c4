#include "kvcache_api/subtree_walk.h"

#include <vector>

namespace lsm4kv::kvcache {

Status walk_pages(engine::Iterator* it, std::string_view prefix, size_t depth_before, uint32_t window,
                     const PageVisitor& visit) {
  struct Range {
    std::string prefix;
    size_t depth_before;
    size_t parent;  // visit index of the window-last page above it
  };
  std::vector<Range> ranges{{std::string(prefix), depth_before, kNoParent}};
  struct Open {
    std::string key;
    size_t index;
  };
  std::vector<Open> path;  // the current key's ancestors within its range
  size_t visited = 0;
  while (!ranges.empty()) {
    const Range r = std::move(ranges.back());
    ranges.pop_back();
    const std::string end = key_successor(r.prefix);
    path.clear();
    for (it->seek(r.prefix); it->valid() && it->key() < end; it->next()) {
      const std::string_view key = it->key();
      const size_t in_window = key_window_pages(key);
      if (in_window == 0 || in_window > window) continue;  // not a page key of this store
      while (!path.empty() && !key.starts_with(path.back().key)) path.pop_back();
      WalkedPage w;
      w.key = key;
      w.depth = r.depth_before + in_window;
      w.index = visited++;
      if (!path.empty() && path.back().key.size() + kFingerprintBytes == key.size()) w.parent = path.back().index;
      else if (in_window == 1) w.parent = r.parent;
      PageEntry e;
      if (e.decode_from(it->value())) w.entry = &e;
      if (!visit(w)) return it->status();
      path.push_back({std::string(key), w.index});
      if (w.entry != nullptr && in_window == window && e.digest)
        ranges.push_back({window_prefix(key_namespace(key), *e.digest), w.depth, w.index});
    }
    LSM4KV_RETURN_IF_ERROR(it->status());
  }
  return Status::OK();
}

Status walk_pages(engine::DB* db, std::string_view prefix, size_t depth_before, uint32_t window,
                  const PageVisitor& visit) {
  auto it = db->new_iterator({});
  return walk_pages(it.get(), prefix, depth_before, window, visit);
}

}  // namespace lsm4kv::kvcache
