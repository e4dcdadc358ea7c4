#include "tensorlog/tensor_log.h"

#include <algorithm>

#include "tensorlog/dead_log.h"
#include "tensorlog/device_copy.h"
#include "tensorlog/read_counts.h"

namespace lsm4kv::tensorlog {

// ---------------------------------------------------------------------------
// The writer's view of the segment table.

class TensorLog::Catalog final : public SegmentWriter::Catalog {
 public:
  Catalog(TensorLog* log, Head head) : log_(log), head_(head) {}
  uint64_t new_segment_id() override {
    std::lock_guard<std::mutex> l(log_->mu_);
    return log_->next_segment_id_++;
  }
  // Only the put head reuses files: the bulk of new records. A reused
  // segment of the main head would wait for its few readmissions and
  // copies to fill it ("Reused files", tensor_log.h).
  bool take_spare(std::string* path, uint64_t* bytes) override {
    if (head_ != Head::kPut || !log_->spare_free()) return false;
    std::lock_guard<std::mutex> l(log_->mu_);
    if (!log_->spare_) return false;
    *path = log_->dir_ + "/" + segment_file_name(log_->spare_->id);
    *bytes = log_->spare_->bytes;
    log_->spare_.reset();
    log_->spare_ready_ = false;
    return true;
  }
  bool spare_ready() const override {
    return head_ == Head::kPut && log_->spare_ready_.load(std::memory_order_relaxed) && log_->spare_free();
  }
  Status segment_created(uint64_t id, uint64_t reserved) override {
    std::shared_ptr<SegmentFile> file;
    LSM4KV_RETURN_IF_ERROR(SegmentFile::open(log_->dir_ + "/" + segment_file_name(id), id,
                                             log_->options_.direct_io, &file));
    std::lock_guard<std::mutex> l(log_->mu_);
    SegmentRecords& s = log_->segments_[id];
    s.id = id;
    s.file = std::move(file);
    s.file_bytes = kAlign;
    s.reserved_bytes = reserved;
    s.active = true;
    s.put_head = head_ == Head::kPut;
    return Status::OK();
  }
  void segment_dropped(uint64_t id) override {
    std::lock_guard<std::mutex> l(log_->mu_);
    log_->segments_.erase(id);
  }
  void published(uint64_t id, const std::vector<SegmentRecord>& added, uint64_t file_bytes,
                 bool sealed) override {
    std::lock_guard<std::mutex> l(log_->mu_);
    auto it = log_->segments_.find(id);
    if (it == log_->segments_.end()) return;
    // The writer keeps every offset below kMaxSegmentSize (checked at open),
    // so the table takes them all.
    for (const SegmentRecord& r : added) it->second.add(r.offset, r.length);
    it->second.file_bytes = file_bytes;
    it->second.sealed = sealed;
    it->second.active = !sealed;
    if (sealed) it->second.reserved_bytes = 0;  // cut to its seal
  }

