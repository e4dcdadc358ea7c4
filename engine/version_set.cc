#include "engine/version_set.h"

#include <algorithm>
#include <map>
#include <set>

#include "engine/file_names.h"
#include "engine/manifest.h"

namespace lsm4kv::engine {
namespace {
constexpr uint64_t kManifestRollBytes = 4 << 20;
}  // namespace

// ------------------------------------------------------------ the pure rule

std::vector<RunRecord> VersionState::runs() const {
  std::vector<RunRecord> out;
  for (const auto& level : levels) out.insert(out.end(), level.begin(), level.end());
  return out;
}

Status apply(const VersionState& base, const VersionEdit& e, VersionState* out) {
  VersionState next = base;
  if (e.log_number) next.log_number = *e.log_number;
  if (e.next_file_number) next.next_file_number = std::max(next.next_file_number, *e.next_file_number);
  if (e.last_sequence) next.last_sequence = std::max(next.last_sequence, *e.last_sequence);
  if (e.shape) next.shape = *e.shape;
  for (auto [level, number] : e.removed) {
    auto& runs = level >= 0 && level < kMaxLevels ? next.levels[level] : next.levels[0];
    auto it = std::find_if(runs.begin(), runs.end(), [n = number](const RunRecord& r) { return r.file_number == n; });
    if (level < 0 || level >= kMaxLevels || it == runs.end())
      return Status::corruption("an edit removes run " + std::to_string(number) + " at level " +
                                std::to_string(level) + ", which is not live there");
    runs.erase(it);
  }
  std::set<uint64_t> live;
  for (const auto& level : next.levels)
    for (const RunRecord& r : level) live.insert(r.file_number);
  for (const RunRecord& r : e.added) {
    if (r.level < 0 || r.level >= kMaxLevels)
      return Status::corruption("run " + std::to_string(r.file_number) + " at level " + std::to_string(r.level) +
                                " (the engine has " + std::to_string(kMaxLevels) + ")");
    if (!live.insert(r.file_number).second)
      return Status::corruption("an edit adds run " + std::to_string(r.file_number) + " twice");
    next.levels[r.level].insert(next.levels[r.level].begin(), r);
  }
  *out = std::move(next);
  return Status::OK();
}

VersionEdit snapshot_of(const VersionState& state) {
  VersionEdit e;
  e.shape = state.shape;
  e.log_number = state.log_number;
  e.next_file_number = state.next_file_number;
  e.last_sequence = state.last_sequence;
  for (const auto& level : state.levels)
    for (auto it = level.rbegin(); it != level.rend(); ++it) e.added.push_back(*it);  // oldest first: adds go to the front
  return e;
}

// --------------------------------------------------------------- recovery

VersionSet::VersionSet(FileSystem* fs, std::string dir, Hooks hooks)
    : fs_(fs), dir_(std::move(dir)), hooks_(std::move(hooks)), current_(std::make_shared<Version>()) {}

Status VersionSet::recover(const Options& options, bool read_only) {
  ManifestContents m;
  LSM4KV_RETURN_IF_ERROR(load(options, read_only, &m));
  return open_runs(m);
}

Status VersionSet::load(const Options& options, bool read_only, ManifestContents* m) {
  Status s = read_manifest(fs_, dir_, m);
  if (s.is_not_found()) {
    // No CURRENT. A new DB, or one whose creation was cut off after its
    // first manifest: nothing to lose. Anything else is a DB that lost its
    // CURRENT, and opening it empty would discard everything in it.
    std::vector<std::string> names;
    LSM4KV_RETURN_IF_ERROR(fs_->list_dir(dir_, &names));
    for (const std::string& n : names) {
      uint64_t number = 0;
      FileKind kind = parse_file_name(n, &number);
      if (kind == FileKind::kWal || kind == FileKind::kRun ||
          (kind == FileKind::kManifest && number != 1))
        return Status::corruption(path("CURRENT") + ": missing, but the directory holds " + n);
    }
    if (read_only || !options.create_if_missing)
      return Status::invalid_argument(dir_ + ": not a database (no CURRENT)" +
                                      (read_only ? "" : " and create_if_missing is off"));
    LSM4KV_RETURN_IF_ERROR(create_new_db(options.shape));
    s = read_manifest(fs_, dir_, m);
  } else if (s.ok() && options.error_if_exists) {
    return Status::invalid_argument(dir_ + ": database exists");
  }
  LSM4KV_RETURN_IF_ERROR(s);
  manifest_number_ = m->manifest_number;
  state_ = m->state;
  next_file_number_ = std::max(m->state.next_file_number, m->manifest_number + 1);
  return Status::OK();
}

Status VersionSet::create_new_db(const Shape& shape) {
  VersionState empty;
  empty.shape = shape;
  empty.next_file_number = 2;
  std::unique_ptr<LogWriter> writer;
  bool synced;
  LSM4KV_RETURN_IF_ERROR(write_manifest_file(1, snapshot_of(empty), &writer, &synced));
  return writer->close();
}

Status VersionSet::open_runs(const ManifestContents& m) {
  const std::string manifest = manifest_name(m.manifest_number);
  auto version = std::make_shared<Version>();
  version->levels.resize(kMaxLevels);
  for (const RunRecord& r : m.state.runs()) {
    std::shared_ptr<SortedRun> run;
    Status s = hooks_.open_run(r.file_number, &run);
    if (s.is_not_found())
      return Status::corruption(path(run_name(r.file_number)) + ": named by " + manifest + " but missing");
    if (s.is_corruption() && s.message().find(run_name(r.file_number)) == std::string::npos)
      return Status::corruption(path(run_name(r.file_number)) + ": " + s.message());
    LSM4KV_RETURN_IF_ERROR(s);
    if (run->file_size() != r.file_size)
      return Status::corruption(path(run_name(r.file_number)) + ": " + std::to_string(run->file_size()) +
                                " bytes, " + manifest + " says " + std::to_string(r.file_size));
    version->levels[r.level].push_back(run);
  }
  current_ = version;
  return Status::OK();
}

// ------------------------------------------------------------------ edits

Status VersionSet::build(const VersionState& state, const std::vector<std::shared_ptr<SortedRun>>& added,
                         std::shared_ptr<const Version>* out) const {
  std::map<uint64_t, std::shared_ptr<SortedRun>> by_number;
  current_->for_each_run([&](int, const auto& r) { by_number[r->file_number()] = r; });
  for (const auto& r : added)
    if (r) by_number[r->file_number()] = r;
  auto next = std::make_shared<Version>();
  next->levels.resize(kMaxLevels);
  for (size_t i = 0; i < state.levels.size(); i++)
    for (const RunRecord& rec : state.levels[i]) {
      auto it = by_number.find(rec.file_number);
      if (it == by_number.end())
        return Status::invalid_argument(dir_ + ": an edit names run " + std::to_string(rec.file_number) +
                                        ", which is not open");
      next->levels[i].push_back(it->second);
    }
  *out = std::move(next);
  return Status::OK();
}

Status VersionSet::apply_unlogged(const VersionEdit& edit, const std::vector<std::shared_ptr<SortedRun>>& added) {
  VersionState next_state;
  LSM4KV_RETURN_IF_ERROR(apply(state_, edit, &next_state));
  std::shared_ptr<const Version> next;
  LSM4KV_RETURN_IF_ERROR(build(next_state, added, &next));
  state_ = std::move(next_state);
  current_ = std::move(next);
  return Status::OK();
}

Status VersionSet::log_and_apply(VersionEdit* edit, const std::vector<std::shared_ptr<SortedRun>>& added,
                                 SequenceNumber last_sequence) {
  edit_in_doubt_ = false;
  edit->next_file_number = next_file_number_;
  edit->last_sequence = last_sequence;
  VersionState prev_state = state_;
  std::shared_ptr<const Version> prev_version = current_;
  LSM4KV_RETURN_IF_ERROR(apply_unlogged(*edit, added));
  Status s;
  if (!manifest_) {
    s = Status::invalid_argument(dir_ + ": no manifest open (recovery has not finished)");
  } else if (manifest_broken_ || manifest_->size() > kManifestRollBytes) {
    s = write_new_manifest(last_sequence);
  } else {
    std::string rec;
    edit->encode_to(&rec);
    s = manifest_->add_record(rec);
    if (s.ok()) {
      s = manifest_->sync();
      edit_in_doubt_ = !s.ok();  // whole record written: it may yet count
    }
    if (!s.ok()) manifest_broken_ = true;
  }
  if (!s.ok()) {
    state_ = std::move(prev_state);
    current_ = std::move(prev_version);
  }
  return s;
}

// --------------------------------------------------------------- manifests

Status VersionSet::write_manifest_file(uint64_t number, const VersionEdit& snapshot,
                                       std::unique_ptr<LogWriter>* out, bool* current_synced) {
  const std::string name = manifest_name(number);
  std::unique_ptr<WritableFile> f;
  LSM4KV_RETURN_IF_ERROR(fs_->new_writable(path(name), &f));
  auto writer = std::make_unique<LogWriter>(std::move(f));
  std::string rec;
  snapshot.encode_to(&rec);
  Status s = writer->add_record(rec);
  if (s.ok()) s = writer->sync();
  // The manifest's directory entry is durable before CURRENT names it.
  if (s.ok()) s = fs_->sync_dir(dir_);
  bool switched = false;
  if (s.ok()) s = set_current(fs_, dir_, name, &switched, current_synced);
  if (!s.ok()) {  // CURRENT still names the old manifest
    writer->close().ignore_error();  // cleanup after the error returned
    fs_->remove(path(name)).ignore_error();
    return s;
  }
  *out = std::move(writer);
  return Status::OK();
}

Status VersionSet::write_new_manifest(SequenceNumber last_sequence, std::optional<uint64_t> log_number) {
  const uint64_t number = next_file_number_++;
  VersionState snapshot = state_;
  snapshot.next_file_number = next_file_number_;
  snapshot.last_sequence = last_sequence;
  if (log_number) snapshot.log_number = *log_number;
  std::unique_ptr<LogWriter> writer;
  bool current_synced = false;
  LSM4KV_RETURN_IF_ERROR(write_manifest_file(number, snapshot_of(snapshot), &writer, &current_synced));
  state_.log_number = snapshot.log_number;
  state_.next_file_number = snapshot.next_file_number;
  state_.last_sequence = std::max(state_.last_sequence, last_sequence);
  if (manifest_) manifest_->close().ignore_error();
  const uint64_t old = manifest_number_;
  manifest_ = std::move(writer);
  manifest_number_ = number;
  // CURRENT names the new manifest; if its rename is not known durable the
  // next edit rolls yet another one, and until then nothing is removed.
  manifest_broken_ = !current_synced;
  if (old != 0) retire_file(manifest_name(old));
  if (!manifest_broken_) {
    std::set<uint64_t> live;
    current_->for_each_run([&](int, const auto& r) { live.insert(r->file_number()); });
    std::vector<std::string> pending = std::move(deferred_removals_);
    deferred_removals_.clear();
    for (const std::string& n : pending) {
      uint64_t num = 0;
      if (parse_file_name(n, &num) != FileKind::kRun || !live.count(num)) hooks_.remove_file(n);
    }
  }
  return Status::OK();
}

void VersionSet::close() {
  if (manifest_) manifest_->close().ignore_error();  // the manifest is synced edit by edit
}

// ------------------------------------------------------------------ files

void VersionSet::discard_unlogged_run(uint64_t number) {
  // A run is written before its edit: a failed edit that never reached the
  // manifest whole (a torn append, or a new manifest CURRENT never named)
  // leaves the run unnamed, and it goes at once so that a full disk does not
  // fill further with each retry.
  if (edit_in_doubt_) {
    deferred_removals_.push_back(run_name(number));
  } else {
    hooks_.remove_file(run_name(number));
  }
}

void VersionSet::retire_file(const std::string& name) {
  if (manifest_broken_) {
    deferred_removals_.push_back(name);  // the old manifest may still name it
  } else {
    hooks_.remove_file(name);
  }
}

}  // namespace lsm4kv::engine
