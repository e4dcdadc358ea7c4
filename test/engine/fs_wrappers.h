// File systems for engine tests that wrap another one (usually POSIX):
//   ForwardingFileSystem  forwards every call; subclasses override what they watch
//   DirSyncAuditFs        checks that every created file and renamed entry is
//                         covered by a directory fsync before a durable state
//                         depends on it (see its comment)
//   BudgetFs              a disk of N bytes: appends past the budget fail with
//                         NoSpace; the test may raise the budget later
//
// Thread-safety: all three may be used from many threads (the engine's
// background threads write through them); their own state is under a mutex.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/coding.h"
#include "base/file_system.h"
#include "engine/file_names.h"
#include "engine/log_format.h"
#include "engine/version_edit.h"

namespace lsm4kv::test {

class ForwardingFileSystem : public FileSystem {
 public:
  explicit ForwardingFileSystem(FileSystem* base) : base_(base) {}
  Status new_writable(const std::string& p, std::unique_ptr<WritableFile>* out) override {
    return base_->new_writable(p, out);
  }
  Status new_appendable(const std::string& p, std::unique_ptr<WritableFile>* out) override {
    return base_->new_appendable(p, out);
  }
  Status new_random_access(const std::string& p, std::unique_ptr<RandomAccessFile>* out) override {
    return base_->new_random_access(p, out);
  }
  Status rename(const std::string& from, const std::string& to) override {
    return base_->rename(from, to);
  }
  Status remove(const std::string& p) override { return base_->remove(p); }
  Status create_dir(const std::string& p) override { return base_->create_dir(p); }
  Status list_dir(const std::string& p, std::vector<std::string>* names) override {
    return base_->list_dir(p, names);
  }
  bool exists(const std::string& p) override { return base_->exists(p); }
  Status file_size(const std::string& p, uint64_t* size) override { return base_->file_size(p, size); }
  Status truncate(const std::string& p, uint64_t size) override { return base_->truncate(p, size); }
  Status sync_dir(const std::string& p) override { return base_->sync_dir(p); }
  Status lock_file(const std::string& p, std::unique_ptr<FileLock>* out) override {
    return base_->lock_file(p, out);
  }

 protected:
  FileSystem* const base_;
};

inline std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}
inline std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Records, for every file created and every rename, whether a sync_dir of
// its directory came after it; and checks, at each moment a durable state
// comes to depend on such an entry, that it did:
//   - a WAL's first sync() (the first durable acknowledgement of a write in it)
//   - a MANIFEST sync() making durable an edit that names a run (and the run's
//     data must have been synced) or a log number (that WAL)
//   - the rename that makes CURRENT name a manifest
//   - a remove() in a directory while a rename there is not yet covered (the
//     engine deletes the old manifest after switching CURRENT)
// Violations are collected as sentences; the test asserts there are none.
class DirSyncAuditFs final : public ForwardingFileSystem {
 public:
  explicit DirSyncAuditFs(FileSystem* base) : ForwardingFileSystem(base) {}

  Status new_writable(const std::string& p, std::unique_ptr<WritableFile>* out) override {
    std::unique_ptr<WritableFile> f;
    LSM4KV_RETURN_IF_ERROR(base_->new_writable(p, &f));
    {
      std::lock_guard g(mu_);
      entries_[p] = Entry{};
      contents_.erase(p);
      files_created_++;
    }
    *out = std::make_unique<File>(this, p, std::move(f));
    return Status::OK();
  }
  Status rename(const std::string& from, const std::string& to) override {
    std::string named;
    {
      std::lock_guard g(mu_);
      if (base_name(to) == "CURRENT") {
        named = contents_[from];
        while (!named.empty() && named.back() == '\n') named.pop_back();
        require_covered(dir_of(to) + "/" + named, "CURRENT names it");
      }
    }
    LSM4KV_RETURN_IF_ERROR(base_->rename(from, to));
    std::lock_guard g(mu_);
    Entry e = entries_.count(from) ? entries_[from] : Entry{};
    entries_.erase(from);
    e.covered = false;  // the new name is a new directory entry
    entries_[to] = e;
    renames_++;
    return Status::OK();
  }
  Status remove(const std::string& p) override {
    {
      std::lock_guard g(mu_);
      for (const auto& [path, e] : entries_)
        if (base_name(path) == "CURRENT" && dir_of(path) == dir_of(p) && !e.covered)
          violations_.push_back("remove " + p + " while the rename of " + path +
                                " is not covered by a directory sync");
    }
    Status s = base_->remove(p);
    std::lock_guard g(mu_);
    if (s.ok()) entries_.erase(p);
    return s;
  }
  Status sync_dir(const std::string& p) override {
    LSM4KV_RETURN_IF_ERROR(base_->sync_dir(p));
    std::lock_guard g(mu_);
    dir_syncs_++;
    for (auto& [path, e] : entries_)
      if (dir_of(path) == p) e.covered = true;
    return Status::OK();
  }

