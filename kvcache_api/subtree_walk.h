// SubtreeWalk: the pages of a prefix subtree (or of a namespace's whole
// forest), found range by range in the index (prefix_key.h).
//
// Within one window a subtree is one key range; the pages below a window's
// last page i start a new window whose keys all begin with ns | d_i, and d_i
// is in page i's index value. So a walk scans [prefix, successor) and, for
// every window-last page it meets, one more range: ranges = 1 + the number
// of window-last pages in the subtree (pages / W on a chain).
//
// Every page comes after its parent (not in key order, nor depth first
// across windows); WalkedPage::parent is the visit index of its parent, or
// kNoParent for the pages of the first range whose parent is not in it (the
// root of a subtree walk; every root of a forest walk).
//
// One iterator serves the whole walk: it sees one snapshot of the index.
//
// Thread-safety: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/db.h"
#include "kvcache_api/prefix_key.h"

namespace lsm4kv::kvcache {

inline constexpr size_t kNoParent = SIZE_MAX;

struct WalkedPage {
  std::string_view key;
  const PageEntry* entry = nullptr;  // null: the value does not decode (the walk does not go below it)
  size_t depth = 0;                  // 1 = a prompt's first page
  size_t parent = kNoParent;         // visit index of the parent page
  size_t index = 0;                  // this page's visit index
};

// Returns false to stop the walk.
using PageVisitor = std::function<bool(const WalkedPage&)>;

// Walks the pages whose keys start with `prefix` and everything below them.
// depth_before: pages of the prompt before the prefix's window (prefix =
// a page key of depth d: d - key_window_pages(key); prefix = ns | d_i of a
// page of depth d: d; a namespace's forest, ns | root_digest: 0).
Status walk_pages(engine::DB* db, std::string_view prefix, size_t depth_before, uint32_t window,
                  const PageVisitor& visit);
// The same over an iterator the caller keeps: many walks, one snapshot.
Status walk_pages(engine::Iterator* it, std::string_view prefix, size_t depth_before, uint32_t window,
                  const PageVisitor& visit);

// The subtree of the page whose key is `key` and depth `depth`.
inline Status walk_subtree(engine::DB* db, std::string_view key, size_t depth, uint32_t window,
                           const PageVisitor& visit) {
  return walk_pages(db, key, depth - key_window_pages(key), window, visit);
}

// Every stored page of namespace ns.
inline Status walk_namespace(engine::DB* db, NamespaceId ns, uint32_t window, const PageVisitor& visit) {
  return walk_pages(db, window_prefix(ns, root_digest(ns)), 0, window, visit);
}

}  // namespace lsm4kv::kvcache
