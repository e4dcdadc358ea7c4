// VersionSet: the engine's versions and the manifest that records them. It
// owns the current Version, its description (VersionState), the open
// manifest writer, the file-number counter and the log number; recovery
// loads it (recover), flushes and compactions change it (log_and_apply).
//
// One rule changes a version: apply(state, edit). Replaying a manifest at
// open, installing an edit in log_and_apply and checking a manifest offline
// (engine/verify_dir.h) all go through it, so they cannot disagree about
// what a manifest means.
//
// Files: a run is written before the edit that names it; a file an edit
// makes obsolete is removed once no durable manifest can still name it
// (retire_file), which while the manifest's state on disk is in doubt
// (manifest_broken) waits for the next manifest written whole.
//
// Thread-safety: none of its own; DBImpl calls it with its mu_ held.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "engine/log_format.h"
#include "engine/options.h"
#include "engine/version.h"
#include "engine/version_edit.h"

namespace lsm4kv::engine {

struct ManifestContents;

// What a manifest describes once its edits are applied: values only, no
// open files.
struct VersionState {
  uint64_t log_number = 0;  // WALs numbered below this are obsolete
  uint64_t next_file_number = 0;
  SequenceNumber last_sequence = 0;
  Shape shape;
  std::vector<std::vector<RunRecord>> levels = std::vector<std::vector<RunRecord>>(kMaxLevels);  // [level][newest first]

  // Every run, level 0 first, each level newest first.
  std::vector<RunRecord> runs() const;
};

// The pure rule: *out = base with edit applied (runs removed first, then
// added, each at the front of its level; the file counter and the sequence
// only grow). out may be &base; on error *out is unchanged. Corruption (the
// message names no file) when the edit removes a run not live at that
// level, adds one at a level out of range, or adds a run already live.
Status apply(const VersionState& base, const VersionEdit& edit, VersionState* out);

// The edit that recreates state from nothing (a manifest's first record).
VersionEdit snapshot_of(const VersionState& state);

class VersionSet {
 public:
  struct Hooks {
    // Opens run file `number` (NotFound when missing).
    std::function<Status(uint64_t number, std::shared_ptr<SortedRun>* out)> open_run;
    // Removes a file of the directory by name; best effort.
    std::function<void(const std::string& name)> remove_file;
  };
  VersionSet(FileSystem* fs, std::string dir, Hooks hooks);

  // Loads CURRENT and the manifest it names, creating a new database when
  // there is none (options.create_if_missing, not read-only), and opens
  // every run it names (Corruption naming a run missing or of the wrong
  // size).
  Status recover(const Options& options, bool read_only);
  // Makes sure no new file reuses `number` (a file found in the directory).
  void mark_file_number_used(uint64_t number) { next_file_number_ = std::max(next_file_number_, number + 1); }
  uint64_t new_file_number() { return next_file_number_++; }

  // Applies edit (its next file number and last sequence filled in here),
  // appends it to the manifest, synced (or rolls a new manifest), and
  // installs the result. On failure nothing changes. added: the run objects
  // named by edit->added.
  Status log_and_apply(VersionEdit* edit, const std::vector<std::shared_ptr<SortedRun>>& added,
                       SequenceNumber last_sequence);
  // Installs edit in memory only: the next manifest written names it
  // (recovery's rewrite).
  Status apply_unlogged(const VersionEdit& edit, const std::vector<std::shared_ptr<SortedRun>>& added);
  // Writes a new manifest holding a snapshot of the current state (with
  // log_number, when given, as its log number) and points CURRENT at it.
  // On failure the state is unchanged.
  Status write_new_manifest(SequenceNumber last_sequence, std::optional<uint64_t> log_number = {});
  // Closes the manifest writer.
  void close();

  // Removes a file nothing durable needs any more, or defers that while the
  // manifest's state on disk is in doubt.
  void retire_file(const std::string& name);
  // After log_and_apply failed for an edit adding run `number`: removes the
  // run, or defers that while the edit may be in the manifest.
  void discard_unlogged_run(uint64_t number);

  const std::shared_ptr<const Version>& current() const { return current_; }
  const VersionState& state() const { return state_; }
  const Shape& shape() const { return state_.shape; }
  uint64_t log_number() const { return state_.log_number; }
  uint64_t manifest_number() const { return manifest_number_; }
  // The last manifest append or sync failed, or CURRENT's directory sync
  // did: the next edit rolls a new manifest, and removals wait for it.
  bool manifest_broken() const { return manifest_broken_; }

 private:
  Status load(const Options& options, bool read_only, ManifestContents* m);
  Status create_new_db(const Shape& shape);
  Status open_runs(const ManifestContents& m);
  // The Version of state, its runs taken from current_ or added.
  Status build(const VersionState& state, const std::vector<std::shared_ptr<SortedRun>>& added,
               std::shared_ptr<const Version>* out) const;
  // Writes manifest `number` holding `snapshot`, syncs it and its directory
  // entry and points CURRENT at it. On failure CURRENT is unchanged and the
  // file is gone. *current_synced false: CURRENT switched but its directory
  // sync failed.
  Status write_manifest_file(uint64_t number, const VersionEdit& snapshot,
                             std::unique_ptr<LogWriter>* out, bool* current_synced);
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  FileSystem* const fs_;
  const std::string dir_;
  const Hooks hooks_;
  VersionState state_;
  std::shared_ptr<const Version> current_;
  std::unique_ptr<LogWriter> manifest_;
  uint64_t manifest_number_ = 0;
  uint64_t next_file_number_ = 2;
  bool manifest_broken_ = false;
  bool edit_in_doubt_ = false;  // the last edit was appended whole but its sync failed
  std::vector<std::string> deferred_removals_;  // see retire_file
};

}  // namespace lsm4kv::engine