 private:
  TensorLog* const log_;
  const Head head_;
};

// ---------------------------------------------------------------------------
// Asynchronous reads.

struct ReadHandle::State {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
  std::vector<ReadRequest> requests;
  ReadOptions options;
};

struct TensorLog::ReadJob {
  std::shared_ptr<ReadHandle::State> state;
};

Status ReadHandle::wait() {
  if (!state_) return Status::invalid_argument("empty read handle");
  std::unique_lock<std::mutex> l(state_->mu);
  state_->cv.wait(l, [&] { return state_->done; });
  return state_->status;
}

bool ReadHandle::ready() const {
  if (!state_) return true;
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->done;
}

const std::vector<ReadRequest>& ReadHandle::requests() const {
  static const std::vector<ReadRequest> kNone;
  return state_ ? state_->requests : kNone;
}

// ---------------------------------------------------------------------------
// Device destinations: records of codec kNone are copied straight from the
// (pinned) staging arena; encoded ones are decoded into one of two pinned
// buffers, alternating, so decoding the next overlaps the copy of the last.

namespace {

uint64_t minus(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

class DeviceStager {
 public:
  DeviceStager(PinnedPool* pool, void* stream) : pool_(pool), stream_(stream) {}
  ~DeviceStager() {
    for (CopyFence& f : fences_) f.wait().ignore_error();  // the copies' errors were returned by copy()
  }
  Status copy(const RecordHeader& h, const char* payload, void* dst, const std::string& where,
              bool* pending) {
    if (h.codec == static_cast<uint8_t>(Codec::kNone)) {
      *pending = true;
      return copy_to_device_async(dst, payload, h.raw_len, stream_);
    }
    int i = next_;
    next_ ^= 1;
    LSM4KV_RETURN_IF_ERROR(fences_[i].wait());
    if (buffers_[i].size() < h.raw_len) LSM4KV_RETURN_IF_ERROR(pool_->acquire(h.raw_len, &buffers_[i]));
    LSM4KV_RETURN_IF_ERROR(decode(static_cast<Codec>(h.codec), payload, h.stored_len,
                                  buffers_[i].data(), h.raw_len, where));
    LSM4KV_RETURN_IF_ERROR(copy_to_device_async(dst, buffers_[i].data(), h.raw_len, stream_));
    return fences_[i].record(stream_);
  }

 private:
  PinnedPool* const pool_;
  void* const stream_;
  PinnedBuffer buffers_[2];
  CopyFence fences_[2];
  int next_ = 0;
};

Status first_error(std::span<const ReadRequest> requests) {
  for (const ReadRequest& r : requests)
    if (!r.status.ok()) return r.status;
  return Status::OK();
}

}  // namespace

// ---------------------------------------------------------------------------

TensorLog::TensorLog(std::string dir, const TensorLogOptions& options)
    : dir_(std::move(dir)),
      options_(options),
      segment_size_(options.segment_size),
      reuse_files_within_(options.reuse_files_within),
      pool_(size_t{256} << 20, options.use_cuda),
      catalogs_{std::make_unique<Catalog>(this, Head::kPut), std::make_unique<Catalog>(this, Head::kKept)} {}

TensorLog::~TensorLog() { close().ignore_error(); }  // close() reports; a destructor cannot

Status TensorLog::open(const std::string& dir, const TensorLogOptions& options,
                       std::unique_ptr<TensorLog>* out) {
  if (options.fs == nullptr) return Status::invalid_argument("TensorLogOptions.fs is null");
  if (options.segment_size < 4 * kAlign || options.segment_size > kMaxSegmentSize)
    return Status::invalid_argument("segment_size must be 16 KiB .. 16 GiB, not " + std::to_string(options.segment_size));
  if (!is_known_codec(static_cast<uint8_t>(options.codec)))
    return Status::invalid_argument("unknown codec " + std::to_string(static_cast<int>(options.codec)));
  if (options.read_only) {
    if (!options.fs->exists(dir)) return Status::not_found(dir + ": no such tensor log directory");
  } else {
    // Durable before any segment in it is: its entry in the parent is synced.
    LSM4KV_RETURN_IF_ERROR(create_dir_durable(options.fs, dir));
  }
  std::unique_ptr<TensorLog> log(new TensorLog(dir, options));
  // Read-only: lock the LOCK file a writer left (so that a live writer is
  // seen as Busy), never create one.
  if (!options.read_only || options.fs->exists(dir + "/LOCK"))
    LSM4KV_RETURN_IF_ERROR(options.fs->lock_file(dir + "/LOCK", &log->lock_));
  LSM4KV_RETURN_IF_ERROR(log->recover());
  if (!options.read_only) {
    SegmentWriterOptions wo;
    wo.segment_size = options.segment_size;
    wo.sync = options.sync;
    wo.direct_writes = options.direct_io;
    for (int h = 0; h < 2; ++h)
      log->writers_[h] = std::make_unique<SegmentWriter>(options.fs, dir, wo, log->catalogs_[h].get());
  }
  for (unsigned i = 0; i < options.async_threads; ++i)
    log->workers_.emplace_back([l = log.get()] { l->async_worker(); });
  *out = std::move(log);
  return Status::OK();
}

Status TensorLog::recover() {
  FileSystem* fs = options_.fs;
  std::vector<std::string> names;
  LSM4KV_RETURN_IF_ERROR(fs->list_dir(dir_, &names));
  std::vector<uint64_t> ids;
  for (const std::string& name : names) {
    uint64_t id = 0;
    if (parse_segment_file_name(name, &id)) {
      ids.push_back(id);
    } else if (name.size() > 4 && name.ends_with(".tmp") && !options_.read_only) {
      fs->remove(dir_ + "/" + name).ignore_error();  // an interrupted write_file_atomic
    }
  }
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    SegmentRecords rec;
    bool empty = false;
    LSM4KV_RETURN_IF_ERROR(recover_segment(fs, dir_, id, options_.read_only, &rec, &empty));
    next_segment_id_ = std::max(next_segment_id_, id + 1);
    std::string path = dir_ + "/" + segment_file_name(id);
    if (empty) {
      if (!options_.read_only) LSM4KV_RETURN_IF_ERROR(fs->remove(path));
      continue;
    }
    LSM4KV_RETURN_IF_ERROR(SegmentFile::open(path, id, options_.direct_io, &rec.file));
    segments_[id] = std::move(rec);
  }
  LSM4KV_RETURN_IF_ERROR(load_journals(names));
  LSM4KV_RETURN_IF_ERROR(DeadLog::open(fs, dir_, options_.sync != SyncMode::kNone, options_.read_only,
                                       [this](const Location& l) { return mark_dead_locked(l); }, &dead_log_));
  std::vector<ReadCount> counts;
  LSM4KV_RETURN_IF_ERROR(take_read_counts(fs, dir_, options_.read_only, &counts));
  for (const auto& [loc, reads] : counts) {
    auto [table, i] = find_record_locked(loc);
    if (table == nullptr || table->dead(i)) continue;
    for (uint32_t k = 0; k < reads; ++k) table->add_read(i);
  }
  return Status::OK();
}

Status TensorLog::check_writable(const char* what) const {
  if (!options_.read_only) return Status::OK();
  return Status::not_supported(dir_ + ": " + what + ": the tensor log is open read-only");
}

Status TensorLog::append(std::span<const RecordInput> records, std::vector<Location>* locations, Head head) {
  locations->clear();
  LSM4KV_RETURN_IF_ERROR(check_writable("append"));
  if (records.empty()) return Status::OK();
  // A batch of more than 4 MiB is encoded by the writer, chunk by chunk,
  // while its earlier chunks are being written (SegmentWriter::append_chunked);
  // a small one here, so that concurrent appenders encode in parallel. Each
  // thread keeps its buffer for the next call.
  SegmentWriter* w = writer(head);
  const uint64_t start = w->tail_hint();
  if (w->pipelined(encoded_capacity(options_.codec, records, start)))
    return w->append_chunked(options_.codec, records, locations);
  thread_local EncodedBatch batch;
  Status s = encode_batch(options_.codec, records, &batch, start);
  batch.takes_spare = true;
  if (s.ok()) s = w->append(&batch, SegmentWriter::Durability::kByMode, locations);
  if (!s.ok()) locations->clear();
  return s;
}

Status TensorLog::sync() {
  LSM4KV_RETURN_IF_ERROR(check_writable("sync"));
  LSM4KV_RETURN_IF_ERROR(writer(Head::kPut)->sync());
  return writer(Head::kKept)->sync();
}

Status TensorLog::acquire_reader(std::unique_ptr<UringReader>* out) {
  std::unique_lock<std::mutex> l(readers_mu_);
  for (;;) {
    if (!idle_readers_.empty()) {
      *out = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Status::OK();
    }
    if (readers_created_ < std::max(1u, options_.max_readers)) break;
    readers_cv_.wait(l);
  }
  ++readers_created_;
  l.unlock();
  Status s = UringReader::create(options_.reader, &pool_, out);
  if (!s.ok()) {
    l.lock();
    --readers_created_;
    readers_cv_.notify_one();
  }
  return s;
}

Status TensorLog::warm_reader() {
  std::unique_ptr<UringReader> r;
  LSM4KV_RETURN_IF_ERROR(acquire_reader(&r));
  release_reader(std::move(r));
  return Status::OK();
}

bool TensorLog::spare_free() {
  auto held = [this] {
    std::lock_guard<std::mutex> l(mu_);
    return spare_ && !spare_->file.expired();
  };
  if (!held()) return true;
  drop_dead_reader_files();  // idle readers keep registered files until told
  return !held();
}

void TensorLog::drop_dead_reader_files() {
  std::lock_guard<std::mutex> l(readers_mu_);
  for (auto& r : idle_readers_) r->drop_dead_slots();
}

void TensorLog::release_reader(std::unique_ptr<UringReader> r) {
  // A reader that was busy when the spare's segment was retired lets go of
  // its file now, so that the spare can be taken.
  if (spare_ready_.load(std::memory_order_relaxed)) r->drop_dead_slots();
  std::lock_guard<std::mutex> l(readers_mu_);
  idle_readers_.push_back(std::move(r));
  readers_cv_.notify_one();
}

Status TensorLog::read(std::span<ReadRequest> requests, const ReadOptions& options) {
  bool device = false;
  Status bad;
  for (ReadRequest& r : requests) {
    r.status = Status::OK();
    if (r.dst == nullptr && r.dst_slices.empty() && r.size > 0) r.status = Status::invalid_argument("null destination");
    if (!r.dst_slices.empty() && r.memory != MemoryKind::kHost)
      r.status = Status::invalid_argument("slices of device memory");
    if (r.memory == MemoryKind::kDevice) device = true;
    if (bad.ok()) bad = r.status;
  }
  if (!bad.ok()) return bad;
  if (device && !device_available()) {
    Status s = no_device_status();
    for (ReadRequest& r : requests) r.status = s;
    return s;
  }
  for (ReadRequest& r : requests)
    if (r.memory == MemoryKind::kDevice && r.size > 0 && bad.ok())
      bad = r.status = check_device_pointer(r.dst, "read");
  if (!bad.ok()) return bad;
  return read_records(requests, options);
}

Status TensorLog::read_records(std::span<ReadRequest> requests, const ReadOptions& options) {
  std::vector<ReadExtent> extents;
  std::vector<size_t> request_of;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < requests.size(); ++i) {
      auto it = segments_.find(requests[i].location.segment);
      if (it == segments_.end()) {
        requests[i].status = Status::not_found(requests[i].location.to_string() +
                                               ": no such segment (collected?)");
        continue;
      }
      extents.push_back({it->second.file, requests[i].location});
      request_of.push_back(i);
    }
  }
  if (extents.empty()) return first_error(requests);
  std::vector<bool> visited(extents.size(), false);
  DeviceStager stager(&pool_, options.cuda_stream);
  auto visit = [&](size_t i, const char* rec, const Status& io, bool* pending) {
    visited[i] = true;
    ReadRequest& r = requests[request_of[i]];
    if (!io.ok()) {
      r.status = io;
      return;
    }
    RecordHeader h;
    Status s = verify_record(rec, r.location, &h);
    if (s.ok() && !is_known_codec(h.codec))
      s = Status::corruption(r.location.to_string() + ": not a data record");
    if (s.ok() && std::string_view(rec + kRecordHeaderSize, h.tag_len) != r.tag)
      s = Status::tag_mismatch(r.location.to_string() + ": tag mismatch (the record belongs to other tokens)");
    if (s.ok() && h.raw_len != r.size)
      s = Status::invalid_argument(r.location.to_string() + ": destination of " +
                                   std::to_string(r.size) + " bytes for a record of " +
                                   std::to_string(h.raw_len));
    const char* payload = rec + kRecordHeaderSize + h.tag_len;
    if (s.ok() && r.memory == MemoryKind::kHost && !r.dst_slices.empty()) {
      s = decode_to_slices(static_cast<Codec>(h.codec), payload, h.stored_len, r.dst_slices, h.raw_len,
                           r.location.to_string());
    } else if (s.ok() && r.memory == MemoryKind::kHost) {
      s = decode(static_cast<Codec>(h.codec), payload, h.stored_len, static_cast<char*>(r.dst),
                 h.raw_len, r.location.to_string());
    } else if (s.ok()) {
      s = stager.copy(h, payload, r.dst, r.location.to_string(), pending);
    }
    r.status = s;
  };
  std::unique_ptr<UringReader> reader;
  Status s = acquire_reader(&reader);
  if (s.ok()) {
    s = reader->read(extents, visit, options.cuda_stream);
    release_reader(std::move(reader));
  }
  if (!s.ok()) {
    for (size_t i = 0; i < extents.size(); ++i)
      if (!visited[i]) requests[request_of[i]].status = s;
  }
  return first_error(requests);
}

