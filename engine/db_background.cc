// The background half of DBImpl: flushing memtables, running the tasks of
// the compaction planner, and recording both in the manifest.
#include <chrono>
#include <map>
#include <set>

#include "engine/bloom_allocation.h"
#include "engine/db_impl.h"
#include "engine/file_names.h"
#include "engine/manifest.h"
#include "engine/merging_iterator.h"
#include "engine/run_builder.h"

namespace lsm4kv::engine {
namespace {
constexpr int kMaxBackgroundRetries = 3;
}  // namespace

// ------------------------------------------------------------------ threads

void DBImpl::flush_thread_main() {
  std::unique_lock l(mu_);
  for (;;) {
    bg_cv_.wait(l, [&] { return shutting_down_ || (imm_ && bg_error_.ok()); });
    if (shutting_down_) return;  // imm_'s data stays in its WAL for the next open
    const uint64_t generation = retry_generation_;
    note_background_result(l, flush_imm(l), generation, &flush_worker_);
  }
}

void DBImpl::note_background_result(std::unique_lock<std::mutex>& l, const Status& s,
                                    uint64_t generation, BackgroundWorker* w) {
  w->tried_generation = generation;
  if (s.ok()) {
    w->failures = 0;
    w->no_space_tries = 0;
    w->no_space = Status::OK();
  } else if (s.is_no_space()) {
    // Not sticky: writers get the error while it lasts, and the step is
    // retried after a backoff (0.2 s doubling to 6.4 s) or at once when a
    // writer asks, so that freed space heals the DB without a reopen.
    w->no_space = s;
    const int backoff_ms = 200 << std::min(w->no_space_tries++, 5);
    bg_cv_.notify_all();
    bg_cv_.wait_for(l, std::chrono::milliseconds(backoff_ms),
                    [&] { return shutting_down_ || retry_generation_ != generation; });
  } else if (s.is_corruption() || ++w->failures >= kMaxBackgroundRetries) {
    bg_error_ = s;
  } else {
    bg_cv_.wait_for(l, std::chrono::milliseconds(200 << w->failures));
  }
  bg_cv_.notify_all();
}

Status DBImpl::background_error() const {
  if (!bg_error_.ok()) return bg_error_;
  if (!flush_worker_.no_space.ok()) return flush_worker_.no_space;
  return compaction_worker_.no_space;
}

Status DBImpl::retry_after_no_space(std::unique_lock<std::mutex>& l) {
  const uint64_t generation = ++retry_generation_;
  bg_cv_.notify_all();
  auto settled = [&](const BackgroundWorker& w) {
    return w.no_space.ok() || w.tried_generation >= generation;
  };
  bg_cv_.wait(l, [&] {
    return shutting_down_ || !bg_error_.ok() ||
           (settled(flush_worker_) && settled(compaction_worker_));
  });
  return background_error();
}

void DBImpl::compaction_thread_main() {
  std::unique_lock l(mu_);
  while (!shutting_down_) {
    bool full = full_compaction_requested_;
    const uint64_t generation = retry_generation_;
    std::optional<CompactionTask> task;
    if (bg_error_.ok()) {
      LevelSummaries levels = versions_.current()->summaries();
      task = full ? plan_full_compaction(levels)
                  : plan_compaction(levels, versions_.shape(), options_.write_buffer_size, kMaxLevels);
    }
    if (!task) {
      if (!compaction_worker_.no_space.ok()) {  // nothing left to retry
        compaction_worker_.no_space = Status::OK();
        compaction_worker_.tried_generation = generation;
        bg_cv_.notify_all();
      }
      if (full) {
        full_compaction_requested_ = false;
        full_compaction_status_ = bg_error_;
        bg_cv_.notify_all();
      }
      bg_cv_.wait(l);
      continue;
    }
    compaction_running_ = true;
    Status s = run_compaction(l, *task);
    compaction_running_ = false;
    if (full && (s.ok() || s.is_no_space() ||
                 compaction_worker_.failures + 1 >= kMaxBackgroundRetries)) {
      full_compaction_requested_ = false;
      full_compaction_status_ = s;
    }
    note_background_result(l, s, generation, &compaction_worker_);
  }
}

bool DBImpl::compaction_pending() const {
  return plan_compaction(versions_.current()->summaries(), versions_.shape(), options_.write_buffer_size, kMaxLevels)
      .has_value();
}

Status DBImpl::wait_for_compactions() {
  if (read_only_) return Status::OK();  // nothing runs
  std::unique_lock l(mu_);
  LSM4KV_RETURN_IF_ERROR(check_writable("wait_for_compactions"));
  if (!background_error().ok()) LSM4KV_RETURN_IF_ERROR(retry_after_no_space(l));
  bg_cv_.wait(l, [&] {
    return shutting_down_ || !background_error().ok() ||
           (!imm_ && !compaction_running_ && !full_compaction_requested_ && !compaction_pending());
  });
  return background_error();
}

Status DBImpl::compact_all() {
  if (read_only_) return Status::invalid_argument(dir_ + ": compact_all: the database is open read-only");
  LSM4KV_RETURN_IF_ERROR(flush());
  std::unique_lock l(mu_);
  full_compaction_requested_ = true;
  bg_cv_.notify_all();
  bg_cv_.wait(l, [&] { return !full_compaction_requested_ || shutting_down_; });
  if (!full_compaction_status_.ok()) return full_compaction_status_;
  return bg_error_;
}

Status DBImpl::reshape(const Shape& shape) {
  if (shape.size_ratio < 2) return Status::invalid_argument("reshape: size ratio T must be >= 2");
  if (shape.runs_per_level.empty() || shape.runs_per_level.size() >= kMaxLevels)
    return Status::invalid_argument("reshape: runs_per_level needs 1 to 15 values");
  for (int k : shape.runs_per_level)
    if (k < 1) return Status::invalid_argument("reshape: every K must be >= 1");
  std::unique_lock l(mu_);
  LSM4KV_RETURN_IF_ERROR(check_writable("reshape"));
  VersionEdit edit;
  edit.shape = shape;
  LSM4KV_RETURN_IF_ERROR(log_and_apply(&edit, {}));
  bg_cv_.notify_all();
  return Status::OK();
}

// -------------------------------------------------------------------- flush

Status DBImpl::flush_imm(std::unique_lock<std::mutex>& l) {
  std::shared_ptr<MemTable> imm = imm_;
  uint64_t number = versions_.new_file_number();
  double bits = bloom_bits_for_level(1);
  l.unlock();
  std::shared_ptr<const FragmentedTombstones> tombstones = imm->fragmented_tombstones(kMaxSequence);
  std::unique_ptr<InternalIterator> it = imm->new_iterator(kMaxSequence);
  std::shared_ptr<SortedRun> run;
  Status s = build_run(it.get(), *tombstones, false, number, bits, &run);
  l.lock();
  if (!s.ok()) return s;
  VersionEdit edit;
  if (run) edit.added.push_back({0, number, run->file_size(), run->entries(), run->min_seq(), run->max_seq()});
  edit.log_number = imm_log_boundary_;
  s = log_and_apply(&edit, {run});
  if (!s.ok()) {
    versions_.discard_unlogged_run(number);
    return s;
  }
  if (run) counters_.flush_bytes_written.fetch_add(run->file_size(), std::memory_order_relaxed);
  flushes_++;
  imm_ = nullptr;
  publish_state();
  std::vector<std::string> names;
  if (fs_->list_dir(dir_, &names).ok())
    for (const std::string& n : names) {
      uint64_t num;
      if (parse_file_name(n, &num) == FileKind::kWal && num < versions_.log_number()) versions_.retire_file(n);
    }
  return Status::OK();
}

// --------------------------------------------------------------- compaction

Status DBImpl::run_compaction(std::unique_lock<std::mutex>& l, const CompactionTask& task) {
  std::map<uint64_t, std::pair<int, std::shared_ptr<SortedRun>>> by_number;
  versions_.current()->for_each_run([&](int level, const auto& r) { by_number[r->file_number()] = {level, r}; });
  std::vector<std::shared_ptr<SortedRun>> inputs;
  VersionEdit edit;
  uint64_t input_bytes = 0;
  for (const RunSummary& rs : task.inputs) {
    auto it = by_number.find(rs.file_number);
    if (it == by_number.end()) return Status::invalid_argument("compaction input vanished");
    inputs.push_back(it->second.second);
    edit.removed.emplace_back(it->second.first, rs.file_number);
    input_bytes += rs.bytes;
  }
  const int out_level = task.output_level;
  if (task.trivial_move) {
    const auto& r = inputs[0];
    edit.added.push_back({out_level, r->file_number(), r->file_size(), r->entries(), r->min_seq(), r->max_seq()});
    LSM4KV_RETURN_IF_ERROR(log_and_apply(&edit, {r}));
    compactions_++;
    return Status::OK();
  }
  uint64_t number = versions_.new_file_number();
  double bits = bloom_bits_for_level(out_level);
  l.unlock();
  std::shared_ptr<SortedRun> out;
  Status s = merge_runs(inputs, task.bottommost, number, bits, &out);
  l.lock();
  if (s.ok()) {
    if (out) edit.added.push_back({out_level, number, out->file_size(), out->entries(), out->min_seq(), out->max_seq()});
    s = log_and_apply(&edit, {out});
  }
  if (!s.ok()) {
    versions_.discard_unlogged_run(number);
    return s;
  }
  if (out) counters_.compaction_bytes_written[out_level].fetch_add(out->file_size(), std::memory_order_relaxed);
  counters_.compaction_bytes_read[out_level].fetch_add(input_bytes, std::memory_order_relaxed);
  compactions_++;
  for (const auto& r : inputs) versions_.retire_file(run_name(r->file_number()));
  return Status::OK();
}

Status DBImpl::merge_runs(const std::vector<std::shared_ptr<SortedRun>>& inputs, bool bottommost,
                          uint64_t number, double bloom_bits, std::shared_ptr<SortedRun>* out) {
  ReadOptions ro;
  ro.fill_cache = false;
  std::vector<std::unique_ptr<InternalIterator>> children;
  std::vector<RangeTombstone> all;
  for (const auto& r : inputs) {
    children.push_back(r->new_iterator(ro));
    const auto& f = r->range_tombstones().fragments();
    all.insert(all.end(), f.begin(), f.end());
  }
  std::unique_ptr<InternalIterator> merged = new_merging_iterator(std::move(children));
  return build_run(merged.get(), FragmentedTombstones(all), bottommost, number, bloom_bits, out);
}

Status DBImpl::build_run(InternalIterator* it, const FragmentedTombstones& tombstones,
                         bool bottommost, uint64_t number, double bloom_bits,
                         std::shared_ptr<SortedRun>* out) {
  out->reset();
  std::unique_ptr<WritableFile> file;
  LSM4KV_RETURN_IF_ERROR(fs_->new_writable(path(run_name(number)), &file));
  RunBuildOptions bo;
  bo.block_size = options_.block_size;
  bo.restart_interval = options_.block_restart_interval;
  bo.bloom_bits_per_key = bloom_bits;
  RunBuilder builder(bo, std::move(file));
  Status s;
  // Entries hidden by a newer range tombstone are dropped; at the bottom,
  // where nothing older remains, deletes and tombstones go too, and sequence
  // numbers are zeroed (they order nothing any more and encode in one byte).
  for (it->seek_to_first(); it->valid() && s.ok(); it->next()) {
    if (tombstones.max_covering_seq(it->key()) > it->seq()) continue;
    if (bottommost && it->type() == EntryType::kDelete) continue;
    s = builder.add(it->key(), it->type(), bottommost ? 0 : it->seq(), it->value());
  }
  if (s.ok()) s = it->status();
  bool keep_tombstones = !bottommost && !tombstones.empty();
  if (s.ok() && builder.entries() == 0 && !keep_tombstones) {
    remove_file(run_name(number));
    return Status::OK();
  }
  if (keep_tombstones) builder.set_range_tombstones(tombstones);
  RunMeta meta;
  if (s.ok()) s = builder.finish(&meta);  // syncs the file's data
  // The run's directory entry is durable before the manifest edit naming it.
  if (s.ok()) s = fs_->sync_dir(dir_);
  if (s.ok()) s = open_run(number, out);
  if (!s.ok()) remove_file(run_name(number));
  return s;
}

// ----------------------------------------------------------------- manifest

double DBImpl::bloom_bits_for_level(int level) const {
  level = std::max(level, 1);
  int levels = std::max(versions_.current()->deepest_level(), level);
  return bloom_bits_per_level(versions_.shape(), levels, options_.bloom_bits_per_key,
                              options_.bloom_allocation)[static_cast<size_t>(level - 1)];
}

Status DBImpl::log_and_apply(VersionEdit* edit,
                             const std::vector<std::shared_ptr<SortedRun>>& added) {
  LSM4KV_RETURN_IF_ERROR(versions_.log_and_apply(edit, added, last_sequence_));
  publish_state();
  return Status::OK();
}

// ------------------------------------------------------------------- verify

Status DBImpl::verify() {
  std::shared_ptr<const Version> v;
  std::string manifest;
  {
    std::lock_guard g(mu_);
    v = versions_.current();
    manifest = path(manifest_name(versions_.manifest_number()));
  }
  Status s;
  v->for_each_run([&](int, const auto& r) {
    if (s.ok()) s = r->verify();
  });
  LSM4KV_RETURN_IF_ERROR(s);
  // Replayed by the rule recovery uses (engine::apply): what the next open would read.
  ManifestContents m;
  return read_manifest_file(fs_, manifest, &m);
}

}  // namespace lsm4kv::engine
