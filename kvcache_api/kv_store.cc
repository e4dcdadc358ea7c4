// The KV cache store: put_batch, probe, get_batch over the index and the
// tensor log; capacity, eviction and GC in kv_store_maintenance.cc.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "base/coding.h"
#include "kvcache_api/device_staging.h"
#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/subtree_walk.h"
#include "tensorlog/device_copy.h"

namespace lsm4kv::kvcache {
namespace {

using Clock = std::chrono::steady_clock;
double micros_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// The tuner's decision as kv_store.h tells it (its own value type).
TunerDecision public_decision(const tuner::Decision& d) {
  TunerDecision o;
  o.time = d.time;
  o.operations = d.operations;
  o.writes = d.mix.writes;
  o.point_hits = d.mix.point_hits;
  o.point_misses = d.mix.point_misses;
  o.seeks = d.mix.seeks;
  o.entries = d.entries;
  o.old_shape = d.old_shape;
  o.new_shape = d.new_shape;
  o.old_cost = d.old_cost;
  o.new_cost = d.new_cost;
  o.predicted_gain = d.predicted_gain;
  o.outcome = static_cast<TunerDecision::Outcome>(d.outcome);  // the same numbers
  o.error = d.error;
  return o;
}

// Copies one page between its page-major record form and a per-layer buffer.
// to_record: per-layer rows -> record; else record -> rows. rows: first token
// of the page within the request; count: tokens to copy.
void convert_page(const KvLayout& layout, const KvBuffer& b, size_t first_row, size_t count,
                  char* record, bool to_record) {
  const size_t row = size_t{layout.kv_heads} * layout.head_dim * dtype_size(layout.dtype);
  for (size_t t = 0; t < count; t++) {
    for (uint32_t l = 0; l < layout.layers; l++) {
      for (int kv = 0; kv < 2; kv++) {
        char* rec = record + ((t * layout.layers + l) * 2 + kv) * row;
        char* buf = static_cast<char*>(kv == 0 ? b.k[l] : b.v[l]) + (first_row + t) * b.row_stride;
        if (to_record) std::memcpy(rec, buf, row);
        else std::memcpy(buf, rec, row);
      }
    }
  }
}

}  // namespace

const char* outcome_name(TunerDecision::Outcome outcome) {
  return tuner::outcome_name(static_cast<tuner::Decision::Outcome>(outcome));  // the same numbers
}

Status KvStore::open(const StoreOptions& options, std::unique_ptr<KvStore>* out) {
  if (out == nullptr) return Status::invalid_argument("open: null output");
  if (options.read_only) return open_existing(options, out);
  auto store = std::make_unique<KvStoreImpl>(options);
  LSM4KV_RETURN_IF_ERROR(store->open());
  store->start_stats_writer();  // kvtool stats reads it (kv_store_inspect.cc)
  *out = std::move(store);
  return Status::OK();
}

namespace {

Status check_shape(const engine::Shape& shape, const char* what) {
  bool ok = shape.size_ratio >= 2 && !shape.runs_per_level.empty();
  for (int k : shape.runs_per_level) ok &= k >= 1;
  if (ok) return Status::OK();
  return Status::invalid_argument(std::string("open: ") + what + " needs size_ratio >= 2 and runs_per_level >= 1");
}

// Every field of StoreOptions, at the door: a bad value found later would
// fail every get (an unknown codec) or divide by zero.
Status validate(const StoreOptions& o) {
  auto bad = [](const std::string& what) { return Status::invalid_argument("open: " + what); };
  if (o.dir.empty()) return bad("no directory given");
  if (o.page_tokens < 1 || o.page_tokens > 512)
    return bad("page_tokens must be 1..512, not " + std::to_string(o.page_tokens));
  if (o.key_window_pages < 1 || o.key_window_pages > kMaxKeyWindowPages)
    return bad("key_window_pages must be 1.." + std::to_string(kMaxKeyWindowPages) + ", not " +
               std::to_string(o.key_window_pages));
  if (static_cast<uint8_t>(o.sync) > static_cast<uint8_t>(SyncMode::kGroupCommit))
    return bad("unknown sync mode " + std::to_string(static_cast<int>(o.sync)));
  if (static_cast<uint8_t>(o.probe) > static_cast<uint8_t>(ProbeStrategy::kBinarySearch))
    return bad("unknown probe strategy " + std::to_string(static_cast<int>(o.probe)));
  if (!tensorlog::is_known_codec(static_cast<uint8_t>(o.codec)))
    return bad("unknown codec " + std::to_string(static_cast<int>(o.codec)));
  if (!(o.gc_headroom >= 0.0 && o.gc_headroom < 1.0))
    return bad("gc_headroom must be in [0, 1), not " + std::to_string(o.gc_headroom));
  if (!(o.maintenance_room >= 0.0 && o.maintenance_room < 1.0))
    return bad("maintenance_room must be in [0, 1), not " + std::to_string(o.maintenance_room));
  if (o.region_keep_reads > tensorlog::RecordTable::kMaxReads)
    return bad("region_keep_reads must be at most " + std::to_string(tensorlog::RecordTable::kMaxReads) + ", not " +
               std::to_string(o.region_keep_reads));
  if (o.segment_bytes < 4 * tensorlog::kAlign || o.segment_bytes > tensorlog::kMaxSegmentSize)
    return bad("segment_bytes must be 16 KiB .. 16 GiB, not " + std::to_string(o.segment_bytes));
  if (o.capacity_bytes != 0 && o.capacity_bytes / 2 < o.segment_bytes)
    return bad("capacity_bytes " + std::to_string(o.capacity_bytes) + " is less than two segments of " +
               std::to_string(o.segment_bytes) + " bytes (one is the active segment's slack)");
  if (o.index_write_buffer < 1024) return bad("index_write_buffer must be at least 1 KiB");
  if (o.tuner && o.tuner_window_ops == 0) return bad("tuner_window_ops must be > 0");
  LSM4KV_RETURN_IF_ERROR(check_shape(o.initial_shape, "initial_shape"));
  if (o.pinned_shape) LSM4KV_RETURN_IF_ERROR(check_shape(*o.pinned_shape, "pinned_shape"));
  return Status::OK();
}

// The record bytes of one page of layout l, or InvalidArgument: a field of
// 0, an unknown dtype, or a size that overflows or passes kMaxPageBytes.
Status page_record_bytes(const KvLayout& l, uint32_t page_tokens, uint64_t* out) {
  std::vector<uint64_t> factors;
  uint64_t v = 1;
  if (l.is_opaque()) {
    if (l.layers != 0 || l.kv_heads != 0 || l.head_dim != 0)
      return Status::invalid_argument("register_namespace: an opaque layout has no layers, kv_heads or head_dim");
    factors = {l.opaque_bytes_per_token, page_tokens};
  } else {
    if (l.layers == 0 || l.kv_heads == 0 || l.head_dim == 0)
      return Status::invalid_argument("register_namespace: layers, kv_heads and head_dim must be > 0");
    if (dtype_size(l.dtype) == 0)
      return Status::invalid_argument("register_namespace: unknown dtype " + std::to_string(static_cast<int>(l.dtype)));
    factors = {2 * dtype_size(l.dtype), l.layers, l.kv_heads, l.head_dim, page_tokens};
  }
  for (uint64_t f : factors)
    if (__builtin_mul_overflow(v, f, &v) || v > kMaxPageBytes)
      return Status::invalid_argument("register_namespace: a page of " + std::to_string(page_tokens) +
                                      " tokens of this layout is more than kMaxPageBytes (" +
                                      std::to_string(kMaxPageBytes) + ")");
  *out = v;
  return Status::OK();
}

}  // namespace

Status KvStoreImpl::check_writable(const char* what) const {
  LSM4KV_RETURN_IF_ERROR(check_open());
  if (opt_.read_only) return Status::not_supported(opt_.dir + ": " + what + ": the store is open read-only");
  return Status::OK();
}

Status KvStoreImpl::open() {
  LSM4KV_RETURN_IF_ERROR(validate(opt_));
  const bool ro = opt_.read_only;
  FileSystem* fs = opt_.fs ? opt_.fs : FileSystem::posix();
  fs_ = fs;
  if (!ro) LSM4KV_RETURN_IF_ERROR(create_dir_durable(fs, opt_.dir));  // survives a power cut
  // The tensor log first: damage there is not the index's, and a rebuilt
  // index comes from it.
  tensorlog::TensorLogOptions to;
  to.fs = fs;
  to.segment_size = opt_.segment_bytes;
  to.codec = opt_.codec;
  to.sync = opt_.sync;
  to.read_only = ro;
  LSM4KV_RETURN_IF_ERROR(tensorlog::TensorLog::open(opt_.dir + "/tensors", to, &log_));
  closed_ = false;
  engine::Options eo;
  eo.fs = fs;
  eo.create_if_missing = !ro;
  eo.read_only = ro;
  eo.write_buffer_size = opt_.index_write_buffer;
  eo.block_cache_bytes = opt_.index_block_cache;
  eo.sync_mode = opt_.sync;
  eo.shape = opt_.initial_shape;
  Status s = open_index(eo);
  // A repair rebuilds a readable index too; other errors (format, page
  // size, I/O, Busy) are never the index's damage. Read-only never rebuilds.
  if (!ro && (s.is_corruption() || (force_rebuild_ && s.ok()))) s = recover_index(eo, s);
  LSM4KV_RETURN_IF_ERROR(s);
  if (ro) {
    start_loader();
    return Status::OK();
  }
  tuner::TunerOptions tu;
  tu.enabled = opt_.tuner;
  tu.pinned = opt_.pinned_shape;
  tu.window_ops = opt_.tuner_window_ops;
  tu.tree.write_buffer_bytes = static_cast<double>(eo.write_buffer_size);
  tu.tree.block_bytes = static_cast<double>(eo.block_size);
  tu.tree.bloom_bits_per_key = eo.bloom_bits_per_key;
  tu.tree.allocation = eo.bloom_allocation;
  tuner_ = std::make_unique<tuner::Controller>(index_.get(), tu);
  LSM4KV_RETURN_IF_ERROR(sync_config_file());
  create_reserve();
  start_loader();  // last: open's own work does not share the cores with it
  start_maintainer();
  return Status::OK();
}

Status KvStoreImpl::close() {
  if (closed_) return Status::OK();
  {
    // get_batch_async calls in flight finish first; later ones are refused.
    std::unique_lock l(async_mu_);
    closing_ = true;
    async_cv_.wait(l, [&] { return async_in_flight_ == 0; });
  }
  stop_maintainer();
  stop_loader();
  join_maintainer();
  stop_stats_writer();  // writes the stats file a last time
  closed_ = true;
  tuner_.reset();
  Status s = index_ ? index_->close() : Status::OK();
  Status t = log_ ? log_->close() : Status::OK();
  index_.reset();  // releases the directory's locks: the store can be reopened
  log_.reset();
  return s.ok() ? t : s;
}

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

// LRU state from every page entry, and tensor-log records no page entry
// names reported dead (orphans), from one sequential pass over a snapshot of
// the index (no seeks: a walk would seek once per window).
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
    if (first_window) add(std::string(key.substr(0, kKeyHeadBytes + kFingerprintBytes)), bytes, e.tick);
    else {
      Group& g = groups[d];
      g.bytes += bytes;
      g.tick = std::max(g.tick, e.tick);
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

Status KvStoreImpl::register_namespace(std::string_view name, const KvLayout& layout, NamespaceId* out) {
  if (out == nullptr) return Status::invalid_argument("register_namespace: null output");
  if (name.empty()) return Status::invalid_argument("register_namespace: empty name");
  LSM4KV_RETURN_IF_ERROR(check_open());
  uint64_t page_bytes = 0;
  LSM4KV_RETURN_IF_ERROR(page_record_bytes(layout, opt_.page_tokens, &page_bytes));
  std::lock_guard g(meta_mu_);
  auto it = names_.find(std::string(name));
  if (it != names_.end()) {
    if (!(layouts_[it->second] == layout))
      return Status::invalid_argument("namespace '" + std::string(name) + "' exists with another layout");
    *out = it->second;
    return Status::OK();
  }
  LSM4KV_RETURN_IF_ERROR(check_writable("register_namespace"));
  NamespaceId id = static_cast<NamespaceId>(names_.size() + 1);
  if (id >= kKeyedBit) return Status::invalid_argument("too many namespaces (at most 32,767)");
  // CONFIG first: it must name every namespace the index does (store_config.h).
  StoreConfig cfg = current_config();
  cfg.namespaces.push_back({std::string(name), id, layout});
  LSM4KV_RETURN_IF_ERROR(write_config_file(opt_.fs ? opt_.fs : FileSystem::posix(), opt_.dir, cfg));
  LSM4KV_RETURN_IF_ERROR(index_->put({}, meta_key("ns:" + std::string(name)), encode_layout(id, layout)));
  names_[std::string(name)] = id;
  layouts_[id] = layout;
  *out = id;
  return Status::OK();
}

Status KvStoreImpl::layout_of(NamespaceId ns, KvLayout* out) const {
  LSM4KV_RETURN_IF_ERROR(check_open());
  std::lock_guard g(meta_mu_);
  auto it = layouts_.find(ns);
  if (it == layouts_.end()) return Status::invalid_argument("unknown namespace id " + std::to_string(ns));
  *out = it->second;
  return Status::OK();
}

Status KvStoreImpl::check_buffer(const KvBuffer& b, const KvLayout& layout, size_t tokens,
                                 const char* what) const {
  const size_t want = tokens * layout.bytes_per_token();
  switch (b.kind) {
    case KvBuffer::Kind::kHostPageMajor:
    case KvBuffer::Kind::kDevicePageMajor:
      if (b.data == nullptr) return Status::invalid_argument(std::string(what) + ": null buffer");
      if (b.size != want)
        return Status::invalid_argument(std::string(what) + ": buffer holds " + std::to_string(b.size) +
                                        " bytes, the layout needs " + std::to_string(want) + " for " +
                                        std::to_string(tokens) + " tokens");
      if (b.kind == KvBuffer::Kind::kDevicePageMajor && !tensorlog::device_available())
        return tensorlog::no_device_status();
      return Status::OK();
    case KvBuffer::Kind::kHostPerLayer: {
      if (layout.is_opaque())
        return Status::invalid_argument(std::string(what) + ": an opaque namespace has no layers; use a page-major buffer");
      const size_t row = size_t{layout.kv_heads} * layout.head_dim * dtype_size(layout.dtype);
      if (b.k.size() != layout.layers || b.v.size() != layout.layers)
        return Status::invalid_argument(std::string(what) + ": per-layer buffers need one K and one V pointer per layer");
      for (uint32_t l = 0; l < layout.layers; l++)
        if (b.k[l] == nullptr || b.v[l] == nullptr)
          return Status::invalid_argument(std::string(what) + ": null per-layer buffer");
      if (b.row_stride < row)
        return Status::invalid_argument(std::string(what) + ": row_stride is smaller than a row");
      return Status::OK();
    }
  }
  return Status::invalid_argument(std::string(what) + ": unknown buffer kind");
}

// Both strategies rely on prefix closure: a stored page's ancestors are
// stored, so "page i is stored" is monotone along a prompt.
Status KvStoreImpl::cached_pages(const PromptKeys& keys, size_t* pages) {
  *pages = 0;
  const size_t n = keys.size();
  if (n == 0) return Status::OK();
  auto stored = [&](size_t page, bool* found) {
    std::string v;
    Status s = index_->get({}, keys.key(page), &v);
    *found = s.ok();
    return s.is_not_found() ? Status::OK() : s;
  };
  // The most units u in [0, units] whose last page is stored (unit u ends at
  // page last(u)): the whole request first, then bisection.
  auto search = [&](size_t units, const std::function<size_t(size_t)>& last, size_t* out) -> Status {
    size_t lo = 0, hi = units;
    bool found = false;
    if (units > 0) {
      LSM4KV_RETURN_IF_ERROR(stored(last(units - 1), &found));
      if (found) lo = hi;
      else hi = units - 1;
    }
    while (lo < hi) {
      const size_t mid = (lo + hi + 1) / 2;
      LSM4KV_RETURN_IF_ERROR(stored(last(mid - 1), &found));
      if (found) lo = mid;
      else hi = mid - 1;
    }
    *out = lo;
    return Status::OK();
  };
  const size_t W = window_;
  if (opt_.probe == ProbeStrategy::kBinarySearch || W == 1)
    return search(n, [](size_t u) { return u; }, pages);
  size_t windows = 0;  // whole windows stored
  LSM4KV_RETURN_IF_ERROR(search(n / W, [&](size_t u) { return (u + 1) * W - 1; }, &windows));
  const size_t first = windows * W;
  *pages = first;
  if (first == n) return Status::OK();
  // One predecessor seek inside the next window: the greatest stored key <=
  // the request's last key of that window shares its page-prefix with every
  // stored prefix of the request there.
  const std::string& last = keys.key(std::min(n, first + W) - 1);
  auto it = index_->new_iterator({});
  it->seek_for_prev(last);
  LSM4KV_RETURN_IF_ERROR(it->status());
  if (!it->valid()) return Status::OK();
  const std::string_view found = it->key();
  if (!found.starts_with(std::string_view(last).substr(0, kKeyHeadBytes))) return Status::OK();
  size_t common = 0;
  const size_t in_window = key_window_pages(last);
  while (common < in_window && found.size() >= kKeyHeadBytes + (common + 1) * kFingerprintBytes &&
         found.compare(kKeyHeadBytes + common * kFingerprintBytes, kFingerprintBytes, last,
                       kKeyHeadBytes + common * kFingerprintBytes, kFingerprintBytes) == 0)
    common++;
  *pages = first + common;
  return Status::OK();
}

Status KvStoreImpl::lookup_all(const std::vector<std::string>& keys, std::vector<std::string>* values,
                               std::vector<Status>* statuses) {
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  std::vector<std::string_view> sorted;
  for (size_t i : order) sorted.push_back(keys[i]);
  std::vector<std::string> v;
  std::vector<Status> st;
  LSM4KV_RETURN_IF_ERROR(index_->multi_get({}, sorted, &v, &st));
  values->assign(keys.size(), {});
  statuses->assign(keys.size(), Status::OK());
  for (size_t j = 0; j < order.size(); j++) {
    (*values)[order[j]] = std::move(v[j]);
    (*statuses)[order[j]] = std::move(st[j]);
  }
  return Status::OK();
}

uint64_t KvStoreImpl::next_tick() {
  const uint64_t now = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  uint64_t t = tick_.load(std::memory_order_relaxed);
  while (!tick_.compare_exchange_weak(t, std::max(now, t + 1), std::memory_order_relaxed)) {}
  return std::max(now, t + 1);
}

void KvStoreImpl::touch(const std::string& root) {
  std::lock_guard g(lru_mu_);
  lru_.touch(root, next_tick());
}

Status KvStoreImpl::probe(NamespaceId ns, std::span<const Token> tokens, size_t* cached) {
  auto t0 = Clock::now();
  if (cached == nullptr) return Status::invalid_argument("probe: null output");
  *cached = 0;
  LSM4KV_RETURN_IF_ERROR(check_open());
  KvLayout layout;
  LSM4KV_RETURN_IF_ERROR(layout_of(ns, &layout));
  if (tokens.empty()) return Status::invalid_argument("probe: empty token list");
  const size_t pages = tokens.size() / opt_.page_tokens;
  const PromptKeys k = prompt_keys(ns, tokens, opt_.page_tokens, pages, window_, fingerprint_);
  size_t found = 0;
  LSM4KV_RETURN_IF_ERROR(cached_pages(k, &found));
  *cached = found * opt_.page_tokens;
  if (found > 0) touch(k.key(0));
  counters_.hit_tokens += *cached;
  counters_.miss_tokens += tokens.size() - *cached;
  counters_.hit_pages += found;
  counters_.miss_pages += pages - found;
  probe_latency_.record(micros_since(t0));
  observe();
  return Status::OK();
}

// ---------------------------------------------------------------------- put

Status KvStoreImpl::put_batch(NamespaceId ns, std::span<const Token> tokens, const KvBuffer& src,
                              PutResult* result) {
  PutRequest r{ns, tokens, src};
  return put_batch(std::span<const PutRequest>(&r, 1), result);
}

Status KvStoreImpl::put_batch(std::span<const PutRequest> requests, PutResult* result) {
  if (result != nullptr) *result = PutResult{};
  auto t0 = Clock::now();
  LSM4KV_RETURN_IF_ERROR(check_writable("put_batch"));
  for (const PutRequest& r : requests) {
    KvLayout layout;
    LSM4KV_RETURN_IF_ERROR(layout_of(r.ns, &layout));
    if (r.tokens.empty()) return Status::invalid_argument("put_batch: empty token list");
    LSM4KV_RETURN_IF_ERROR(check_buffer(r.src, layout, r.tokens.size(), "put_batch"));
  }
  std::vector<PutRequest> whole;  // a prompt shorter than one page stores nothing
  for (const PutRequest& r : requests)
    if (r.tokens.size() >= opt_.page_tokens) whole.push_back(r);
  if (whole.empty()) return Status::OK();
  std::lock_guard g(write_mu_);
  PutResult done;
  const uint64_t evicted_before = counters_.pages_evicted;  // evictions take write_mu_: these are this put's
  Status s = put_locked(whole, &done);
  done.pages_evicted = counters_.pages_evicted - evicted_before;
  if (result != nullptr) *result = done;
  put_latency_.record(micros_since(t0));
  observe();
  return s;
}

Status KvStoreImpl::put_locked(std::span<const PutRequest> requests, PutResult* result) {
  struct Pending {
    std::string key;
    std::string tag;
    const char* data;
    size_t size;
    size_t root;  // index in roots
    std::optional<Digest> digest;
  };
  std::vector<Pending> pages;
  std::vector<std::unique_ptr<char[]>> staging;  // per-layer and device sources
  std::vector<std::string> roots;
  std::unordered_set<std::string> paths;  // every page key of the requests: never evicted by this put
  uint64_t needed = 0;
  for (const PutRequest& r : requests) {
    KvLayout layout;
    LSM4KV_RETURN_IF_ERROR(layout_of(r.ns, &layout));
    const size_t P = opt_.page_tokens, n = r.tokens.size() / P, page_bytes = P * layout.bytes_per_token();
    const PromptKeys k = prompt_keys(r.ns, r.tokens, static_cast<uint32_t>(P), n, window_, fingerprint_);
    const std::vector<std::string>& keys = k.all_keys();  // every one is protected from eviction by this put
    size_t have = 0;
    LSM4KV_RETURN_IF_ERROR(cached_pages(k, &have));
    result->pages_present += have;
    // Pages an earlier request of this batch adds count as present.
    while (have < n && std::any_of(pages.begin(), pages.end(), [&](const Pending& p) { return p.key == keys[have]; })) {
      have++;
      result->pages_present++;  // named twice in the call
    }
    roots.push_back(keys[0]);
    paths.insert(keys.begin(), keys.end());
    if (have == n) continue;
    auto tags = page_tags(k, have, n - have);
    for (size_t p = have; p < n; p++) {
      const char* data = nullptr;
      if (r.src.kind == KvBuffer::Kind::kHostPageMajor) {
        data = static_cast<const char*>(r.src.data) + p * page_bytes;
      } else {
        staging.emplace_back(new char[page_bytes]);
        char* buf = staging.back().get();
        if (r.src.kind == KvBuffer::Kind::kHostPerLayer) {
          convert_page(layout, r.src, p * P, P, buf, /*to_record=*/true);
        } else {
          LSM4KV_RETURN_IF_ERROR(copy_from_device(buf, static_cast<const char*>(r.src.data) + p * page_bytes,
                                                  page_bytes, r.src.cuda_stream));
        }
        data = buf;
      }
      std::optional<Digest> digest;
      if (p % window_ == window_ - 1) digest = k.digest(p);
      pages.push_back({keys[p], std::move(tags[p - have]), data, page_bytes, roots.size() - 1, digest});
      needed += page_bytes + tensorlog::kAlign;
    }
  }
  if (pages.empty()) return Status::OK();
  LSM4KV_RETURN_IF_ERROR(make_room_for_put(needed, roots, paths));

  std::vector<tensorlog::RecordInput> records;
  for (const Pending& p : pages) records.push_back({p.tag, p.data, p.size});
  std::vector<tensorlog::Location> locs;
  LSM4KV_RETURN_IF_ERROR(log_->append(records, &locs));
  engine::WriteBatch batch;
  const uint64_t tick = next_tick();
  uint64_t bytes = 0;
  for (size_t i = 0; i < pages.size(); i++) {
    std::string v;
    PageEntry{locs[i], tick, pages[i].digest}.encode_to(&v);
    batch.put(pages[i].key, v);
    bytes += pages[i].size;
  }
  Status s = index_->write({}, &batch);
  if (!s.ok()) {
    forget_records(locs).ignore_error();  // never referenced: reclaimable
    return s;
  }
  {
    std::lock_guard g(lru_mu_);
    for (size_t i = 0; i < pages.size(); i++)
      lru_.add(roots[pages[i].root], disk_bytes(locs[i]), tick);
  }
  counters_.pages_put += pages.size();
  counters_.bytes_put += bytes;
  result->pages_stored = pages.size();
  return Status::OK();
}

// ---------------------------------------------------------------------- get

Status KvStoreImpl::get_batch(NamespaceId ns, std::span<const Token> tokens, size_t n, const KvBuffer& dst) {
  GetRequest r{ns, tokens, n, dst};
  return get_batch(std::span<GetRequest>(&r, 1));
}

std::future<Status> KvStoreImpl::get_batch_async(NamespaceId ns, std::vector<Token> tokens, size_t n,
                                                 KvBuffer dst) {
  {
    std::lock_guard l(async_mu_);
    if (closing_ || closed_) {
      std::promise<Status> refused;
      refused.set_value(Status::invalid_argument(opt_.dir + ": get_batch_async: store is closed"));
      return refused.get_future();
    }
    async_in_flight_++;
  }
  return std::async(std::launch::async, [this, ns, tokens = std::move(tokens), n, dst = std::move(dst)] {
    Status s = get_batch(ns, tokens, n, dst);
    std::lock_guard l(async_mu_);
    if (--async_in_flight_ == 0) async_cv_.notify_all();
    return s;
  });
}

Status KvStoreImpl::get_batch(std::span<GetRequest> requests) {
  auto t0 = Clock::now();
  LSM4KV_RETURN_IF_ERROR(check_open());
  const size_t P = opt_.page_tokens;
  struct PageRead {
    size_t request;
    size_t page;
    std::unique_ptr<char[]> staging;  // when the page cannot land in dst directly
  };
  std::vector<KvLayout> layouts(requests.size());
  const GetRequest* on_device = nullptr;  // the first device destination: its stream is the batch's
  for (size_t i = 0; i < requests.size(); i++) {
    if (requests[i].dst.kind != KvBuffer::Kind::kDevicePageMajor) continue;
    if (on_device == nullptr) on_device = &requests[i];
    if (requests[i].dst.cuda_stream != on_device->dst.cuda_stream)
      return Status::invalid_argument("get_batch: device destinations on different CUDA streams (request " +
                                      std::to_string(i) + "); one batch per stream");
  }
  for (size_t i = 0; i < requests.size(); i++) {
    const GetRequest& r = requests[i];
    LSM4KV_RETURN_IF_ERROR(layout_of(r.ns, &layouts[i]));
    if (r.tokens.empty()) return Status::invalid_argument("get_batch: empty token list");
    if (r.n == 0 || r.n > r.tokens.size())
      return Status::invalid_argument("get_batch: n = " + std::to_string(r.n) + " for " +
                                      std::to_string(r.tokens.size()) + " tokens");
    if ((r.n + P - 1) / P * P > r.tokens.size())
      return Status::invalid_argument("get_batch: n = " + std::to_string(r.n) + " is beyond the cached prefix (whole pages only)");
    LSM4KV_RETURN_IF_ERROR(check_buffer(r.dst, layouts[i], r.n, "get_batch"));
  }
  std::unique_lock gate(gc_gate_);
  std::shared_lock gc(gc_mu_);
  gate.unlock();
  std::vector<PageRead> reads;
  std::vector<tensorlog::ReadRequest> rr;
  std::vector<std::string> tags_storage;
  std::vector<ReadPage> read_pages;  // what each read is, should its record be damaged
  std::vector<std::string> first_keys;
  for (size_t i = 0; i < requests.size(); i++) {
    const GetRequest& r = requests[i];
    const size_t pages = (r.n + P - 1) / P, page_bytes = P * layouts[i].bytes_per_token();
    const PromptKeys k = prompt_keys(r.ns, r.tokens, static_cast<uint32_t>(P), pages, window_, fingerprint_);
    std::vector<std::string> values;
    std::vector<Status> statuses;
    LSM4KV_RETURN_IF_ERROR(lookup_all(k.all_keys(), &values, &statuses));
    for (size_t p = 0; p < pages; p++) {
      if (statuses[p].is_not_found()) {
        const bool hole = std::any_of(statuses.begin() + p + 1, statuses.end(), [](const Status& s) { return s.ok(); });
        if (!hole)
          return Status::not_found("get_batch: n = " + std::to_string(r.n) + " is beyond the cached prefix (" +
                                   std::to_string(p * P) + " tokens cached)");
        gc.unlock();
        return hole_found(r.ns, k, p);
      }
      LSM4KV_RETURN_IF_ERROR(statuses[p]);
    }
    auto tags = page_tags(k, 0, pages);
    for (size_t p = 0; p < pages; p++) {
      PageEntry e;
      if (!e.decode_from(values[p])) return Status::corruption(opt_.dir + ": bad page entry in the index");
      PageRead pr{i, p, nullptr};
      tensorlog::ReadRequest q;
      q.location = e.location;
      q.size = page_bytes;
      const bool whole = (p + 1) * P <= r.n;
      if (whole && r.dst.kind != KvBuffer::Kind::kHostPerLayer) {
        q.dst = static_cast<char*>(r.dst.data) + p * page_bytes;
        q.memory = r.dst.kind == KvBuffer::Kind::kDevicePageMajor ? tensorlog::MemoryKind::kDevice
                                                                 : tensorlog::MemoryKind::kHost;
      } else {
        pr.staging.reset(new char[page_bytes]);
        q.dst = pr.staging.get();
      }
      tags_storage.push_back(std::move(tags[p]));
      read_pages.push_back({k.key(p), k.key(0), p + 1});
      reads.push_back(std::move(pr));
      rr.push_back(q);
    }
    first_keys.push_back(k.key(0));
  }
  for (size_t j = 0; j < rr.size(); j++) rr[j].tag = tags_storage[j];
  tensorlog::ReadOptions ro;
  if (on_device != nullptr) ro.cuda_stream = on_device->dst.cuda_stream;
  Status s = log_->read(rr, ro);
  if (!s.ok()) {
    gc.unlock();
    return read_failed(rr, read_pages, s);
  }
  // Pages that went through staging: per-layer scatter or a partial last page.
  uint64_t bytes = 0;
  for (const PageRead& pr : reads) {
    const GetRequest& r = requests[pr.request];
    const KvLayout& layout = layouts[pr.request];
    const size_t bpt = layout.bytes_per_token();
    const size_t count = std::min(P, r.n - pr.page * P);
    bytes += count * bpt;
    if (!pr.staging) continue;
    if (r.dst.kind == KvBuffer::Kind::kHostPerLayer) {
      convert_page(layout, r.dst, pr.page * P, count, pr.staging.get(), /*to_record=*/false);
    } else if (r.dst.kind == KvBuffer::Kind::kHostPageMajor) {
      std::memcpy(static_cast<char*>(r.dst.data) + pr.page * P * bpt, pr.staging.get(), count * bpt);
    } else {
      LSM4KV_RETURN_IF_ERROR(copy_to_device(static_cast<char*>(r.dst.data) + pr.page * P * bpt,
                                            pr.staging.get(), count * bpt, r.dst.cuda_stream));
    }
  }
  for (const std::string& k : first_keys) touch(k);
  note_reads(rr);
  counters_.bytes_got += bytes;
  get_latency_.record(micros_since(t0));
  observe();
  return Status::OK();
}

void KvStoreImpl::note_reads(std::span<const tensorlog::ReadRequest> reads) {
  if (opt_.capacity_bytes == 0 || opt_.eviction != EvictionPolicy::kRegion || opt_.region_keep_reads == 0) return;
  std::vector<tensorlog::Location> hit;
  for (const tensorlog::ReadRequest& q : reads)
    if (q.status.ok()) hit.push_back(q.location);
  log_->mark_read(hit);
}

StoreStats KvStoreImpl::stats() const {
  StoreStats st;
  stats(&st).ignore_error();  // fills what it can; the Status form reports
  return st;
}

Status KvStoreImpl::stats(StoreStats* out) const {
  LSM4KV_RETURN_IF_ERROR(check_open());
  LSM4KV_RETURN_IF_ERROR(const_cast<KvStoreImpl*>(this)->wait_loaded());  // stored_bytes and the LRU's memory
  StoreStats& st = *out;
  st = StoreStats{};
  st.hit_tokens = counters_.hit_tokens;
  st.miss_tokens = counters_.miss_tokens;
  st.hit_pages = counters_.hit_pages;
  st.miss_pages = counters_.miss_pages;
  st.bytes_put = counters_.bytes_put;
  st.bytes_got = counters_.bytes_got;
  st.pages_put = counters_.pages_put;
  st.pages_evicted = counters_.pages_evicted;
  st.evictions = counters_.evictions;
  st.collisions = counters_.collisions;
  st.corrupt_pages_dropped = counters_.corrupt_pages_dropped;
  st.index_rebuilt = rebuilt_;
  st.rebuild = repair_;
  st.gc_bytes_copied = counters_.gc_bytes_copied;
  st.put_stalls = counters_.put_stalls;
  st.put_stall_micros = counters_.put_stall_micros;
  st.maintenance_rounds = counters_.maintenance_rounds;
  st.put_latency = put_latency_.percentiles();
  st.probe_latency = probe_latency_.percentiles();
  st.get_latency = get_latency_.percentiles();
  const tensorlog::LogUsage u = log_->usage();
  st.tensor_live_bytes = u.live_bytes;
  st.tensor_dead_bytes = u.dead_bytes;
  st.tensor_segments = u.segments;
  st.tensor_file_bytes = u.file_bytes;
  {
    std::lock_guard g(lru_mu_);
    st.stored_bytes = lru_.total_bytes();
    st.memory.eviction = lru_.memory_bytes();
  }
  st.memory.tensor_tables = u.table_bytes;
  engine::Properties p = index_->properties();
  for (const auto& l : p.levels) {
    for (const auto& r : l.runs) {
      st.memory.index_filters += r.bloom_memory_bytes;
      st.memory.index_fences += r.fence_memory_bytes;
    }
  }
  st.memory.index_block_cache = p.block_cache_usage;
  st.memory.index_memtables = p.memtable_bytes;
  st.files = p.live_files + st.tensor_segments;
  st.index_shape = p.shape;
  for (const auto& l : p.levels) st.runs_per_level.push_back(l.runs.size());
  if (tuner_)
    for (const tuner::Decision& d : tuner_->history()) st.tuner_decisions.push_back(public_decision(d));
  return Status::OK();
}

}  // namespace lsm4kv::kvcache