ReadHandle TensorLog::read_async(std::vector<ReadRequest> requests, const ReadOptions& options) {
  ReadHandle h;
  h.state_ = std::make_shared<ReadHandle::State>();
  h.state_->requests = std::move(requests);
  h.state_->options = options;
  if (workers_.empty()) {
    h.state_->status = read(h.state_->requests, options);
    h.state_->done = true;
    return h;
  }
  std::lock_guard<std::mutex> l(jobs_mu_);
  jobs_.push_back(std::make_shared<ReadJob>(ReadJob{h.state_}));
  jobs_cv_.notify_one();
  return h;
}

void TensorLog::async_worker() {
  for (;;) {
    std::shared_ptr<ReadJob> job;
    {
      std::unique_lock<std::mutex> l(jobs_mu_);
      jobs_cv_.wait(l, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = jobs_.front();
      jobs_.erase(jobs_.begin());
    }
    ReadHandle::State& st = *job->state;
    Status s = read(st.requests, st.options);
    std::lock_guard<std::mutex> l(st.mu);
    st.status = s;
    st.done = true;
    st.cv.notify_all();
  }
}

bool TensorLog::mark_dead_locked(const Location& loc) {
  auto it = segments_.find(loc.segment);
  return it != segments_.end() && it->second.mark_dead(loc.offset, loc.length);
}

Status TensorLog::mark_dead(std::span<const Location> locations) {
  std::vector<Location> marked;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const Location& loc : locations)
      if (mark_dead_locked(loc)) marked.push_back(loc);
  }
  if (options_.read_only) return Status::OK();  // in memory only
  return dead_log_->append(marked);
}

