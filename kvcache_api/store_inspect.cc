// Inspection of a KV cache store for the admin surface (store_admin.h):
// opening an existing store, its namespaces and its prefix tree.
#include <algorithm>
#include <map>

#include "base/coding.h"
#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/subtree_walk.h"

namespace lsm4kv::kvcache {

Status check_is_store(const std::string& dir) {
  if (dir.empty()) return Status::invalid_argument("no store directory given");
  if (!FileSystem::posix()->exists(dir)) return Status::invalid_argument(dir + ": no such directory");
  if (!FileSystem::posix()->exists(dir + "/index/CURRENT") || !FileSystem::posix()->exists(dir + "/tensors"))
    return Status::invalid_argument(dir + ": not an lsm4kv store (no index/CURRENT or tensors/)");
  return Status::OK();
}

Status locked_status(const std::string& dir, const Status& s) {
  return Status::busy(dir + ": the store is open in another process (" + s.message() + ")");
}

// ------------------------------------------------------------------ open

Status KvStoreImpl::open_existing(StoreOptions options, std::unique_ptr<KvStore>* out) {
  if (out == nullptr) return Status::invalid_argument("open_existing: null output");
  LSM4KV_RETURN_IF_ERROR(check_is_store(options.dir));
  // The page size: from CONFIG, which mirrors the index's record; when that
  // is missing, damaged or of another format, from the index itself, opened
  // alone and read-only (its errors are the ones to report).
  StoreConfig config;
  FileSystem* fs = options.fs ? options.fs : FileSystem::posix();
  if (read_config_file(fs, options.dir, &config).ok() && config.format_version == kStoreFormatVersion) {
    options.page_tokens = config.page_tokens;
  } else {
    engine::Options eo;
    if (options.fs != nullptr) eo.fs = options.fs;
    eo.create_if_missing = false;
    eo.read_only = true;
    eo.block_cache_bytes = 1 << 20;
    std::unique_ptr<engine::DB> db;
    Status s = engine::DB::open(eo, options.dir + "/index", &db);
    if (s.is_busy()) return locked_status(options.dir, s);
    LSM4KV_RETURN_IF_ERROR(s);
    std::string cfg;
    s = db->get({}, meta_key("cfg"), &cfg);
    if (s.is_not_found()) return Status::invalid_argument(options.dir + ": not an lsm4kv store (no configuration record)");
    LSM4KV_RETURN_IF_ERROR(s);
    std::string_view in = cfg;
    if (!get_varint32(&in, &options.page_tokens))
      return Status::corruption(options.dir + ": bad store configuration record");
    LSM4KV_RETURN_IF_ERROR(db->close());
  }
  options.tuner = false;
  auto store = std::make_unique<KvStoreImpl>(options);
  Status s = store->open();
  if (s.is_busy()) return locked_status(options.dir, s);
  LSM4KV_RETURN_IF_ERROR(s);
  *out = std::move(store);
  return Status::OK();
}

// ------------------------------------------------------------- namespaces

Status KvStoreImpl::list_namespaces(std::vector<admin::NamespaceInfo>* out) {
  out->clear();
  LSM4KV_RETURN_IF_ERROR(check_open());
  std::map<NamespaceId, size_t> at;
  {
    std::lock_guard g(meta_mu_);
    for (const auto& [name, id] : names_) {
      at[id] = out->size();
      out->push_back({name, id, layouts_[id], 0, 0});
    }
  }
  LSM4KV_RETURN_IF_ERROR(for_each_page_entry([&](std::string_view key, const PageEntry* e) {
    auto f = at.find(static_cast<NamespaceId>(key_namespace(key) & ~kKeyedBit));
    if (f == at.end() || e == nullptr) return true;
    (*out)[f->second].pages++;
    (*out)[f->second].bytes += disk_bytes(e->location);
    return true;
  }));
  std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return Status::OK();
}

// ------------------------------------------------------------------- tree

Status KvStoreImpl::tree(std::string_view ns_name, size_t max_depth, size_t top, admin::TreeInfo* out) {
  *out = admin::TreeInfo{};
  LSM4KV_RETURN_IF_ERROR(check_open());
  NamespaceId ns;
  {
    std::lock_guard g(meta_mu_);
    auto f = names_.find(std::string(ns_name));
    if (f == names_.end()) return Status::invalid_argument("no namespace named '" + std::string(ns_name) + "'");
    ns = f->second;
  }
  auto level = [&](size_t depth) -> admin::TreeLevel& {
    while (out->levels.size() < depth) out->levels.push_back({out->levels.size() + 1, 0, 0, 0, 0, 0});
    return out->levels[depth - 1];
  };
  std::vector<admin::Subtree> roots;
  std::vector<size_t> root_of, depth_of;  // by visit index
  std::vector<uint64_t> children;
  bool malformed = false;
  LSM4KV_RETURN_IF_ERROR(walk_namespace(index_.get(), ns, window_, [&](const WalkedPage& w) {
    if (w.entry == nullptr) {
      malformed = true;
      return false;
    }
    const uint64_t bytes = disk_bytes(w.entry->location);
    if (w.parent == kNoParent) {
      root_of.push_back(roots.size());
      roots.push_back(admin::Subtree{std::string(w.key), 0, 0, 0});
      out->roots++;
    } else {
      root_of.push_back(root_of[w.parent]);
      children[w.parent]++;
      level(w.depth - 1).children++;
    }
    depth_of.push_back(w.depth);
    children.push_back(0);
    admin::Subtree& t = roots[root_of.back()];
    t.pages++;
    t.bytes += bytes;
    t.depth = std::max(t.depth, w.depth);
    out->pages++;
    out->bytes += bytes;
    admin::TreeLevel& l = level(w.depth);
    l.pages++;
    l.bytes += bytes;
    return true;
  }));
  if (malformed) return Status::corruption(opt_.dir + ": malformed index entry");
  for (size_t i = 0; i < children.size(); i++) {
    if (children[i] == 0) continue;
    admin::TreeLevel& l = level(depth_of[i]);
    l.parents++;
    l.max_fanout = std::max(l.max_fanout, children[i]);
  }
  auto by_bytes = [](const admin::Subtree& a, const admin::Subtree& b) { return a.bytes > b.bytes; };
  const size_t keep = std::min(top, roots.size());
  std::partial_sort(roots.begin(), roots.begin() + keep, roots.end(), by_bytes);
  out->largest.assign(roots.begin(), roots.begin() + keep);
  if (max_depth > 0 && out->levels.size() > max_depth) out->levels.resize(max_depth);
  return Status::OK();
}

}  // namespace lsm4kv::kvcache
