#include "engine/db_impl.h"

#include <algorithm>
#include <map>

#include "base/coding.h"
#include "engine/bloom.h"
#include "engine/file_names.h"

namespace lsm4kv::engine {

struct DBImpl::Writer {
  WriteBatch* batch = nullptr;  // null: a forced memtable switch (flush), or a WAL sync
  SyncMode mode = SyncMode::kNone;
  bool done = false;
  Status status;
  std::condition_variable cv;
};

namespace {

class MemInserter final : public WriteBatch::Handler {
 public:
  MemInserter(MemTable* mem, EngineCounters* counters) : mem_(mem), counters_(counters) {}
  void put(SequenceNumber seq, std::string_view key, std::string_view value) override {
    mem_->add(seq, EntryType::kPut, key, value);
    bytes_ += key.size() + value.size();
  }
  void delete_key(SequenceNumber seq, std::string_view key) override {
    mem_->add(seq, EntryType::kDelete, key, {});
    bytes_ += key.size();
  }
  void delete_range(SequenceNumber seq, std::string_view begin, std::string_view end) override {
    mem_->add_range_tombstone(seq, begin, end);
    bytes_ += begin.size() + end.size();
  }
  ~MemInserter() override {
    if (counters_) counters_->user_bytes_written.fetch_add(bytes_, std::memory_order_relaxed);
  }

 private:
  MemTable* mem_;
  EngineCounters* counters_;
  uint64_t bytes_ = 0;
};

// Rejects range deletions whose end sorts before their begin.
class BatchValidator final : public WriteBatch::Handler {
 public:
  void put(SequenceNumber, std::string_view, std::string_view) override {}
  void delete_key(SequenceNumber, std::string_view) override {}
  void delete_range(SequenceNumber, std::string_view begin, std::string_view end) override {
    if (end < begin) bad = true;
  }
  bool bad = false;
};

}  // namespace

Status insert_into(MemTable* mem, const WriteBatch& batch, EngineCounters* counters) {
  MemInserter ins(mem, counters);
  return batch.for_each(&ins);
}

Status DB::open(const Options& options, const std::string& dir, std::unique_ptr<DB>* out) {
  if (options.shape.size_ratio < 2) return Status::invalid_argument("shape: size ratio T must be >= 2");
  if (options.write_buffer_size < 4096) return Status::invalid_argument("write_buffer_size below 4 KiB");
  auto db = std::make_unique<DBImpl>(options, dir);
  LSM4KV_RETURN_IF_ERROR(db->recover());
  *out = std::move(db);
  return Status::OK();
}

DBImpl::DBImpl(const Options& options, std::string dir)
    : options_(options),
      dir_(std::move(dir)),
      fs_(options.fs ? options.fs : FileSystem::posix()),
      cache_(std::make_unique<BlockCache>(options.block_cache_bytes)),
      versions_(fs_, dir_,
                {[this](uint64_t number, std::shared_ptr<SortedRun>* out) { return open_run(number, out); },
                 [this](const std::string& name) { remove_file(name); }}),
      read_only_(options.read_only) {}

DBImpl::~DBImpl() { close().ignore_error(); }  // close() reports; a destructor cannot

Status DBImpl::close() {
  {
    std::unique_lock l(mu_);
    if (closed_) return Status::OK();
    closed_ = true;
    shutting_down_ = true;
    bg_cv_.notify_all();
  }
  if (flush_thread_.joinable()) flush_thread_.join();
  if (compaction_thread_.joinable()) compaction_thread_.join();
  std::unique_lock l(mu_);
  Status s;
  if (wal_) {
    s = wal_->sync();  // a clean close makes every write durable
    Status c = wal_->close();
    if (s.ok()) s = c;
  }
  versions_.close();
  lock_.reset();
  return s;
}

// ------------------------------------------------------------------ files

Status DBImpl::open_run(uint64_t number, std::shared_ptr<SortedRun>* out) {
  return SortedRun::open(fs_, path(run_name(number)), number, cache_.get(), &counters_, out);
}

void DBImpl::remove_file(const std::string& name) {
  uint64_t number;
  if (parse_file_name(name, &number) == FileKind::kRun) cache_->erase_file(number);
  fs_->remove(path(name)).ignore_error();  // best effort: a leftover is removed at the next open
}

// --------------------------------------------------------------- write path

Status DBImpl::check_writable(const char* op) {
  if (read_only_) return Status::invalid_argument(dir_ + ": " + op + ": the database is open read-only");
  if (closed_ || shutting_down_) return Status::invalid_argument(dir_ + ": database is closed");
  return finish_recovery();
}

Status DBImpl::put(const WriteOptions& wo, std::string_view key, std::string_view value) {
  WriteBatch b;
  b.put(key, value);
  return write(wo, &b);
}

Status DBImpl::delete_key(const WriteOptions& wo, std::string_view key) {
  WriteBatch b;
  b.delete_key(key);
  return write(wo, &b);
}

Status DBImpl::delete_range(const WriteOptions& wo, std::string_view begin, std::string_view end) {
  if (end < begin) return Status::invalid_argument("delete_range: end sorts before begin");
  WriteBatch b;
  b.delete_range(begin, end);
  return write(wo, &b);
}

Status DBImpl::write(const WriteOptions& wo, WriteBatch* batch) {
  if (read_only_) return Status::invalid_argument(dir_ + ": write: the database is open read-only");
  if (batch == nullptr) return Status::invalid_argument("write: null batch");
  if (batch->count() == 0) return Status::OK();
  BatchValidator v;
  LSM4KV_RETURN_IF_ERROR(batch->for_each(&v));
  if (v.bad) return Status::invalid_argument("write: a range deletion's end sorts before its begin");
  return write_impl(wo.sync_override ? wo.sync : options_.sync_mode, batch);
}

Status DBImpl::sync_wal() {
  if (read_only_) return Status::OK();  // nothing written
  return write_impl(SyncMode::kPerBatch, nullptr, /*sync_only=*/true);
}

// Writers queue: the one in front owns the WAL (appends, syncs, switches it)
// until it hands over, so wal_ and wal_unsynced_ need no other lock.
Status DBImpl::write_impl(SyncMode mode, WriteBatch* batch, bool sync_only) {
  Writer w;
  w.batch = batch;
  w.mode = mode;
  std::unique_lock l(mu_);
  if (closed_) return Status::invalid_argument(dir_ + ": database is closed");
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) w.cv.wait(l);
  if (w.done) return w.status;