void TensorLog::defer_dead(std::span<const Location> locations) {
  std::lock_guard<std::mutex> l(mu_);
  for (const Location& loc : locations)
    if (mark_dead_locked(loc) && !options_.read_only) deferred_dead_.push_back(loc);
}

Status TensorLog::settle_dead(std::span<const Location> more) {
  LSM4KV_RETURN_IF_ERROR(check_writable("settle_dead"));
  std::vector<Location> marks;
  {
    std::lock_guard<std::mutex> l(mu_);
    marks.swap(deferred_dead_);
  }
  Status s = before_reclaim_ ? before_reclaim_() : Status::OK();
  if (s.ok() && marks.empty() && more.empty()) return s;
  marks.insert(marks.end(), more.begin(), more.end());
  if (s.ok()) s = dead_log_->append_durable(marks);
  if (!s.ok()) {  // kept for the next try (`more` is the caller's to retry)
    std::lock_guard<std::mutex> l(mu_);
    deferred_dead_.insert(deferred_dead_.end(), marks.begin(), marks.end() - static_cast<ptrdiff_t>(more.size()));
  }
  return s;
}

std::pair<RecordTable*, size_t> TensorLog::find_record_locked(const Location& loc) {
  auto it = segments_.find(loc.segment);
  if (it == segments_.end()) return {nullptr, RecordTable::kNone};
  const size_t i = it->second.records.find(loc.offset);
  if (i == RecordTable::kNone) return {nullptr, RecordTable::kNone};
  return {&it->second.records, i};
}