  std::vector<std::string> violations() const {
    std::lock_guard g(mu_);
    return violations_;
  }
  // Files (not temporaries) that still exist without a covering directory sync.
  std::vector<std::string> uncovered() const {
    std::lock_guard g(mu_);
    std::vector<std::string> out;
    for (const auto& [path, e] : entries_)
      if (!e.covered && path.find(".tmp") == std::string::npos) out.push_back(path);
    return out;
  }
  uint64_t dir_syncs() const { std::lock_guard g(mu_); return dir_syncs_; }
  uint64_t files_created() const { std::lock_guard g(mu_); return files_created_; }
  uint64_t checks() const { std::lock_guard g(mu_); return checks_; }

 private:
  struct Entry {
    bool covered = false;
    bool data_synced = false;
    bool acknowledged = false;  // a WAL whose first sync has been seen
  };

  class File final : public WritableFile {
   public:
    File(DirSyncAuditFs* fs, std::string path, std::unique_ptr<WritableFile> f)
        : fs_(fs), path_(std::move(path)), f_(std::move(f)) {}
    Status append(std::string_view data) override {
      LSM4KV_RETURN_IF_ERROR(f_->append(data));
      fs_->on_append(path_, data);
      return Status::OK();
    }
    Status sync() override {
      LSM4KV_RETURN_IF_ERROR(f_->sync());
      fs_->on_sync(path_);
      return Status::OK();
    }
    Status close() override { return f_->close(); }
    uint64_t size() const override { return f_->size(); }

   private:
    DirSyncAuditFs* fs_;
    std::string path_;
    std::unique_ptr<WritableFile> f_;
  };

  // REQUIRES: mu_ held.
  void require_covered(const std::string& path, const std::string& why) {
    checks_++;
    auto it = entries_.find(path);
    if (it == entries_.end()) return;  // created before this file system saw it
    if (!it->second.covered)
      violations_.push_back(path + ": " + why + " before a directory sync covered its creation");
  }

  void on_append(const std::string& path, std::string_view data) {
    std::lock_guard g(mu_);
    uint64_t number;
    engine::FileKind kind = engine::parse_file_name(base_name(path), &number);
    if (kind == engine::FileKind::kTemp) contents_[path].append(data);
    if (kind != engine::FileKind::kManifest) return;
    // The engine appends one whole log record per call.
    if (data.size() < engine::kLogHeaderSize) return;
    engine::VersionEdit e;
    if (!e.decode_from(data.substr(engine::kLogHeaderSize)).ok()) return;
    std::vector<std::string>& pending = pending_names_[path];
    for (const auto& r : e.added) pending.push_back(dir_of(path) + "/" + engine::run_name(r.file_number));
    if (e.log_number) pending.push_back(dir_of(path) + "/" + engine::wal_name(*e.log_number));
  }

  void on_sync(const std::string& path) {
    std::lock_guard g(mu_);
    uint64_t number;
    engine::FileKind kind = engine::parse_file_name(base_name(path), &number);
    auto it = entries_.find(path);
    if (it != entries_.end()) it->second.data_synced = true;
    if (kind == engine::FileKind::kWal && it != entries_.end() && !it->second.acknowledged) {
      it->second.acknowledged = true;
      require_covered(path, "WAL synced (a write acknowledged as durable)");
    }
    if (kind == engine::FileKind::kManifest) {
      for (const std::string& named : pending_names_[path]) {
        require_covered(named, "a synced manifest edit names it");
        auto n = entries_.find(named);
        if (n != entries_.end() && named.ends_with(".run") && !n->second.data_synced)
          violations_.push_back(named + ": named by a synced manifest edit before its data was synced");
      }
      pending_names_[path].clear();
    }
  }

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> contents_;  // of temporaries (CURRENT.tmp)
  std::map<std::string, std::vector<std::string>> pending_names_;  // per manifest, unsynced
  std::vector<std::string> violations_;
  uint64_t dir_syncs_ = 0;
  uint64_t files_created_ = 0;
  uint64_t renames_ = 0;
  uint64_t checks_ = 0;
};

}  // namespace lsm4kv::test

