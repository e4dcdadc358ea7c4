#include "engine/verify_dir.h"

#include <memory>

#include "engine/db.h"
#include "engine/file_names.h"
#include "engine/log_format.h"
#include "engine/manifest.h"
#include "engine/sorted_run.h"
#include "engine/write_batch.h"

namespace lsm4kv::engine {
namespace {

std::string label_of(const std::string& dir, const DirChecks& checks) {
  return checks.label.empty() ? dir : checks.label;
}

void check_run(FileSystem* fs, const std::string& dir, const RunFile& f, const DirChecks& checks) {
  const std::string path = dir + "/" + run_name(f.number);
  std::shared_ptr<SortedRun> run;
  Status s = SortedRun::open(fs, path, f.number, nullptr, nullptr, &run);
  if (s.ok()) s = run->verify();
  if (!s.ok()) checks.problem("run file " + path + ": " + s.to_string());
  if (checks.checked) checks.checked(f.size);
}

void check_manifest(FileSystem* fs, const std::string& dir, const DirChecks& checks, DirCounts* counts) {
  std::string current;
  Status s = read_file(fs, dir + "/CURRENT", &current);
  if (!s.ok()) return checks.problem(label_of(dir, checks) + "/CURRENT: " + s.to_string());
  if (!current.empty() && current.back() == '\n') current.pop_back();
  uint64_t number;
  if (parse_file_name(current, &number) != FileKind::kManifest)
    return checks.problem(dir + "/CURRENT does not name a manifest");
  counts->manifests++;
  const std::string path = dir + "/" + current;
  ManifestContents m;
  s = read_manifest_file(fs, path, &m);
  if (!s.ok()) checks.problem("manifest " + path + ": " + s.to_string());
}

void check_wals(FileSystem* fs, const std::string& dir, const DirChecks& checks, DirCounts* counts) {
  std::vector<std::string> names;
  if (Status s = fs->list_dir(dir, &names); !s.ok())
    return checks.problem(label_of(dir, checks) + " directory: " + s.to_string());
  for (const auto& n : names) {
    uint64_t num;
    if (parse_file_name(n, &num) != FileKind::kWal) continue;
    counts->wal_files++;
    const std::string path = dir + "/" + n;
    std::unique_ptr<LogReader> reader;
    Status s = LogReader::open(fs, path, LogReader::TailMode::kTolerateDamagedLast, &reader);
    while (s.ok()) {
      std::string_view rec;
      bool done = false;
      s = reader->next(&rec, &done);
      if (!s.ok() || done) break;
      WriteBatch b;
      s = WriteBatch::from_rep(rec, &b);
    }
    if (!s.ok() && !s.is_not_found()) checks.problem("WAL " + path + ": " + s.to_string());
  }
}

}  // namespace

std::vector<RunFile> list_run_files(FileSystem* fs, const std::string& dir, DB* db, const DirChecks& checks) {
  std::vector<RunFile> runs;
  if (db != nullptr) {
    for (const auto& l : db->properties().levels)
      for (const auto& r : l.runs) runs.push_back({r.file_number, r.file_size});
    return runs;
  }
  std::vector<std::string> names;
  if (Status s = fs->list_dir(dir, &names); !s.ok())
    checks.problem(label_of(dir, checks) + " directory: " + s.to_string());
  for (const auto& n : names) {
    uint64_t num = 0, size = 0;
    if (parse_file_name(n, &num) == FileKind::kRun && fs->file_size(dir + "/" + n, &size).ok())
      runs.push_back({num, size});
  }
  return runs;
}

void verify_dir(FileSystem* fs, const std::string& dir, const std::vector<RunFile>& runs,
                const DirChecks& checks, DirCounts* counts) {
  for (const RunFile& f : runs) {
    counts->run_files++;
    check_run(fs, dir, f, checks);
  }
  check_manifest(fs, dir, checks, counts);
  check_wals(fs, dir, checks, counts);
}

void verify_dir(FileSystem* fs, const std::string& dir, DirCounts* counts, std::vector<std::string>* problems) {
  DirChecks checks;
  checks.problem = [problems](std::string p) { problems->push_back(std::move(p)); };
  verify_dir(fs, dir, list_run_files(fs, dir, nullptr, checks), checks, counts);
}

}  // namespace lsm4kv::engine