void TensorLog::mark_read(std::span<const Location> locations) {
  std::lock_guard<std::mutex> l(mu_);
  for (const Location& loc : locations) {
    auto [table, i] = find_record_locked(loc);
    if (table != nullptr) table->add_read(i);
  }
}

uint32_t TensorLog::reads(const Location& loc) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = segments_.find(loc.segment);
  if (it == segments_.end()) return 0;
  const size_t i = it->second.records.find(loc.offset);
  return i == RecordTable::kNone ? 0 : it->second.records.reads(i);
}

uint64_t TensorLog::oldest_collectable_segment(std::optional<Head> head, uint64_t after) const {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = segments_.upper_bound(after); it != segments_.end(); ++it)
    if (collectable_locked(it->first, it->second) && (!head || it->second.put_head == (*head == Head::kPut)))
      return it->first;
  return 0;
}

Head TensorLog::segment_head(uint64_t id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = segments_.find(id);
  return it != segments_.end() && it->second.put_head ? Head::kPut : Head::kKept;
}

std::vector<SegmentInfo> TensorLog::segments() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<SegmentInfo> out;
  for (const auto& [id, s] : segments_) {
    SegmentInfo i;
    i.id = id;
    i.file_bytes = s.file_bytes;
    i.live_bytes = s.live_bytes;
    i.dead_bytes = s.dead_bytes;
    i.records = s.records.size();
    i.live_records = s.live_records;
    i.sealed = s.sealed;
    i.active = s.active;
    i.torn_bytes = s.torn_bytes;
    out.push_back(i);
  }
  return out;
}

