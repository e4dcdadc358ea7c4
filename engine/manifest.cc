#include "engine/manifest.h"

#include <map>

#include "engine/counters.h"
#include "engine/file_names.h"
#include "engine/log_format.h"

namespace lsm4kv::engine {
namespace {

// Parses CURRENT's content; the manifest's file name, or Corruption.
Status parse_current(const std::string& current_path, const std::string& content,
                     std::string* name) {
  uint64_t number;
  if (content.empty() || content.back() != '\n' ||
      parse_file_name(content.substr(0, content.size() - 1), &number) != FileKind::kManifest)
    return Status::corruption(current_path + ": damaged (" + std::to_string(content.size()) +
                              " bytes, not \"MANIFEST-<number>\\n\")");
  *name = content.substr(0, content.size() - 1);
  return Status::OK();
}

// Applies the edits of a manifest in order, keeping each level newest first.
class Replay {
 public:
  explicit Replay(std::string path) : path_(std::move(path)) {}

  Status apply(const VersionEdit& e, ManifestContents* m) {
    if (m->edits == 0 && !is_snapshot(e))
      return corrupt("its first record is not a full snapshot");
    m->edits++;
    if (e.log_number) m->log_number = *e.log_number;
    if (e.next_file_number) m->next_file_number = std::max(m->next_file_number, *e.next_file_number);
    if (e.last_sequence) m->last_sequence = std::max(m->last_sequence, *e.last_sequence);
    if (e.shape) m->shape = *e.shape;
    for (auto [level, number] : e.removed) {
      auto it = live_.find(number);
      if (it == live_.end() || it->second.level != level)
        return corrupt("an edit removes run " + std::to_string(number) + " at level " +
                       std::to_string(level) + ", which is not live there");
      std::erase(order_[level], number);
      live_.erase(it);
    }
    for (const RunRecord& r : e.added) {
      if (r.level < 0 || r.level >= kMaxLevels)
        return corrupt("run " + std::to_string(r.file_number) + " at level " +
                       std::to_string(r.level) + " (the engine has " + std::to_string(kMaxLevels) + ")");
      if (live_.count(r.file_number))
        return corrupt("an edit adds run " + std::to_string(r.file_number) + " twice");
      order_[r.level].insert(order_[r.level].begin(), r.file_number);
      live_[r.file_number] = r;
    }
    return Status::OK();
  }

  void finish(ManifestContents* m) const {
    m->runs.clear();
    for (const auto& level : order_)
      for (uint64_t number : level) m->runs.push_back(live_.at(number));
  }

  Status corrupt(const std::string& what) const { return Status::corruption(path_ + ": " + what); }

 private:
  std::string path_;
  std::map<uint64_t, RunRecord> live_;
  std::vector<uint64_t> order_[kMaxLevels];
};

}  // namespace

bool is_snapshot(const VersionEdit& e) {
  return e.log_number && e.next_file_number && e.last_sequence && e.shape && e.removed.empty();
}

Status read_manifest(FileSystem* fs, const std::string& dir, ManifestContents* out) {
  *out = ManifestContents();
  const std::string current_path = dir + "/CURRENT";
  if (!fs->exists(current_path)) return Status::not_found(current_path);
  std::string content, name;
  LSM4KV_RETURN_IF_ERROR(read_file(fs, current_path, &content));
  LSM4KV_RETURN_IF_ERROR(parse_current(current_path, content, &name));
  parse_file_name(name, &out->manifest_number);
  const std::string path = dir + "/" + name;

  std::unique_ptr<LogReader> reader;
  Status s = LogReader::open(fs, path, LogReader::TailMode::kStrict, &reader);
  if (s.is_not_found()) return Status::corruption(current_path + ": names " + name + ", which is missing");
  LSM4KV_RETURN_IF_ERROR(s);
  Replay replay(path);
  for (;;) {
    std::string_view rec;
    bool done;
    LSM4KV_RETURN_IF_ERROR(reader->next(&rec, &done));
    if (done) break;
    VersionEdit e;
    s = e.decode_from(rec);
    if (!s.ok()) return replay.corrupt(s.message() + " in the record ending at offset " +
                                    std::to_string(reader->good_bytes()));
    LSM4KV_RETURN_IF_ERROR(replay.apply(e, out));
  }
  if (out->edits == 0)
    return replay.corrupt("holds no snapshot record (empty, zeroed or torn before its first record)");
  replay.finish(out);
  return Status::OK();
}

Status set_current(FileSystem* fs, const std::string& dir, const std::string& name,
                   bool* switched, bool* dir_synced) {
  *switched = false;
  *dir_synced = false;
  const std::string tmp = dir + "/CURRENT.tmp";
  std::unique_ptr<WritableFile> f;
  LSM4KV_RETURN_IF_ERROR(fs->new_writable(tmp, &f));
  Status s = f->append(name + "\n");
  if (s.ok()) s = f->sync();
  Status c = f->close();
  if (s.ok()) s = c;
  if (s.ok()) s = fs->rename(tmp, dir + "/CURRENT");
  if (!s.ok()) {
    fs->remove(tmp).ignore_error();  // cleanup after the error returned
    return s;
  }
  *switched = true;
  *dir_synced = fs->sync_dir(dir).ok();
  return Status::OK();
}

}  // namespace lsm4kv::engine
