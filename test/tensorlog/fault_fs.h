// FaultFileSystem: a FileSystem wrapper for tests that makes one chosen
// append or sync fail (EIO, ENOSPC, or a short write that leaves half of the
// data in the file), on files whose name contains a filter string.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "base/file_system.h"

namespace lsm4kv::test {

class FaultFileSystem final : public FileSystem {
 public:
  explicit FaultFileSystem(FileSystem* base) : base_(base) {}

  // The append after `skip` more appends fails with `error`; with `partial`
  // half of its data reaches the file first. One-shot.
  void fail_append(int skip, Status error, bool partial, std::string filter = ".tlog") {
    std::lock_guard<std::mutex> l(mu_);
    append_countdown_ = skip;
    append_error_ = std::move(error);
    partial_ = partial;
    filter_ = std::move(filter);
  }
  void fail_sync(int skip, Status error, std::string filter = ".tlog") {
    std::lock_guard<std::mutex> l(mu_);
    sync_countdown_ = skip;
    sync_error_ = std::move(error);
    filter_ = std::move(filter);
  }
  int faults() const { return faults_; }

  Status new_writable(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    std::unique_ptr<WritableFile> f;
    LSM4KV_RETURN_IF_ERROR(base_->new_writable(path, &f));
    *out = std::make_unique<File>(this, path, std::move(f));
    return Status::OK();
  }
  Status new_appendable(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    std::unique_ptr<WritableFile> f;
    LSM4KV_RETURN_IF_ERROR(base_->new_appendable(path, &f));
    *out = std::make_unique<File>(this, path, std::move(f));
    return Status::OK();
  }
  Status new_random_access(const std::string& p, std::unique_ptr<RandomAccessFile>* o) override {
    return base_->new_random_access(p, o);
  }
  Status rename(const std::string& a, const std::string& b) override { return base_->rename(a, b); }
  Status remove(const std::string& p) override { return base_->remove(p); }
  Status create_dir(const std::string& p) override { return base_->create_dir(p); }
  Status list_dir(const std::string& p, std::vector<std::string>* n) override {
    return base_->list_dir(p, n);
  }
  bool exists(const std::string& p) override { return base_->exists(p); }
  Status file_size(const std::string& p, uint64_t* s) override { return base_->file_size(p, s); }
  Status truncate(const std::string& p, uint64_t s) override { return base_->truncate(p, s); }
  Status sync_dir(const std::string& p) override {
    dir_syncs_.fetch_add(1);
    return base_->sync_dir(p);
  }
  int dir_syncs() const { return dir_syncs_.load(); }
  int segment_syncs() const { return segment_syncs_.load(); }  // sync() of segment files (.tlog)
  Status lock_file(const std::string& p, std::unique_ptr<FileLock>* o) override {
    return base_->lock_file(p, o);
  }

 private:
  class File final : public WritableFile {
   public:
    File(FaultFileSystem* fs, std::string path, std::unique_ptr<WritableFile> base)
        : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}
    Status append(std::string_view data) override {
      Status err;
      bool partial = false;
      if (fs_->trip(path_, &fs_->append_countdown_, fs_->append_error_, &err)) {
        partial = fs_->partial_;
        if (partial) base_->append(data.substr(0, data.size() / 2)).ignore_error();
        return err;
      }
      return base_->append(data);
    }
    Status sync() override {
      Status err;
      if (fs_->trip(path_, &fs_->sync_countdown_, fs_->sync_error_, &err)) return err;
      if (path_.find(".tlog") != std::string::npos) fs_->segment_syncs_.fetch_add(1);
      return base_->sync();
    }
    Status close() override { return base_->close(); }
    uint64_t size() const override { return base_->size(); }

   private:
    FaultFileSystem* fs_;
    std::string path_;
    std::unique_ptr<WritableFile> base_;
  };

  bool trip(const std::string& path, int* countdown, const Status& error, Status* out) {
    std::lock_guard<std::mutex> l(mu_);
    if (*countdown < 0 || path.find(filter_) == std::string::npos) return false;
    if ((*countdown)-- > 0) return false;
    *out = error;
    ++faults_;
    return true;
  }

  FileSystem* base_;
  std::mutex mu_;
  std::atomic<int> dir_syncs_{0};
  std::atomic<int> segment_syncs_{0};
  int append_countdown_ = -1;
  int sync_countdown_ = -1;
  Status append_error_, sync_error_;
  bool partial_ = false;
  std::string filter_ = ".tlog";
  std::atomic<int> faults_{0};
};

}  // namespace lsm4kv::test
