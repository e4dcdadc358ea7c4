// Loading a store's state at open: the namespaces at once, then, on a
// background thread, the LRU from one pass over the index and the orphan
// records a crash left in the tensor log.
#include <algorithm>
#include <functional>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "kvcache_api/kv_store_impl.h"

namespace lsm4kv::kvcache {

// Namespaces from the metadata records, now; the rest in the background
// (load_pages), so that open does not read the whole index.
Status KvStoreImpl::load_state() {
  auto it = index_->new_iterator({});
  std::string meta = meta_key("ns:");
  for (it->seek(meta); it->valid() && it->key().starts_with(meta); it->next()) {
    NamespaceId id;
    KvLayout l;
    if (!decode_layout(it->value(), &id, &l)) return Status::corruption(opt_.dir + ": bad namespace record");
    std::string name(it->key().substr(meta.size()));
    layouts_[id] = l;
    names_[name] = id;
    fit_segments_to(uint64_t{l.bytes_per_token()} * opt_.page_tokens);  // checked when registered
  }
  LSM4KV_RETURN_IF_ERROR(it->status());
  // The snapshot and the last record are taken now: what puts add from here
  // on is theirs to count.
  const tensorlog::Location last = log_->last_record();
  {
    std::lock_guard g(load_mu_);
    loaded_ = false;
    load_status_ = Status::OK();
  }
  load_stop_ = false;
  load_snapshot_ = std::move(it);
  load_last_ = last;
  // A rebuild or a repair wants the damage found now, to rebuild again;
  // otherwise the loader starts when open is done (start_loader).
  if (opt_.on_corruption == OnCorruption::kRebuild || force_rebuild_) {
    start_loader();
    return wait_loaded();
  }
  return Status::OK();
}

void KvStoreImpl::start_loader() {
  if (!load_snapshot_ || loader_.joinable()) return;
  loader_ = std::thread([this, it = std::move(load_snapshot_), last = load_last_]() mutable {
    // First, so that the first get finds it; a reader that cannot be made
    // now fails that get, with its error.
    log_->warm_reader().ignore_error();
    Status s = load_pages(it.get(), last);
    it.reset();
    std::lock_guard g(load_mu_);
    loaded_ = true;
    load_status_ = s;
    load_cv_.notify_all();
  });
}

Status KvStoreImpl::wait_loaded() {
  std::unique_lock l(load_mu_);
  load_cv_.wait(l, [&] { return loaded_; });
  return load_status_;
}

void KvStoreImpl::stop_loader() {
  load_stop_ = true;
  if (loader_.joinable()) loader_.join();
  load_snapshot_.reset();  // a loader that never started: its snapshot goes before the index
  std::lock_guard g(load_mu_);
  loaded_ = true;
  load_cv_.notify_all();
}

// LRU state and the segments' page lists from every page entry, and
// tensor-log records no page entry names reported dead (orphans), from one
// sequential pass over a snapshot of the index (no seeks: a walk would seek
// once per window).
//
// Keys come in (ns, window digest D, fingerprints) order. A key of the first
// window (D = the namespace's root digest) names its root: its first 26
// bytes. Any other key belongs to the group of its D, whose root is that of
// the window-last page whose value holds D; that page may come later in the
// pass, so groups are summed first and resolved to their roots at the end.
// A group whose parent is not stored (damage) is counted nowhere.
Status KvStoreImpl::load_pages(engine::Iterator* it, const tensorlog::Location& last) {
  struct Group {
    uint64_t bytes = 0, tick = 0;
    std::optional<Digest> parent;  // the group of the page whose value holds this group's D
    std::string root;              // or the root, when that page is in a first window
    bool resolved = false;
  };
  std::unordered_map<Digest, Group, DigestHash> groups;
  std::vector<tensorlog::Location> referenced;
  // Pages listed once their group's root is known (segment_pages_).
  std::vector<std::tuple<uint64_t, std::string, Digest>> unlisted;
  const bool lists = lists_pages();
  auto add = [&](const std::string& root, uint64_t bytes, uint64_t tick) {
    std::lock_guard g(lru_mu_);
    lru_.add(root, bytes, tick);
  };
  const std::string end = ns_prefix(kMetaNamespace);
  uint64_t seen = 0;
  NamespaceId root_ns = kMetaNamespace;
  Digest ns_root;
  for (it->seek_to_first(); it->valid() && it->key() < end; it->next()) {
    if ((++seen & 0xffff) == 0 && load_stop_) return Status::OK();
    const std::string_view key = it->key();
    PageEntry e;
    if (!e.decode_from(it->value())) return Status::corruption(opt_.dir + ": bad page entry in the index");
    referenced.push_back(e.location);
    const uint64_t bytes = disk_bytes(e.location);
    if (is_keyed_page(key)) {  // its own LRU entry
      add(std::string(key), bytes, e.tick);
      if (lists) segment_pages_.add(e.location.segment, key, key);
      continue;
    }
    if (!key_well_formed(key, window_)) continue;
    const NamespaceId ns = key_namespace(key);
    if (ns != root_ns) {  // keys come by namespace: one root digest each
      root_ns = ns;
      ns_root = root_digest(ns);
    }
    const Digest d = key_digest(key);
    const bool first_window = d == ns_root;
    if (first_window) {
      const std::string_view root = key.substr(0, kKeyHeadBytes + kFingerprintBytes);
      add(std::string(root), bytes, e.tick);
      if (lists) segment_pages_.add(e.location.segment, key, root);
    } else {
      Group& g = groups[d];
      g.bytes += bytes;
      g.tick = std::max(g.tick, e.tick);
      if (lists) unlisted.emplace_back(e.location.segment, std::string(key), d);
    }
    if (e.digest && key_window_pages(key) == window_) {
      Group& child = groups[*e.digest];
      if (first_window) child.root = std::string(key.substr(0, kKeyHeadBytes + kFingerprintBytes));
      else child.parent = d;
    }
  }
  LSM4KV_RETURN_IF_ERROR(it->status());
  // Each group's root, following parents (memoized; a chain without a root
  // stays unresolved).
  std::vector<Group*> chain;
  for (auto& [d, g] : groups) {
    chain.clear();
    Group* at = &g;
    while (!at->resolved && at->root.empty() && at->parent) {
      chain.push_back(at);
      auto p = groups.find(*at->parent);
      if (p == groups.end() || chain.size() > groups.size()) break;
      at = &p->second;
    }
    const std::string root = at->root;
    for (Group* c : chain) {
      c->root = root;
      c->resolved = true;
    }
    g.resolved = true;
    if (!g.root.empty() && g.bytes > 0) add(g.root, g.bytes, g.tick);
    if (load_stop_) return Status::OK();
  }
  for (const auto& [segment, key, d] : unlisted) segment_pages_.add(segment, key, groups[d].root);  // empty: unresolved
  return mark_orphans_dead(std::move(referenced), last);
}

// A put appends its records before it writes their index entries; a crash
// between the two leaves records that nothing will ever reference. Both lists
// sorted by (segment, offset), one merge finds them.
Status KvStoreImpl::mark_orphans_dead(std::vector<tensorlog::Location> referenced, const tensorlog::Location& last) {
  auto order = [](const tensorlog::Location& a, const tensorlog::Location& b) {
    return std::tie(a.segment, a.offset) < std::tie(b.segment, b.offset);
  };
  std::sort(referenced.begin(), referenced.end(), order);
  std::vector<tensorlog::Location> orphans;
  auto ref = referenced.begin();
  for (const tensorlog::Location& r : log_->live_records()) {
    if (order(last, r)) break;  // written after the snapshot
    while (ref != referenced.end() && order(*ref, r)) ++ref;
    if (ref == referenced.end() || order(r, *ref)) orphans.push_back(r);
  }
  return forget_records(orphans);
}

Status KvStoreImpl::forget_records(std::span<const tensorlog::Location> locations) {
  index_epoch_++;
  Status s = log_->mark_dead(locations);
  return s.is_no_space() ? Status::OK() : s;
}

Status KvStoreImpl::for_each_page_entry(
    const std::function<bool(std::string_view key, const PageEntry* entry)>& fn, std::string_view prefix) {
  auto it = index_->new_iterator({});
  // Page entries are every key below the metadata namespace.
  const std::string end = prefix.empty() ? ns_prefix(kMetaNamespace) : key_successor(prefix);
  for (it->seek(prefix); it->valid() && it->key() < end; it->next()) {
    PageEntry e;
    if (!fn(it->key(), e.decode_from(it->value()) ? &e : nullptr)) break;
  }
  return it->status();
}

}  // namespace lsm4kv::kvcache
