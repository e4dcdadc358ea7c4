// How the store meets damage: opening the index (its "cfg" record checked
// against the format version and CONFIG), rebuilding it from the tensor log
// when it cannot be read (StoreOptions::on_corruption, KvStore::repair), the
// CONFIG mirror of the store's configuration (store_config.h), and a get
// that finds a damaged record (the page and its subtree leave the index).
#include <algorithm>

#include "kvcache_api/branch_eviction.h"
#include "kvcache_api/index_rebuild.h"
#include "kvcache_api/subtree_walk.h"
#include "kvcache_api/kv_store_impl.h"

namespace lsm4kv::kvcache {
namespace {

FileSystem* fs_of(const StoreOptions& o) { return o.fs ? o.fs : FileSystem::posix(); }

// Moves every file of `from` into `to` (emptied first): both are flat
// directories. A crash half way leaves an index that does not open, which
// the next open rebuilds again.
Status move_aside(FileSystem* fs, const std::string& from, const std::string& to) {
  LSM4KV_RETURN_IF_ERROR(fs->create_dir(to));
  std::vector<std::string> names;
  LSM4KV_RETURN_IF_ERROR(fs->list_dir(to, &names));
  for (const std::string& n : names) LSM4KV_RETURN_IF_ERROR(fs->remove(to + "/" + n));
  if (!fs->exists(from)) return Status::OK();
  LSM4KV_RETURN_IF_ERROR(fs->list_dir(from, &names));
  for (const std::string& n : names) LSM4KV_RETURN_IF_ERROR(fs->rename(from + "/" + n, to + "/" + n));
  LSM4KV_RETURN_IF_ERROR(fs->sync_dir(to));
  return fs->sync_dir(from);
}

// Where a store's page size comes from when it is repaired: CONFIG, or the
// index's "cfg" record when CONFIG cannot be read.
Status stored_page_tokens(const std::string& dir, FileSystem* fs, uint32_t* page_tokens) {
  StoreConfig cfg;
  Status file = read_config_file(fs, dir, &cfg);
  if (file.ok()) {
    if (cfg.format_version != kStoreFormatVersion) return format_version_status(dir, cfg.format_version);
    *page_tokens = cfg.page_tokens;
    return Status::OK();
  }
  engine::Options eo;
  eo.fs = fs;
  eo.create_if_missing = false;
  eo.read_only = true;
  eo.block_cache_bytes = 1 << 20;
  std::unique_ptr<engine::DB> db;
  Status s = engine::DB::open(eo, dir + "/index", &db);
  if (s.is_busy()) return s;
  std::string v;
  if (s.ok()) s = db->get({}, meta_key("cfg"), &v);
  CfgRecord r;
  if (s.ok() && !decode_cfg_record(v, &r)) s = Status::corruption(dir + "/index: bad store configuration record");
  *page_tokens = r.page_tokens;
  if (s.ok()) return r.format_version == kStoreFormatVersion ? Status::OK() : format_version_status(dir, r.format_version);
  return Status::corruption(dir + ": neither CONFIG (" + file.to_string() + ") nor the index (" + s.to_string() +
                            ") says what the store's page size and namespaces are: it cannot be rebuilt");
}

}  // namespace

// ------------------------------------------------------------------ open

Status KvStoreImpl::open_index(const engine::Options& eo) {
  if (!index_) LSM4KV_RETURN_IF_ERROR(engine::DB::open(eo, opt_.dir + "/index", &index_));
  std::string cfg;
  Status s = index_->get({}, meta_key("cfg"), &cfg);
  if (s.is_not_found()) {
    // A new store, unless CONFIG or the tensor log says that one exists:
    // then the index was lost, and starting afresh would discard the log.
    const bool config = eo.fs->exists(opt_.dir + "/" + kConfigFile);
    if (config || log_->usage().segments > 0)
      return Status::corruption(opt_.dir + "/index holds no store configuration record, but " +
                                (config ? "CONFIG" : "the tensor log") + " says a store exists: the index was lost");
    window_ = opt_.key_window_pages;
    return index_->put({}, meta_key("cfg"), encode_cfg_record(opt_.page_tokens, window_));
  }
  LSM4KV_RETURN_IF_ERROR(s);
  CfgRecord r;
  if (!decode_cfg_record(cfg, &r)) return Status::corruption(opt_.dir + ": bad store configuration record");
  if (r.format_version != kStoreFormatVersion) return format_version_status(opt_.dir, r.format_version);
  if (r.page_tokens != opt_.page_tokens)
    return Status::invalid_argument(opt_.dir + ": store was created with page_tokens " + std::to_string(r.page_tokens) +
                                    ", opened with " + std::to_string(opt_.page_tokens));
  window_ = r.key_window_pages;
  // Pending collections first: they decide which copy of a moved record the
  // index names, and load_state() marks every other copy dead.
  LSM4KV_RETURN_IF_ERROR(resolve_pending_collections());
  return load_state();
}

Status KvStoreImpl::recover_index(const engine::Options& eo, const Status& damage) {
  if (!force_rebuild_ && opt_.on_corruption != OnCorruption::kRebuild)
    return Status::corruption(damage.message() + " (StoreOptions::on_corruption = kRebuild, or `kvtool repair " +
                              opt_.dir + "`, rebuilds the index from the tensor log)");
  FileSystem* fs = eo.fs;
  if (damage.ok()) LSM4KV_RETURN_IF_ERROR(sync_config_file());  // a repair of a readable index
  StoreConfig cfg;
  Status c = read_config_file(fs, opt_.dir, &cfg);
  if (!c.ok())
    return Status::corruption(opt_.dir + ": the index cannot be rebuilt: " +
                              (damage.ok() ? "" : "the index is damaged (" + damage.message() + ") and ") +
                              "CONFIG cannot be read (" + c.to_string() + ")");
  if (cfg.format_version != kStoreFormatVersion) return format_version_status(opt_.dir, cfg.format_version);
  if (cfg.page_tokens != opt_.page_tokens)
    return Status::invalid_argument(opt_.dir + ": store was created with page_tokens " +
                                    std::to_string(cfg.page_tokens) + ", opened with " +
                                    std::to_string(opt_.page_tokens));
  // Forget what the failed open loaded.
  stop_loader();
  if (index_) index_->close().ignore_error();
  index_.reset();
  {
    std::lock_guard g(meta_mu_);
    names_.clear();
    layouts_.clear();
  }
  {
    std::lock_guard g(lru_mu_);
    lru_ = SubtreeLru();
  }
  LSM4KV_RETURN_IF_ERROR(move_aside(fs, opt_.dir + "/index", opt_.dir + "/index.damaged"));
  LSM4KV_RETURN_IF_ERROR(engine::DB::open(eo, opt_.dir + "/index", &index_));
  LSM4KV_RETURN_IF_ERROR(rebuild_index(cfg));
  rebuilt_ = true;
  return open_index(eo);
}

Status KvStoreImpl::rebuild_index(const StoreConfig& cfg) {
  // A collection pending from before: its old copies stay, its new ones are
  // dropped (or, once its commit has begun deleting, it is finished).
  for (const tensorlog::Collection& c : log_->pending_collections())
    if (!log_->abort_collection(c.id).ok()) LSM4KV_RETURN_IF_ERROR(log_->commit_collection(c.id));
  std::set<NamespaceId> ids;
  for (const NamespaceRecord& n : cfg.namespaces) ids.insert(n.id);
  window_ = cfg.key_window_pages;
  IndexRebuilder rebuilder(window_, ids);
  LSM4KV_RETURN_IF_ERROR(log_->scan([&](const tensorlog::Location& l, std::string_view tag) { rebuilder.add(l, tag); },
                                    [&](const tensorlog::Location& l, const Status& why) { rebuilder.damaged(l, why); }));
  constexpr uint32_t kBatchEntries = 1024;
  engine::WriteBatch batch;
  auto write = [&]() -> Status {
    if (batch.count() == 0) return Status::OK();
    Status s = index_->write({}, &batch);
    batch.clear();
    return s;
  };
  LSM4KV_RETURN_IF_ERROR(rebuilder.finish(
      [&](std::string_view key, const PageEntry& e) {
        std::string v;
        e.encode_to(&v);
        batch.put(key, v);
        return batch.count() >= kBatchEntries ? write() : Status::OK();
      },
      &repair_));
  LSM4KV_RETURN_IF_ERROR(write());
  LSM4KV_RETURN_IF_ERROR(index_->flush());
  // The metadata last, durably: an index without its "cfg" record is an
  // unfinished rebuild, which the next open rebuilds again.
  for (const NamespaceRecord& n : cfg.namespaces) batch.put(meta_key("ns:" + n.name), encode_layout(n.id, n.layout));
  batch.put(meta_key("cfg"), encode_cfg_record(cfg.page_tokens, cfg.key_window_pages));
  engine::WriteOptions wo;
  wo.sync_override = true;
  wo.sync = engine::SyncMode::kPerBatch;
  return index_->write(wo, &batch);
}

Status KvStore::repair(const StoreOptions& options, RepairReport* report) {
  if (report == nullptr) return Status::invalid_argument("repair: null report");
  if (options.dir.empty()) return Status::invalid_argument("repair: no directory given");
  FileSystem* fs = fs_of(options);
  if (!fs->exists(options.dir)) return Status::invalid_argument(options.dir + ": no such directory");
  if (!fs->exists(options.dir + "/tensors"))
    return Status::invalid_argument(options.dir + ": not an lsm4kv store (no tensors/)");
  StoreOptions o = options;
  o.tuner = false;
  LSM4KV_RETURN_IF_ERROR(stored_page_tokens(o.dir, fs, &o.page_tokens));
  auto store = std::make_unique<KvStoreImpl>(o, /*rebuild=*/true);
  LSM4KV_RETURN_IF_ERROR(store->open());
  *report = store->repair_report();
  return store->close();
}

// ---------------------------------------------------------------- CONFIG

StoreConfig KvStoreImpl::current_config() const {
  StoreConfig c{kStoreFormatVersion, opt_.page_tokens, window_, {}};
  for (const auto& [name, id] : names_) c.namespaces.push_back({name, id, layouts_.at(id)});
  std::sort(c.namespaces.begin(), c.namespaces.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return c;
}

Status KvStoreImpl::sync_config_file() {
  StoreConfig want, have;
  {
    std::lock_guard g(meta_mu_);
    want = current_config();
  }
  FileSystem* fs = fs_of(opt_);
  if (read_config_file(fs, opt_.dir, &have).ok() && have == want) return Status::OK();
  return write_config_file(fs, opt_.dir, want);
}

// ------------------------------------------------------- damaged records

Status KvStoreImpl::read_failed(const std::vector<tensorlog::ReadRequest>& reads,
                                const std::vector<ReadPage>& pages, const Status& s) {
  std::vector<size_t> damaged;
  for (size_t j = 0; j < reads.size(); j++)
    if (reads[j].status.is_corruption()) damaged.push_back(j);
  if (!damaged.empty()) {
    uint64_t dropped = 0;
    {
      std::lock_guard g(write_mu_);
      for (size_t j : damaged) {
        uint64_t n = 0;
        LSM4KV_RETURN_IF_ERROR(drop_damaged_subtree(pages[j], reads[j].location, &n));
        dropped += n;
      }
    }
    const tensorlog::ReadRequest& r = reads[damaged.front()];
    return Status::not_found("get_batch: the tensor record at " + r.location.to_string() + " is damaged (" +
                             r.status.message() + "): " + std::to_string(dropped) +
                             " pages (it and the pages below it) left the index, a miss; a put stores them anew");
  }
  for (const tensorlog::ReadRequest& r : reads) {
    if (r.status.is_tag_mismatch()) {
      counters_.collisions++;
      return Status::not_found("get_batch: the stored page at " + r.location.to_string() +
                               " belongs to other tokens (fingerprint collision): a miss");
    }
  }
  return s;
}

Status KvStoreImpl::drop_damaged_subtree(const ReadPage& page, const tensorlog::Location& loc, uint64_t* dropped) {
  *dropped = 0;
  std::string v;
  Status s = index_->get({}, page.key, &v);
  if (s.is_not_found()) return Status::OK();  // dropped or evicted since the read
  LSM4KV_RETURN_IF_ERROR(s);
  PageEntry e;
  if (!e.decode_from(v) || !(e.location == loc)) return Status::OK();  // put again or moved since
  return drop_pages(page.key, page.depth - key_window_pages(page.key), page.root, dropped);
}

Status KvStoreImpl::hole_found(NamespaceId ns, const PromptKeys& k, size_t hole) {
  uint64_t dropped = 0;
  {
    std::lock_guard g(write_mu_);
    // Below the missing page: its range in its window, and if it ends its
    // window, the next window's.
    const std::string& key = k.key(hole);
    LSM4KV_RETURN_IF_ERROR(drop_pages(key, hole + 1 - key_window_pages(key), k.key(0), &dropped));
    if (key_window_pages(key) == window_) {
      uint64_t more = 0;
      LSM4KV_RETURN_IF_ERROR(drop_pages(window_prefix(ns, k.digest(hole)), hole + 1, k.key(0), &more));
      dropped += more;
    }
  }
  return Status::not_found("get_batch: page " + std::to_string(hole) + " of the prompt is missing below stored pages (" +
                           std::to_string(dropped) + " pages below it left the index): a miss");
}

Status KvStoreImpl::drop_pages(std::string_view prefix, size_t depth_before, const std::string& root,
                               uint64_t* dropped) {
  LSM4KV_RETURN_IF_ERROR(wait_loaded());  // the LRU root must be whole before bytes are taken off it
  std::vector<SubtreePage> pages;
  std::vector<tensorlog::Location> dead;
  uint64_t bytes = 0;
  LSM4KV_RETURN_IF_ERROR(walk_pages(index_.get(), prefix, depth_before, window_, [&](const WalkedPage& w) {
    pages.push_back({std::string(w.key), 0, 0, w.parent, w.depth});
    if (w.entry != nullptr) {
      dead.push_back(w.entry->location);
      bytes += disk_bytes(w.entry->location);
    }
    return true;
  }));
  *dropped = pages.size();
  if (pages.empty()) return Status::OK();
  BranchChoice all;
  for (size_t i = 0; i < pages.size(); i++) all.pages.push_back(i);
  engine::WriteBatch batch;
  delete_chosen(pages, all, window_, &batch);
  LSM4KV_RETURN_IF_ERROR(index_->write({}, &batch));
  {
    std::lock_guard g(lru_mu_);
    if (prefix == root) lru_.remove(root);
    else lru_.subtract(root, bytes);
  }
  counters_.corrupt_pages_dropped += pages.size();
  return log_->mark_dead(dead);
}

}  // namespace lsm4kv::kvcache