namespace lsm4kv::test {

// A disk of `budget` bytes shared by every file written through it (sizes
// are tracked per path; remove and truncate-on-create give space back). An
// append that does not fit writes what fits, then fails with NoSpace, as
// write(2) does on a full disk. With a name filter only files whose name
// contains it count and fail (e.g. ".run": flushes and compactions fail
// while the WAL still takes writes).
class BudgetFs final : public ForwardingFileSystem {
 public:
  explicit BudgetFs(FileSystem* base, std::string filter = "")
      : ForwardingFileSystem(base), filter_(std::move(filter)) {}

  void set_budget(uint64_t bytes) {
    std::lock_guard g(mu_);
    budget_ = bytes;
  }
  uint64_t used() const {
    std::lock_guard g(mu_);
    uint64_t n = 0;
    for (const auto& [p, size] : sizes_) n += size;
    return n;
  }
  uint64_t no_space_errors() const {
    std::lock_guard g(mu_);
    return errors_;
  }

  Status new_writable(const std::string& p, std::unique_ptr<WritableFile>* out) override {
    std::unique_ptr<WritableFile> f;
    LSM4KV_RETURN_IF_ERROR(base_->new_writable(p, &f));
    return track(p, std::move(f), out);
  }
  Status rename(const std::string& from, const std::string& to) override {
    LSM4KV_RETURN_IF_ERROR(base_->rename(from, to));
    std::lock_guard g(mu_);
    uint64_t size = sizes_.count(from) ? sizes_[from] : 0;
    sizes_.erase(from);
    if (to.find(filter_) != std::string::npos) sizes_[to] = size;
    return Status::OK();
  }
  Status remove(const std::string& p) override {
    LSM4KV_RETURN_IF_ERROR(base_->remove(p));
    std::lock_guard g(mu_);
    sizes_.erase(p);
    return Status::OK();
  }
  // The tensor log appends to files it reopens (seals, DEAD.log) and cuts
  // failed writes back.
  Status new_appendable(const std::string& p, std::unique_ptr<WritableFile>* out) override {
    std::unique_ptr<WritableFile> f;
    LSM4KV_RETURN_IF_ERROR(base_->new_appendable(p, &f));
    return track(p, std::move(f), out);
  }
  Status truncate(const std::string& p, uint64_t size) override {
    LSM4KV_RETURN_IF_ERROR(base_->truncate(p, size));
    std::lock_guard g(mu_);
    if (sizes_.count(p)) sizes_[p] = size;
    return Status::OK();
  }

 private:
  class File final : public WritableFile {
   public:
    File(BudgetFs* fs, std::string path, std::unique_ptr<WritableFile> f)
        : fs_(fs), path_(std::move(path)), f_(std::move(f)) {}
    Status append(std::string_view data) override {
      size_t fits = fs_->reserve(path_, data.size());
      if (fits > 0) LSM4KV_RETURN_IF_ERROR(f_->append(data.substr(0, fits)));
      if (fits < data.size()) return Status::no_space("write " + path_ + ": no space left on device");
      return Status::OK();
    }
    Status sync() override { return f_->sync(); }
    Status close() override { return f_->close(); }
    uint64_t size() const override { return f_->size(); }

   private:
    BudgetFs* fs_;
    std::string path_;
    std::unique_ptr<WritableFile> f_;
  };

  // Counts the bytes of p (those it has now, then every append) when the
  // filter matches it.
  Status track(const std::string& p, std::unique_ptr<WritableFile> f, std::unique_ptr<WritableFile>* out) {
    if (p.find(filter_) == std::string::npos) {
      *out = std::move(f);
      return Status::OK();
    }
    {
      std::lock_guard g(mu_);
      sizes_[p] = f->size();
    }
    *out = std::make_unique<File>(this, p, std::move(f));
    return Status::OK();
  }

  // How many of n bytes fit; counts them as used.
  size_t reserve(const std::string& path, size_t n) {
    std::lock_guard g(mu_);
    uint64_t used = 0;
    for (const auto& [p, size] : sizes_) used += size;
    uint64_t left = budget_ > used ? budget_ - used : 0;
    size_t fits = static_cast<size_t>(std::min<uint64_t>(left, n));
    if (fits < n) errors_++;
    if (sizes_.count(path)) sizes_[path] += fits;
    return fits;
  }

  const std::string filter_;
  mutable std::mutex mu_;
  uint64_t budget_ = UINT64_MAX;
  std::map<std::string, uint64_t> sizes_;
  uint64_t errors_ = 0;
};

}  // namespace lsm4kv::test
