// The KV cache store: open, close, options, namespaces, put_batch and stats,
// over the index and the tensor log. probe: kv_store_probe.cc; get_batch:
// kv_store_get.cc; the state loaded at open: kv_store_load.cc; capacity,
// eviction and GC: kv_store_maintenance.cc.
#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "base/coding.h"
#include "kvcache_api/device_staging.h"
#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/page_layout.h"
#include "kvcache_api/subtree_walk.h"
#include "tensorlog/device_copy.h"

namespace lsm4kv::kvcache {
namespace {

using Clock = std::chrono::steady_clock;

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

}  // namespace

const char* outcome_name(TunerDecision::Outcome outcome) {
  return tuner::outcome_name(static_cast<tuner::Decision::Outcome>(outcome));  // the same numbers
}

Status KvStore::open(const StoreOptions& options, std::unique_ptr<KvStore>* out) {
  if (out == nullptr) return Status::invalid_argument("open: null output");
  if (options.read_only) return KvStoreImpl::open_existing(options, out);
  auto store = std::make_unique<KvStoreImpl>(options);
  LSM4KV_RETURN_IF_ERROR(store->open());
  store->start_stats_writer();  // kvtool stats reads it (store_stats_file.cc)
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

constexpr uint64_t kMiB = 1 << 20;

// The most StoreOptions::segment_bytes = 0 gives: 256 MiB, and a quarter of
// the capacity (whole 4 KiB blocks).
uint64_t max_default_segment_bytes(uint64_t capacity) {
  constexpr uint64_t kMax = 256 * kMiB;
  return capacity == 0 ? kMax : std::min(kMax, capacity / 4 / tensorlog::kAlign * tensorlog::kAlign);
}

// StoreOptions::segment_bytes = 0, at open: a 32nd of the capacity in whole
// MiB, at least 4 MiB (fit_segments_to raises it for big pages).
uint64_t default_segment_bytes(uint64_t capacity) {
  const uint64_t by_capacity = capacity == 0 ? UINT64_MAX : std::max(capacity / 32 / kMiB * kMiB, 4 * kMiB);
  return std::min(by_capacity, max_default_segment_bytes(capacity));
}

// StoreOptions::kReserveByCapacity, at open (segment_bytes resolved): what
// a full disk's eviction writes, an index memtable and a region's copy, up
// to the 64 MiB a store without a capacity keeps.
uint64_t default_reserve_bytes(const StoreOptions& o) {
  constexpr uint64_t kMax = 64 * kMiB;
  if (o.capacity_bytes == 0) return kMax;
  return std::min<uint64_t>(kMax, o.index_write_buffer + 2 * o.segment_bytes);
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
  if (!(o.region_small_share >= 0.0 && o.region_small_share < 1.0))
    return bad("region_small_share must be in [0, 1), not " + std::to_string(o.region_small_share));
  if (o.region_main_keep_reads < 1 || o.region_main_keep_reads > tensorlog::RecordTable::kMaxReads)
    return bad("region_main_keep_reads must be in 1.." + std::to_string(tensorlog::RecordTable::kMaxReads) +
               ", not " + std::to_string(o.region_main_keep_reads));
  if (o.region_keep_reads > tensorlog::RecordTable::kMaxReads)
    return bad("region_keep_reads must be at most " + std::to_string(tensorlog::RecordTable::kMaxReads) + ", not " +
               std::to_string(o.region_keep_reads));
  if (o.segment_bytes < 4 * tensorlog::kAlign || o.segment_bytes > tensorlog::kMaxSegmentSize)
    return bad("segment_bytes must be 16 KiB .. 16 GiB, not " + std::to_string(o.segment_bytes));
  if (o.capacity_bytes != 0 && o.capacity_bytes / 2 < o.segment_bytes)
    return bad("capacity_bytes " + std::to_string(o.capacity_bytes) + " is less than two segments of " +
               std::to_string(o.segment_bytes) + " bytes (one is the slack a collection's copy takes)");
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

StoreOptions resolved(StoreOptions o) {
  if (o.segment_bytes == 0) o.segment_bytes = default_segment_bytes(o.capacity_bytes);
  if (o.reserve_bytes == StoreOptions::kReserveByCapacity) o.reserve_bytes = default_reserve_bytes(o);
  return o;
}

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
  // One FIFO: one head, as collections before the two.
  to.copy_head = two_fifos() ? tensorlog::Head::kKept : tensorlog::Head::kPut;
  to.codec = opt_.codec;
  to.sync = opt_.sync;
  to.read_only = ro;
  to.reuse_files_within = reuse_files_within(opt_.segment_bytes);
  LSM4KV_RETURN_IF_ERROR(tensorlog::TensorLog::open(opt_.dir + "/tensors", to, &log_));
  // Region eviction's evictions and collections' relocations go to the
  // index unsynced: no segment file goes before they are durable.
  log_->set_before_reclaim([this] { return index_ ? index_->sync_wal() : Status::OK(); });
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
  Status r;
  if (log_ && !opt_.read_only) {
    std::lock_guard c(collect_mu_);
    r = commit_retired();  // else the next open finishes it (resolve_pending_collections)
    if (r.ok()) r = log_->settle_dead();  // else the next open finds those records unreferenced
  }
  stop_stats_writer();  // writes the stats file a last time
  closed_ = true;
  tuner_.reset();
  Status s = index_ ? index_->close() : Status::OK();
  if (s.ok()) s = r;
  Status t = log_ ? log_->close() : Status::OK();
  index_.reset();  // releases the directory's locks: the store can be reopened
  log_.reset();
  return s.ok() ? t : s;
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
    return Status::OK();  // its pages were fitted at open (load_state)
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
  fit_segments_to(page_bytes);
  *out = id;
  return Status::OK();
}

void KvStoreImpl::fit_segments_to(uint64_t page_bytes) {
  if (!segment_by_default_ || opt_.read_only || !log_) return;
  // A page bigger than what is left of a segment starts the next: with 16
  // pages a segment, at most a 16th of it goes unused.
  constexpr uint64_t kPagesPerSegment = 16;
  const uint64_t record = page_bytes + tensorlog::kAlign;  // its header and alignment, at most
  const uint64_t want = std::min((kPagesPerSegment * record + kMiB - 1) / kMiB * kMiB,
                                 max_default_segment_bytes(opt_.capacity_bytes));
  if (want <= log_->segment_size()) return;
  log_->resize_segments(want, reuse_files_within(want));
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
      if (b.kind == KvBuffer::Kind::kDevicePageMajor)
        return tensorlog::check_device_pointer(b.data, what);
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
  std::vector<tensorlog::RecordInput> records;
  std::vector<std::string_view> keys;
  for (const Pending& p : pages) {
    records.push_back({p.tag, p.data, p.size});
    keys.push_back(p.key);
  }
  std::vector<size_t> readmit = take_readmissions(keys);
  // The put head's pages, each counted as `needed` counts it: its record's
  // bytes at most.
  uint64_t fill = needed;
  for (size_t i : readmit) fill -= pages[i].size + tensorlog::kAlign;
  route_readmissions(needed, &fill, &readmit);
  LSM4KV_RETURN_IF_ERROR(make_room_for_put(needed, fill, roots, paths));
  std::vector<tensorlog::Location> locs;
  LSM4KV_RETURN_IF_ERROR(append_put(records, readmit, &locs));
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
  if (lists_pages())
    for (size_t i = 0; i < pages.size(); i++) segment_pages_.add(locs[i].segment, pages[i].key, roots[pages[i].root]);
  counters_.pages_put += pages.size();
  counters_.bytes_put += bytes;
  result->pages_stored = pages.size();
  return Status::OK();
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
  st.pages_readmitted = counters_.pages_readmitted;
  st.put_latency = put_latency_.percentiles();
  st.probe_latency = probe_latency_.percentiles();
  st.get_latency = get_latency_.percentiles();
  const tensorlog::LogUsage u = log_->usage();
  st.tensor_live_bytes = u.live_bytes;
  st.tensor_dead_bytes = u.dead_bytes;
  st.tensor_segments = u.segments;
  st.tensor_file_bytes = u.file_bytes + u.spare_bytes;
  st.tensor_spare_bytes = u.spare_bytes;
  {
    std::lock_guard g(lru_mu_);
    st.stored_bytes = lru_.total_bytes();
    st.memory.eviction = lru_.memory_bytes() + segment_pages_.memory_bytes();
  }
  {
    std::lock_guard g(ghost_mu_);
    st.memory.eviction += ghost_.memory_bytes();
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
