// The admin surface (store_admin.h) and the tests' access to a store's parts
// (test_hooks.h): the one place that looks inside a KvStore. Every store
// KvStore::open makes is a KvStoreImpl. The scans and checks themselves are
// in store_inspect.cc, store_verify.cc and store_stats_file.cc.
#include "kvcache_api/store_admin.h"

#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/test_hooks.h"

namespace lsm4kv::kvcache {
namespace {

KvStoreImpl& impl(KvStore& store) { return static_cast<KvStoreImpl&>(store); }

Status closed(const char* what) { return Status::invalid_argument(std::string(what) + ": the store is closed"); }

}  // namespace

namespace admin {

Status open_existing(StoreOptions options, std::unique_ptr<KvStore>* out) {
  return KvStoreImpl::open_existing(std::move(options), out);
}

Status list_namespaces(KvStore& store, std::vector<NamespaceInfo>* out) { return impl(store).list_namespaces(out); }

Status tree(KvStore& store, std::string_view ns_name, size_t max_depth, size_t top, TreeInfo* out) {
  return impl(store).tree(ns_name, max_depth, top, out);
}

Status verify(KvStore& store, VerifyReport* report, const VerifyProgress& progress) {
  return impl(store).verify(report, progress);
}

Status persist_stats(KvStore& store) { return impl(store).persist_stats(); }

Status index_properties(KvStore& store, engine::Properties* out) {
  engine::DB* db = impl(store).index();
  if (db == nullptr) return closed("index_properties");
  *out = db->properties();
  return Status::OK();
}

Status segments(KvStore& store, std::vector<tensorlog::SegmentInfo>* out) {
  tensorlog::TensorLog* log = impl(store).tensor_log();
  if (log == nullptr) return closed("segments");
  *out = log->segments();
  return Status::OK();
}

Status compact_index(KvStore& store) {
  engine::DB* db = impl(store).index();
  return db == nullptr ? closed("compact_index") : db->compact_all();
}

Status reshape_index(KvStore& store, const LsmShape& shape) {
  engine::DB* db = impl(store).index();
  return db == nullptr ? closed("reshape_index") : db->reshape(shape);
}

}  // namespace admin

namespace testing {

engine::DB* index_of(KvStore* store) { return impl(*store).index(); }
tensorlog::TensorLog* log_of(KvStore* store) { return impl(*store).tensor_log(); }
void set_region_walk_hook(KvStore* store, std::function<void(RegionPoint)> hook) {
  impl(*store).set_region_walk_hook(std::move(hook));
}

}  // namespace testing
}  // namespace lsm4kv::kvcache
