// DBImpl: the engine behind engine/db.h. Its pieces live in:
//   db_impl.cc       open, the write path, point reads, properties
//   db_recovery.cc   recovery at open, in steps: directory, manifest, runs,
//                    WALs, then the rewrite (which may be deferred)
//   db_background.cc the flush and compaction threads
//   version_set.cc   the versions and the manifest (VersionSet)
//   db_iterator.cc   the user-facing iterator over a read snapshot
//
// Locking: mu_ guards the writer queue, the memtables, the VersionSet (the
// version and the manifest) and background state. state_mu_ (taken after mu_ when both are
// needed) guards the read snapshot: readers take it briefly to copy
// {mem, imm, version, visible sequence} and then read without any lock, so
// flushes and compactions never block them.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/block_cache.h"
#include "engine/counters.h"
#include "engine/db.h"
#include "engine/log_format.h"
#include "engine/memtable.h"
#include "engine/range_tombstones.h"
#include "engine/version.h"
#include "engine/version_edit.h"
#include "engine/version_set.h"

namespace lsm4kv::engine {

// Applies batch to mem (counting user bytes in counters, when not null).
Status insert_into(MemTable* mem, const WriteBatch& batch, EngineCounters* counters);

// What a reader needs, copied atomically.
struct ReadState {
  std::shared_ptr<MemTable> mem;
  std::shared_ptr<MemTable> imm;  // may be null
  std::shared_ptr<const Version> version;
  std::shared_ptr<const FragmentedTombstones> run_tombstones;  // of every run in version
  SequenceNumber snapshot = 0;
};

class DBImpl final : public DB {
 public:
  DBImpl(const Options& options, std::string dir);
  ~DBImpl() override;

  Status put(const WriteOptions& wo, std::string_view key, std::string_view value) override;
  Status delete_key(const WriteOptions& wo, std::string_view key) override;
  Status delete_range(const WriteOptions& wo, std::string_view begin,
                      std::string_view end) override;
  Status write(const WriteOptions& wo, WriteBatch* batch) override;
  Status sync_wal() override;
  Status get(const ReadOptions& ro, std::string_view key, std::string* value) override;
  Status multi_get(const ReadOptions& ro, std::span<const std::string_view> keys,
                   std::vector<std::string>* values, std::vector<Status>* statuses) override;
  std::unique_ptr<Iterator> new_iterator(const ReadOptions& ro) override;
  Status flush() override;
  Status compact_all() override;
  Status wait_for_compactions() override;
  Status reshape(const Shape& shape) override;
  Shape shape() const override;
  Properties properties() const override;
  Status verify() override;
  Status close() override;

  Status recover();  // called once by DB::open

 private:
  struct Writer;
  friend class DBIterator;

  // One background thread's view of its failures.
  struct BackgroundWorker {
    int failures = 0;       // consecutive failures other than NoSpace
    int no_space_tries = 0;  // consecutive NoSpace failures (sets the backoff)
    Status no_space;        // the last step failed for lack of space; cleared by a success
    uint64_t tried_generation = 0;  // retry_generation_ when its last attempt began
  };

  // --- recovery (db_recovery.cc) ---
  Status open_directory();  // create (unless read-only), lock
  Status replay_wals();     // mem_ from the live WALs
  // The rewrite: the recovered memtable to a run, a fresh WAL, a fresh
  // manifest, the obsolete files deleted, the background threads started.
  // At open a failure (a full disk) is kept in recovery_error_ and the
  // rewrite is retried before the next write. REQUIRES: mu_ held.
  Status finish_recovery();
  Status flush_recovered_memtable();  // REQUIRES: mu_ held, no background threads
  void delete_obsolete_files();       // REQUIRES: mu_ held, a manifest just written
  // Before any write: read-only, closed, a pending rewrite. REQUIRES: mu_ held.
  Status check_writable(const char* op);