LogUsage TensorLog::usage() const {
  std::lock_guard<std::mutex> l(mu_);
  LogUsage u;
  for (const auto& [id, s] : segments_) {
    u.segments++;
    u.file_bytes += s.file_bytes;
    if (s.put_head) u.put_head_bytes += s.file_bytes;
    u.live_bytes += s.live_bytes;
    u.dead_bytes += s.dead_bytes;
    if (s.active) u.active_dead_bytes += s.dead_bytes;
    u.table_bytes += sizeof(s) + s.records.memory_bytes();
    u.spare_bytes += minus(s.reserved_bytes, s.file_bytes);
  }
  if (spare_) u.spare_bytes += spare_->bytes;
  u.copying_bytes = copying_bytes_;
  u.victim_bytes = victim_bytes_;
  u.victim_planned_bytes = victim_planned_bytes_;
  for (const auto& [id, r] : retired_files_) u.retired_bytes += r.bytes;
  return u;
}

void TensorLog::resize_segments(uint64_t bytes, uint64_t reuse_files_within) {
  segment_size_.store(bytes, std::memory_order_relaxed);
  reuse_files_within_.store(options_.read_only ? 0 : reuse_files_within, std::memory_order_relaxed);
  for (auto& w : writers_)
    if (w) w->set_segment_size(bytes);
}

Status TensorLog::drop_spare(bool* dropped) {
  std::optional<Spare> spare;
  {
    std::lock_guard<std::mutex> l(mu_);
    spare.swap(spare_);
    spare_ready_ = false;
  }
  *dropped = spare.has_value();
  return spare ? options_.fs->remove(dir_ + "/" + segment_file_name(spare->id)) : Status::OK();
}

uint64_t TensorLog::spare_filled_by(uint64_t put_bytes) const {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t room = 0;  // of the put head's reused active segment
  for (const auto& [id, s] : segments_)
    if (s.active && s.put_head) room += minus(std::min(s.reserved_bytes, segment_size()), s.file_bytes);
  uint64_t filled = std::min(room, put_bytes);
  // Not while a reader holds it: the put head cannot take it then.
  if (spare_ && spare_->file.expired())
    filled += std::min(minus(std::min(spare_->bytes, segment_size()), kAlign), put_bytes - filled);
  return filled;
}

std::vector<Location> TensorLog::live_records() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Location> out;
  for (const auto& [id, s] : segments_)
    for (const SegmentRecord& r : s.records)
      if (!r.dead) out.push_back({id, r.offset, r.length});
  return out;
}

Location TensorLog::last_record() const {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it)
    if (!it->second.records.empty()) {
      const SegmentRecord r = it->second.records.back();
      return {it->first, r.offset, r.length};
    }
  return {};
}

Status TensorLog::scan(const ScanVisitor& valid, const DamageVisitor& damaged) {
  struct Live {
    uint64_t id;
    std::vector<SegmentRecord> records;
  };
  std::vector<Live> live;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [id, s] : segments_) {
      Live seg{id, {}};
      for (const SegmentRecord& r : s.records)
        if (!r.dead) seg.records.push_back(r);
      live.push_back(std::move(seg));
    }
  }
  for (const Live& seg : live)
    LSM4KV_RETURN_IF_ERROR(scan_segment(options_.fs, dir_ + "/" + segment_file_name(seg.id), seg.id,
                                        seg.records, valid, damaged));
  return Status::OK();
}

Status TensorLog::close() {
  if (closed_) return Status::OK();
  closed_ = true;
  {
    std::lock_guard<std::mutex> l(jobs_mu_);
    stopping_ = true;
    jobs_cv_.notify_all();
  }
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  if (!options_.read_only) {
    std::vector<ReadCount> counts;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (const auto& [id, s] : segments_)
        for (size_t i = 0; i < s.records.size(); ++i)
          if (!s.records.dead(i) && s.records.reads(i) > 0) {
            const SegmentRecord r = s.records.at(i);
            counts.emplace_back(Location{id, r.offset, r.length}, s.records.reads(i));
          }
    }
    // A hint (read_counts.h): on a full disk the counts are lost, not the close.
    save_read_counts(options_.fs, dir_, counts).ignore_error();
  }
  Status s = writers_[0] ? writers_[0]->close() : Status::OK();
  Status k = writers_[1] ? writers_[1]->close() : Status::OK();
  if (s.ok()) s = k;
  // Left behind it would be an old segment whose records nothing references.
  bool dropped = false;
  if (s.ok()) s = drop_spare(&dropped);
  return s;
}

}  // namespace lsm4kv::tensorlog
