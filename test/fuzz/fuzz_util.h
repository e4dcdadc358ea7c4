// Helpers shared by the libFuzzer targets of test/fuzz.
//
// MemFileSystem: a FileSystem whose files are strings in a map, so that a
// target can hand arbitrary bytes to a reader that opens a path (the log
// reader, SortedRun::open, recover_segment, DB::open) without touching the
// disk, and so that one run of a target costs microseconds, not a file
// creation. One mutex guards the map and every append (the engine's
// background thread writes while the target reads); `files` is for the
// target's own use while nothing else runs.
//
// FUZZ_CHECK: a property of the code under test that failed. It aborts, and
// libFuzzer records the input as a crash, like a sanitizer finding.
//
// Thread-safety: MemFileSystem as above; the rest is used by one thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace lsm4kv::fuzz {

// Consumes bytes from the front of the input: the selector bytes that pick
// a target's mode, then the rest as the bytes to decode.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(reinterpret_cast<const char*>(data)), n_(size) {}
  uint8_t byte() {
    if (n_ == 0) return 0;
    n_--;
    return static_cast<uint8_t>(*p_++);
  }
  std::string_view take(size_t k) {
    k = k < n_ ? k : n_;
    std::string_view v(p_, k);
    p_ += k;
    n_ -= k;
    return v;
  }
  // Up to 8 bytes as a little-endian integer (missing bytes read as zero).
  uint64_t u64() {
    std::string_view b = take(8);
    uint64_t v = 0;
    for (size_t i = 0; i < b.size(); i++) v |= uint64_t{static_cast<uint8_t>(b[i])} << (8 * i);
    return v;
  }
  std::string_view rest() { return take(n_); }
  size_t left() const { return n_; }

 private:
  const char* p_;
  size_t n_;
};

// The body of a target with two modes: selector bit 0 set, round_trip
// builds its input from a description (the rest of the bytes, through an
// Input); clear, decode gets the rest of the bytes as they are.
template <typename Decode, typename RoundTrip>
int two_modes(const uint8_t* data, size_t size, Decode decode, RoundTrip round_trip) {
  Input in(data, size);
  if (in.byte() & 1) round_trip(&in);
  else decode(in.rest());
  return 0;
}

class MemFileSystem final : public FileSystem {
 public:
  std::map<std::string, std::string> files;

  Status new_writable(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    std::lock_guard<std::mutex> l(mu_);
    files[path].clear();
    *out = std::make_unique<Writer>(this, &files[path]);
    return Status::OK();
  }
  Status new_appendable(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files.find(path);
    if (it == files.end()) return Status::not_found(path);
    *out = std::make_unique<Writer>(this, &it->second);
    return Status::OK();
  }
  Status new_random_access(const std::string& path, std::unique_ptr<RandomAccessFile>* out) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files.find(path);
    if (it == files.end()) return Status::not_found(path);
    *out = std::make_unique<Reader>(it->second);  // a snapshot: files are immutable once read
    return Status::OK();
  }
  Status rename(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files.find(from);
    if (it == files.end()) return Status::not_found(from);
    std::string data = std::move(it->second);
    files.erase(it);
    files[to] = std::move(data);
    return Status::OK();
  }
  Status remove(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    return files.erase(path) ? Status::OK() : Status::not_found(path);
  }
  Status create_dir(const std::string&) override { return Status::OK(); }
  Status list_dir(const std::string& dir, std::vector<std::string>* names) override {
    std::lock_guard<std::mutex> l(mu_);
    names->clear();
    std::string prefix = dir + "/";
    for (const auto& [p, d] : files)
      if (p.compare(0, prefix.size(), prefix) == 0 && p.find('/', prefix.size()) == std::string::npos)
        names->push_back(p.substr(prefix.size()));
    return Status::OK();
  }
  bool exists(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    if (files.count(path) != 0) return true;
    // A directory exists when a file lies in it (or it is the root of one).
    std::string prefix = path + "/";
    auto it = files.lower_bound(prefix);
    return it != files.end() && it->first.compare(0, prefix.size(), prefix) == 0;
  }
  Status file_size(const std::string& path, uint64_t* size) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files.find(path);
    if (it == files.end()) return Status::not_found(path);
    *size = it->second.size();
    return Status::OK();
  }
  Status truncate(const std::string& path, uint64_t size) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files.find(path);
    if (it == files.end()) return Status::not_found(path);
    it->second.resize(size, '\0');
    return Status::OK();
  }
  Status sync_dir(const std::string&) override { return Status::OK(); }
  Status lock_file(const std::string&, std::unique_ptr<FileLock>* out) override {
    *out = std::make_unique<FileLock>();
    return Status::OK();
  }

 private:
  // Appends into the map's string; a file removed while a writer holds it
  // must not be written again (the engine closes before it removes).
  class Writer final : public WritableFile {
   public:
    Writer(MemFileSystem* fs, std::string* data) : fs_(fs), data_(data) {}
    Status append(std::string_view d) override {
      std::lock_guard<std::mutex> l(fs_->mu_);
      data_->append(d);
      return Status::OK();
    }
    Status sync() override { return Status::OK(); }
    Status close() override { return Status::OK(); }
    uint64_t size() const override {
      std::lock_guard<std::mutex> l(fs_->mu_);
      return data_->size();
    }

   private:
    MemFileSystem* fs_;
    std::string* data_;
  };
  class Reader final : public RandomAccessFile {
   public:
    explicit Reader(std::string data) : data_(std::move(data)) {}
    Status read(uint64_t offset, size_t n, char* scratch, size_t* got) const override {
      *got = 0;
      if (offset >= data_.size()) return Status::OK();
      *got = std::min<uint64_t>(n, data_.size() - offset);
      std::memcpy(scratch, data_.data() + offset, *got);
      return Status::OK();
    }
    uint64_t size() const override { return data_.size(); }

   private:
    std::string data_;
  };

  mutable std::mutex mu_;
};

}  // namespace lsm4kv::fuzz