  // --- write path (db_impl.cc) ---
  // batch null: force a memtable switch, or with sync_only, sync the WAL.
  Status write_impl(SyncMode mode, WriteBatch* batch, bool sync_only = false);
  Status make_room_for_write(std::unique_lock<std::mutex>& l, bool force);
  Status switch_memtable();  // REQUIRES: mu_ held
  Status start_new_wal();    // REQUIRES: mu_ held; later writes go to a fresh WAL file
  // --- reads ---
  ReadState read_state() const;
  Status get_from(const ReadState& st, const ReadOptions& ro, std::string_view key,
                  std::string* value);
  void publish_state();  // REQUIRES: mu_ held

  // --- background (db_background.cc) ---
  void flush_thread_main();
  void compaction_thread_main();
  Status flush_imm(std::unique_lock<std::mutex>& l);
  // After a background step: resets *failures on success; otherwise backs off
  // and retries, until corruption or repeated failure makes it bg_error_.
  // NoSpace is not sticky: the worker records it (writers get it) and retries
  // after a backoff or as soon as a writer asks (retry_after_no_space).
  // `generation`: retry_generation_ when the step began.
  void note_background_result(std::unique_lock<std::mutex>& l, const Status& s,
                              uint64_t generation, BackgroundWorker* w);
  // Asks both workers to retry the step that failed for lack of space and
  // waits for attempts begun after the request; the error if one still fails.
  Status retry_after_no_space(std::unique_lock<std::mutex>& l);
  Status background_error() const;  // REQUIRES: mu_ held; bg_error_ or a NoSpace
  Status run_compaction(std::unique_lock<std::mutex>& l, const CompactionTask& task);
  // Merges inputs (newest first) into run file `number`; *out stays null when
  // nothing survives the merge.
  Status merge_runs(const std::vector<std::shared_ptr<SortedRun>>& inputs, bool bottommost,
                    uint64_t number, double bloom_bits, std::shared_ptr<SortedRun>* out);
  // Writes the entries of it (and tombstones) to run file `number`.
  Status build_run(InternalIterator* it, const FragmentedTombstones& tombstones, bool bottommost,
                   uint64_t number, double bloom_bits, std::shared_ptr<SortedRun>* out);
  // VersionSet::log_and_apply, then publishes the new version to readers.
  // REQUIRES: mu_ held. added: the run objects named by edit.added.
  Status log_and_apply(VersionEdit* edit, const std::vector<std::shared_ptr<SortedRun>>& added);
  double bloom_bits_for_level(int level) const;
  Status open_run(uint64_t number, std::shared_ptr<SortedRun>* out);
  void remove_file(const std::string& name);
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  bool compaction_pending() const;  // REQUIRES: mu_ held

  const Options options_;
  const std::string dir_;
  FileSystem* const fs_;
  std::unique_ptr<FileLock> lock_;
  mutable EngineCounters counters_;
  std::unique_ptr<BlockCache> cache_;

  mutable std::mutex mu_;
  std::condition_variable bg_cv_;  // background work to do, or finished
  std::deque<Writer*> writers_;
  std::shared_ptr<MemTable> mem_;
  std::shared_ptr<MemTable> imm_;
  uint64_t imm_log_boundary_ = 0;  // first WAL holding data newer than imm_
  std::unique_ptr<LogWriter> wal_;
  uint64_t wal_number_ = 0;
  bool wal_broken_ = false;
  bool wal_unsynced_ = false;  // wal_ holds acknowledged writes not yet synced (front writer's)
  VersionSet versions_;
  SequenceNumber last_sequence_ = 0;  // allocated to writes
  Status bg_error_;  // sticky: corruption, or repeated failures other than NoSpace
  BackgroundWorker flush_worker_;
  BackgroundWorker compaction_worker_;
  uint64_t retry_generation_ = 0;  // bumped by writers that want a NoSpace step retried
  const bool read_only_;
  bool recovery_pending_ = false;  // the open's rewrite has not succeeded yet
  bool shutting_down_ = false;
  bool closed_ = false;
  bool compaction_running_ = false;
  bool full_compaction_requested_ = false;
  Status full_compaction_status_;
  uint64_t flushes_ = 0;
  uint64_t compactions_ = 0;
  std::thread flush_thread_;
  std::thread compaction_thread_;

  mutable std::mutex state_mu_;
  ReadState state_;  // snapshot = visible sequence
};

}  // namespace lsm4kv::engine
