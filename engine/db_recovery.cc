// Recovery: what DB::open does between taking the lock and serving, in the
// order it happens:
//   1. open_directory   create it (unless read-only) and take LOCK
//   2-3. VersionSet::recover  CURRENT and the manifest it names (or a new
//                       DB), then every run the manifest names, checked
//   4. replay_wals      the live WALs into a memtable
//   5. finish_recovery  the rewrite: memtable to a run, a fresh WAL, a fresh
//                       manifest, the obsolete files deleted
// Steps 1-4 only read (and a read-only open stops there). Step 5 is the only
// one that writes or deletes; if it fails (a full disk) the DB still opens,
// serving what steps 2-4 recovered, and step 5 is retried before the next
// write. Nothing is deleted unless the manifest that makes it obsolete was
// read intact and its successor written and synced.
#include <algorithm>
#include <filesystem>
#include <set>

#include "engine/db_impl.h"
#include "engine/file_names.h"

namespace lsm4kv::engine {

Status DBImpl::recover() {
  LSM4KV_RETURN_IF_ERROR(open_directory());
  LSM4KV_RETURN_IF_ERROR(versions_.recover(options_, read_only_));
  last_sequence_ = versions_.state().last_sequence;
  LSM4KV_RETURN_IF_ERROR(replay_wals());
  std::unique_lock l(mu_);
  publish_state();
  if (read_only_) return Status::OK();
  recovery_pending_ = true;
  finish_recovery().ignore_error();  // a failure is retried by the next write, which reports it
  return Status::OK();
}

Status DBImpl::open_directory() {
  if (!read_only_ && options_.create_if_missing && !fs_->exists(dir_)) {
    LSM4KV_RETURN_IF_ERROR(fs_->create_dir(dir_));
    // A new directory's own entry lives in its parent.
    std::filesystem::path p = std::filesystem::path(dir_).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();  // "a/b/" -> "a/b"
    std::string parent = p.parent_path().string();
    LSM4KV_RETURN_IF_ERROR(fs_->sync_dir(parent.empty() ? "." : parent));
  }
  if (!fs_->exists(dir_)) return Status::invalid_argument(dir_ + ": no such directory");
  // Read-only: a LOCK that exists is taken, so that a live writer is
  // detected (Busy); a missing one is not created.
  if (read_only_ && !fs_->exists(path("LOCK"))) return Status::OK();
  return fs_->lock_file(path("LOCK"), &lock_);
}

Status DBImpl::replay_wals() {
  // Every numbered file raises the file counter, so no new file reuses a
  // name; WALs at or past the log number are replayed, oldest first.
  std::vector<std::string> names;
  LSM4KV_RETURN_IF_ERROR(fs_->list_dir(dir_, &names));
  std::vector<uint64_t> wals;
  for (const std::string& n : names) {
    uint64_t number = 0;
    FileKind kind = parse_file_name(n, &number);
    if (kind == FileKind::kWal || kind == FileKind::kRun || kind == FileKind::kManifest)
      versions_.mark_file_number_used(number);
    if (kind == FileKind::kWal && number >= versions_.log_number()) wals.push_back(number);
  }
  std::sort(wals.begin(), wals.end());
  mem_ = std::make_shared<MemTable>();
  for (uint64_t w : wals) {
    std::unique_ptr<LogReader> reader;
    LSM4KV_RETURN_IF_ERROR(LogReader::open(fs_, path(wal_name(w)),
                                           LogReader::TailMode::kTolerateDamagedLast, &reader));
    for (;;) {
      std::string_view rec;
      bool done;
      LSM4KV_RETURN_IF_ERROR(reader->next(&rec, &done));
      if (done) break;
      WriteBatch batch;
      Status s = WriteBatch::from_rep(rec, &batch);
      if (s.ok()) s = insert_into(mem_.get(), batch, nullptr);
      if (!s.ok()) return Status::corruption(path(wal_name(w)) + ": " + s.message());
      if (batch.count() > 0)
        last_sequence_ = std::max(last_sequence_, batch.sequence() + batch.count() - 1);
    }
  }
  return Status::OK();
}

Status DBImpl::finish_recovery() {
  if (!recovery_pending_) return Status::OK();
  Status s = flush_recovered_memtable();
  // The fresh WAL is made once; a retry after a failed manifest reuses it.
  if (s.ok() && !wal_) s = start_new_wal();
  // The old WALs' data is in the runs now: the new manifest's log number is the fresh WAL's.
  if (s.ok()) s = versions_.write_new_manifest(last_sequence_, wal_number_);
  if (!s.ok()) return s;
  recovery_pending_ = false;
  if (!versions_.manifest_broken()) delete_obsolete_files();
  flush_thread_ = std::thread([this] { flush_thread_main(); });
  compaction_thread_ = std::thread([this] { compaction_thread_main(); });
  return Status::OK();
}

Status DBImpl::flush_recovered_memtable() {
  if (mem_->empty()) return Status::OK();
  uint64_t number = versions_.new_file_number();
  std::shared_ptr<const FragmentedTombstones> tombstones = mem_->fragmented_tombstones(kMaxSequence);
  std::unique_ptr<InternalIterator> it = mem_->new_iterator(kMaxSequence);
  std::shared_ptr<SortedRun> run;
  LSM4KV_RETURN_IF_ERROR(build_run(it.get(), *tombstones, false, number, bloom_bits_for_level(1), &run));
  // Installed in memory only: the manifest written next names it.
  if (run) {
    VersionEdit edit;
    edit.added.push_back({0, number, run->file_size(), run->entries(), run->min_seq(), run->max_seq()});
    LSM4KV_RETURN_IF_ERROR(versions_.apply_unlogged(edit, {run}));
  }
  mem_ = std::make_shared<MemTable>();
  publish_state();
  return Status::OK();
}

void DBImpl::delete_obsolete_files() {
  std::vector<std::string> names;
  if (!fs_->list_dir(dir_, &names).ok()) return;  // left for the next open
  std::set<uint64_t> live_runs;
  versions_.current()->for_each_run([&](int, const auto& r) { live_runs.insert(r->file_number()); });
  for (const std::string& n : names) {
    uint64_t number = 0;
    switch (parse_file_name(n, &number)) {
      case FileKind::kWal: if (number < versions_.log_number()) remove_file(n); break;
      case FileKind::kManifest: if (number != versions_.manifest_number()) remove_file(n); break;
      case FileKind::kRun: if (!live_runs.count(number)) remove_file(n); break;
      case FileKind::kTemp: remove_file(n); break;
      default: break;
    }
  }
}

}  // namespace lsm4kv::engine
