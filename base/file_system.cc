#include "base/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lsm4kv {
namespace {

// Closes *fd once (a second call is OK) and reports close's error.
Status close_fd(int* fd, const std::string& path) {
  if (*fd < 0) return Status::OK();
  int rc = ::close(*fd);
  *fd = -1;
  if (rc != 0) return Status::from_errno(errno, "close " + path);
  return Status::OK();
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::from_errno(errno, "write " + path_);
      }
      if (n == 0) return Status::io_error("write " + path_ + ": wrote 0 bytes");
      p += n;
      left -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }
  Status sync() override {
    if (::fdatasync(fd_) != 0) return Status::from_errno(errno, "fdatasync " + path_);
    return Status::OK();
  }
  Status close() override { return close_fd(&fd_, path_); }
  uint64_t size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

// A file written with O_DIRECT where the caller's data allows it: aligned
// buffers go from the caller's memory to the disk with no page-cache copy.
// Unaligned data and file systems that refuse O_DIRECT (EINVAL) fall back to
// the buffered descriptor of the same file. fdatasync on the buffered
// descriptor covers what went through either.
class PosixDirectWritableFile final : public WritableFile {
 public:
  static constexpr size_t kAlignment = 4096;

  PosixDirectWritableFile(std::string path, int fd, int direct)
      : path_(std::move(path)), fd_(fd), direct_(direct) {}
  ~PosixDirectWritableFile() override { close().ignore_error(); }  // close() reports; a destructor cannot

  Status append(std::string_view data) override {
    bool aligned = reinterpret_cast<uintptr_t>(data.data()) % kAlignment == 0 &&
                   data.size() % kAlignment == 0 && size_ % kAlignment == 0;
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      int fd = aligned && direct_ >= 0 ? direct_ : fd_;
      ssize_t n = ::pwrite(fd, p, left, static_cast<off_t>(size_));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL && fd == direct_) {
        ::close(direct_);  // the file system refuses O_DIRECT
        direct_ = -1;
        continue;
      }
      if (n < 0) return Status::from_errno(errno, "write " + path_);
      if (n == 0) return Status::io_error("write " + path_ + ": wrote 0 bytes");
      p += n;
      left -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
      aligned = aligned && n % static_cast<ssize_t>(kAlignment) == 0;
    }
    return Status::OK();
  }
  Status sync() override {
    if (::fdatasync(fd_) != 0) return Status::from_errno(errno, "fdatasync " + path_);
    return Status::OK();
  }
  Status close() override {
    if (direct_ >= 0) ::close(direct_);
    direct_ = -1;
    return close_fd(&fd_, path_);
  }
  uint64_t size() const override { return size_; }
  int fd() const override { return fd_; }
  int direct_fd() const override { return direct_; }
  size_t direct_alignment() const override { return direct_ >= 0 ? kAlignment : 0; }
  void advance(uint64_t n) override { size_ += n; }

 private:
  std::string path_;
  int fd_;
  int direct_;
  uint64_t size_ = 0;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }
  Status read(uint64_t offset, size_t n, char* scratch, size_t* got) const override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, scratch + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::from_errno(errno, "pread " + path_);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    *got = done;
    return Status::OK();
  }
  uint64_t size() const override { return size_; }
  int fd() const override { return fd_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Status new_writable(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::from_errno(errno, "open " + path);
    *out = std::make_unique<PosixWritableFile>(path, fd, 0);
    return Status::OK();
  }
  Status new_direct_writable(const std::string& path,
                             std::unique_ptr<WritableFile>* out) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::from_errno(errno, "open " + path);
    // -1 where the file system refuses O_DIRECT: buffered writes only.
    int direct = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_DIRECT);
    *out = std::make_unique<PosixDirectWritableFile>(path, fd, direct);
    return Status::OK();
  }
  Status reuse_direct_writable(const std::string& path,
                               std::unique_ptr<WritableFile>* out) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);  // no O_TRUNC: its blocks stay allocated
    if (fd < 0) return Status::from_errno(errno, "open " + path);
    int direct = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_DIRECT);
    *out = std::make_unique<PosixDirectWritableFile>(path, fd, direct);
    return Status::OK();
  }
  Status new_appendable(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Status::from_errno(errno, "open " + path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return Status::from_errno(err, "fstat " + path);
    }
    *out = std::make_unique<PosixWritableFile>(path, fd, static_cast<uint64_t>(st.st_size));
    return Status::OK();
  }
  Status new_random_access(const std::string& path,
                           std::unique_ptr<RandomAccessFile>* out) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno(errno, "open " + path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return Status::from_errno(err, "fstat " + path);
    }
    *out = std::make_unique<PosixRandomAccessFile>(path, fd, static_cast<uint64_t>(st.st_size));
    return Status::OK();
  }
  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return Status::from_errno(errno, "rename " + from + " -> " + to);
    return Status::OK();
  }
  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::from_errno(errno, "unlink " + path);
    return Status::OK();
  }
  Status create_dir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::from_errno(errno, "mkdir " + path);
    return Status::OK();
  }
  Status list_dir(const std::string& path, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return Status::from_errno(errno, "opendir " + path);
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names->emplace_back(e->d_name);
    }
    ::closedir(d);
    return Status::OK();
  }
  bool exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  Status file_size(const std::string& path, uint64_t* size) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::from_errno(errno, "stat " + path);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }
  Status truncate(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0)
      return Status::from_errno(errno, "truncate " + path);
    return Status::OK();
  }
  Status sync_dir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno(errno, "open dir " + path);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::from_errno(err, "fsync dir " + path);
    return Status::OK();
  }
  Status lock_file(const std::string& path, std::unique_ptr<FileLock>* out) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::from_errno(errno, "open " + path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) return Status::busy(path + ": locked by another process");
      return Status::from_errno(err, "flock " + path);
    }
    *out = std::make_unique<PosixFileLock>(fd);
    return Status::OK();
  }
};

}  // namespace

FileSystem* FileSystem::posix() {
  static PosixFileSystem fs;
  return &fs;
}

Status create_dir_durable(FileSystem* fs, const std::string& dir) {
  LSM4KV_RETURN_IF_ERROR(fs->create_dir(dir));
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  size_t slash = d.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : d.substr(0, slash);
  return fs->sync_dir(parent);
}

Status read_file(FileSystem* fs, const std::string& path, std::string* out) {
  std::unique_ptr<RandomAccessFile> f;
  LSM4KV_RETURN_IF_ERROR(fs->new_random_access(path, &f));
  out->resize(f->size());
  size_t got = 0;
  LSM4KV_RETURN_IF_ERROR(f->read(0, out->size(), out->data(), &got));
  out->resize(got);
  return Status::OK();
}

Status write_file_atomic(FileSystem* fs, const std::string& dir, const std::string& name,
                         std::string_view data) {
  std::string tmp = dir + "/" + name + ".tmp";
  std::unique_ptr<WritableFile> f;
  LSM4KV_RETURN_IF_ERROR(fs->new_writable(tmp, &f));
  Status s = f->append(data);
  if (s.ok()) s = f->sync();
  if (s.ok()) s = f->close();
  if (s.ok()) s = fs->rename(tmp, dir + "/" + name);
  if (s.ok()) s = fs->sync_dir(dir);
  if (!s.ok()) fs->remove(tmp).ignore_error();  // cleanup after the error returned
  return s;
}

}  // namespace lsm4kv
