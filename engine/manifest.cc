#include "engine/manifest.h"

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
  uint64_t number = 0;
  parse_file_name(name, &number);
  Status s = read_manifest_file(fs, dir + "/" + name, out);
  if (s.is_not_found()) return Status::corruption(current_path + ": names " + name + ", which is missing");
  out->manifest_number = number;
  return s;
}

Status read_manifest_file(FileSystem* fs, const std::string& path, ManifestContents* out) {
  *out = ManifestContents();
  auto corrupt = [&](const std::string& what) { return Status::corruption(path + ": " + what); };
  std::unique_ptr<LogReader> reader;
  LSM4KV_RETURN_IF_ERROR(LogReader::open(fs, path, LogReader::TailMode::kStrict, &reader));
  for (;;) {
    std::string_view rec;
    bool done;
    LSM4KV_RETURN_IF_ERROR(reader->next(&rec, &done));
    if (done) break;
    VersionEdit e;
    Status s = e.decode_from(rec);
    if (!s.ok()) return corrupt(s.message() + " in the record ending at offset " +
                                std::to_string(reader->good_bytes()));
    if (out->edits == 0 && !is_snapshot(e)) return corrupt("its first record is not a full snapshot");
    out->edits++;
    s = apply(out->state, e, &out->state);
    if (!s.ok()) return corrupt(s.message());
  }
  if (out->edits == 0)
    return corrupt("holds no snapshot record (empty, zeroed or torn before its first record)");
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