  Writer* last = &w;
  Status s;
  if (sync_only) {
    if (wal_unsynced_) {
      LogWriter* wal = wal_.get();
      l.unlock();
      s = wal->sync();
      l.lock();
      if (s.ok()) wal_unsynced_ = false;
    }
  } else {
    s = make_room_for_write(l, batch == nullptr);
  }
  if (s.ok() && batch != nullptr) {
    // Group commit: fold the queued batches behind us into one WAL record.
    WriteBatch group_storage;
    WriteBatch* group = batch;
    bool need_sync = mode != SyncMode::kNone;
    if (mode != SyncMode::kPerBatch) {
      for (size_t i = 1; i < writers_.size(); i++) {
        Writer* next = writers_[i];
        if (next->batch == nullptr || next->mode == SyncMode::kPerBatch) break;
        if (group->byte_size() + next->batch->byte_size() > (1 << 20)) break;
        if (group == batch) {
          group_storage.append(*batch);
          group = &group_storage;
        }
        group->append(*next->batch);
        need_sync |= next->mode != SyncMode::kNone;
        last = next;
      }
    }
    SequenceNumber seq = last_sequence_ + 1;
    group->set_sequence(seq);
    last_sequence_ += group->count();
    LogWriter* wal = wal_.get();
    std::shared_ptr<MemTable> mem = mem_;
    l.unlock();
    s = wal->add_record(group->rep());
    if (s.ok() && need_sync) s = wal->sync();
    if (s.ok()) wal_unsynced_ = !need_sync;  // a sync covers the WAL's earlier writes
    if (s.ok()) s = insert_into(mem.get(), *group, &counters_);
    counters_.wal_bytes_written.fetch_add(group->byte_size() + kLogHeaderSize, std::memory_order_relaxed);
    l.lock();
    if (s.ok()) {
      counters_.entries_written.fetch_add(group->count(), std::memory_order_relaxed);
      std::lock_guard g(state_mu_);
      state_.snapshot = last_sequence_;
    } else {
      wal_broken_ = true;  // the WAL may end in a partial record: start a new one
    }
  }
  for (;;) {
    Writer* done = writers_.front();
    writers_.pop_front();
    if (done != &w) {
      done->status = s;
      done->done = true;
      done->cv.notify_one();
    }
    if (done == last) break;
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  return s;
}

Status DBImpl::make_room_for_write(std::unique_lock<std::mutex>& l, bool force) {
  for (;;) {
    if (shutting_down_) return Status::invalid_argument(dir_ + ": database is closing");
    LSM4KV_RETURN_IF_ERROR(finish_recovery());  // nothing unless open could not write
    if (!bg_error_.ok()) return bg_error_;
    if (!background_error().ok()) {  // a flush or compaction lacks space
      LSM4KV_RETURN_IF_ERROR(retry_after_no_space(l));
      continue;
    }
    if (wal_broken_) {
      LSM4KV_RETURN_IF_ERROR(start_new_wal());
      wal_broken_ = false;
    }
    bool full = mem_->memory_usage() >= options_.write_buffer_size || (force && !mem_->empty());
    if (!full) return Status::OK();
    if (static_cast<int>(versions_.current()->levels[0].size()) >= options_.level0_stop_runs || imm_) {
      counters_.write_stalls.fetch_add(1, std::memory_order_relaxed);
      bg_cv_.wait(l);
      continue;
    }
    LSM4KV_RETURN_IF_ERROR(switch_memtable());
    force = false;
  }
}

Status DBImpl::start_new_wal() {
  uint64_t number = versions_.new_file_number();
  std::unique_ptr<WritableFile> wf;
  LSM4KV_RETURN_IF_ERROR(fs_->new_writable(path(wal_name(number)), &wf));
  // The WAL's directory entry must be durable before any record in it is
  // acknowledged: a power cut may otherwise drop the whole file. One fsync
  // of the directory per memtable switch. The WAL left behind is synced if
  // it holds unsynced writes: a later sync of the new one must make them
  // durable too (db.h, write).
  Status s = fs_->sync_dir(dir_);
  if (s.ok() && wal_ && wal_unsynced_) s = wal_->sync();
  if (!s.ok()) {
    wf->close().ignore_error();  // cleanup after the error returned
    fs_->remove(path(wal_name(number))).ignore_error();
    return s;
  }
  if (wal_) wal_->close().ignore_error();
  wal_ = std::make_unique<LogWriter>(std::move(wf));
  wal_number_ = number;
  wal_unsynced_ = false;
  return Status::OK();
}

Status DBImpl::switch_memtable() {
  LSM4KV_RETURN_IF_ERROR(start_new_wal());
  imm_ = mem_;
  imm_log_boundary_ = wal_number_;
  mem_ = std::make_shared<MemTable>();
  publish_state();
  bg_cv_.notify_all();
  return Status::OK();
}

void DBImpl::publish_state() {
  std::lock_guard g(state_mu_);
  state_.mem = mem_;
  state_.imm = imm_;
  const std::shared_ptr<const Version>& version = versions_.current();
  if (state_.version != version) {
    std::vector<RangeTombstone> all;
    version->for_each_run([&](int, const auto& r) {
      const auto& f = r->range_tombstones().fragments();
      all.insert(all.end(), f.begin(), f.end());
    });
    state_.run_tombstones = std::make_shared<FragmentedTombstones>(all);
    state_.version = version;
  }
  state_.snapshot = last_sequence_;
}

Status DBImpl::flush() {
  if (read_only_) return Status::invalid_argument(dir_ + ": flush: the database is open read-only");
  Status s = write_impl(SyncMode::kNone, nullptr);
  if (!s.ok()) return s;
  std::unique_lock l(mu_);
  bg_cv_.wait(l, [&] {
    return !imm_ || !bg_error_.ok() || !flush_worker_.no_space.ok() || shutting_down_;
  });
  if (!bg_error_.ok()) return bg_error_;
  if (!imm_) return Status::OK();
  if (!flush_worker_.no_space.ok()) return flush_worker_.no_space;
  return Status::invalid_argument(dir_ + ": database is closing");
}

// ------------------------------------------------------------------- reads

ReadState DBImpl::read_state() const {
  std::lock_guard g(state_mu_);
  return state_;
}

Status DBImpl::get(const ReadOptions& ro, std::string_view key, std::string* value) {
  if (value == nullptr) return Status::invalid_argument("get: null value");
  return get_from(read_state(), ro, key, value);
}

Status DBImpl::get_from(const ReadState& st, const ReadOptions& ro, std::string_view key,
                        std::string* value) {
  // Sources newest first; the first holding the key or a covering range
  // tombstone decides, since everything after it is older.
  SequenceNumber tomb = 0;
  auto decide = [&](bool found, EntryType type, SequenceNumber seq) -> std::optional<Status> {
    if (found) {
      if (type == EntryType::kPut && tomb <= seq) {
        counters_.point_lookups_found.fetch_add(1, std::memory_order_relaxed);
        return Status::OK();
      }
    } else if (tomb == 0) {
      return std::nullopt;
    }
    counters_.point_lookups_empty.fetch_add(1, std::memory_order_relaxed);
    return Status::not_found(key);
  };
  for (const MemTable* m : {st.mem.get(), st.imm.get()}) {
    if (m == nullptr) continue;
    tomb = std::max(tomb, m->max_covering_tombstone(key, st.snapshot));
    MemLookup ml;
    m->get(key, st.snapshot, &ml);
    if (auto s = decide(ml.found, ml.type, ml.seq)) {
      if (s->ok()) *value = std::move(ml.value);
      return *s;
    }
  }
  const uint64_t key_hash = BloomFilter::hash(key);  // once, not once per run
  for (const auto& level : st.version->levels) {
    for (const auto& run : level) {
      tomb = std::max(tomb, run->range_tombstones().max_covering_seq(key));
      RunLookup rl;
      LSM4KV_RETURN_IF_ERROR(run->get(key, key_hash, ro, &rl));
      if (auto s = decide(rl.found, rl.type, rl.seq)) {
        if (s->ok()) *value = std::move(rl.value);
        return *s;
      }
    }
  }
  counters_.point_lookups_empty.fetch_add(1, std::memory_order_relaxed);
  return Status::not_found(key);
}

Status DBImpl::multi_get(const ReadOptions& ro, std::span<const std::string_view> keys,
                         std::vector<std::string>* values, std::vector<Status>* statuses) {
  if (values == nullptr || statuses == nullptr) return Status::invalid_argument("multi_get: null output");
  for (size_t i = 1; i < keys.size(); i++)
    if (keys[i] < keys[i - 1]) return Status::invalid_argument("multi_get: keys are not sorted");
  ReadState st = read_state();
  values->assign(keys.size(), std::string());
  statuses->assign(keys.size(), Status::OK());
  for (size_t i = 0; i < keys.size(); i++) (*statuses)[i] = get_from(st, ro, keys[i], &(*values)[i]);
  return Status::OK();
}

Shape DBImpl::shape() const {
  std::lock_guard g(mu_);
  return versions_.shape();
}

Properties DBImpl::properties() const {
  Properties p;
  std::shared_ptr<const Version> v;
  {
    std::lock_guard g(mu_);
    p.shape = versions_.shape();
    v = versions_.current();
    p.flushes = flushes_;
    p.compactions = compactions_;
    p.memtable_bytes = mem_->memory_usage() + (imm_ ? imm_->memory_usage() : 0);
    p.last_sequence = last_sequence_;
  }
  int deepest = v->deepest_level();
  p.live_files = 2;  // WAL + manifest
  for (int i = 0; i <= std::max(deepest, 1); i++) {
    LevelInfo li;
    li.level = i;
    li.max_runs = i == 0 ? 0 : p.shape.runs_at(i);
    li.capacity_bytes = level_capacity(i, p.shape, options_.write_buffer_size);
    for (const auto& r : v->levels[i]) {
      li.runs.push_back({r->file_number(), r->file_size(), r->entries(), r->bloom_bits_per_key(),
                         r->bloom_memory_bytes(), r->fence_memory_bytes()});
      li.bytes += r->file_size();
      p.live_files++;
    }
    p.levels.push_back(std::move(li));
  }
  auto ld = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  p.entries_written = ld(counters_.entries_written);
  p.user_bytes_written = ld(counters_.user_bytes_written);
  p.point_lookups_found = ld(counters_.point_lookups_found);
  p.point_lookups_empty = ld(counters_.point_lookups_empty);
  p.seeks = ld(counters_.seeks);
  p.runs_probed = ld(counters_.runs_probed);
  p.bloom_checked = ld(counters_.bloom_checked);
  p.bloom_negatives = ld(counters_.bloom_negatives);
  p.bloom_false_positives = ld(counters_.bloom_false_positives);
  p.blocks_read = ld(counters_.blocks_read);
  p.block_bytes_read = ld(counters_.block_bytes_read);
  p.block_cache_hits = ld(counters_.block_cache_hits);
  p.wal_bytes_written = ld(counters_.wal_bytes_written);
  p.flush_bytes_written = ld(counters_.flush_bytes_written);
  p.write_stalls = ld(counters_.write_stalls);
  for (int i = 0; i < kMaxLevels; i++) {
    p.compaction_bytes_written.push_back(ld(counters_.compaction_bytes_written[i]));
    p.compaction_bytes_read.push_back(ld(counters_.compaction_bytes_read[i]));
  }
  p.block_cache_usage = cache_->usage();
  return p;
}

double Properties::write_amplification() const {
  if (user_bytes_written == 0) return 0;
  uint64_t written = flush_bytes_written;
  for (uint64_t b : compaction_bytes_written) written += b;
  return static_cast<double>(written) / static_cast<double>(user_bytes_written);
}

}  // namespace lsm4kv::engine
