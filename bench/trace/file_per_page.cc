#include "bench/trace/file_per_page.h"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/checksum.h"

namespace lsm4kv::bench {

std::vector<uint64_t> FilePerPageCache::chunk_keys(std::span<const int32_t> tokens, size_t page_tokens) {
  std::vector<uint64_t> keys(tokens.size() / page_tokens);
  uint64_t h = 0;
  for (size_t i = 0; i < keys.size(); i++) {
    h = checksum64_with_seed(tokens.data() + i * page_tokens, page_tokens * sizeof(int32_t), h);
    keys[i] = h;
  }
  return keys;
}

Status FilePerPageCache::open(const Options& options, std::unique_ptr<FilePerPageCache>* out) {
  if (options.page_bytes == 0) return Status::invalid_argument("file-per-page: page_bytes must be > 0");
  if (options.capacity_bytes != 0 && options.capacity_bytes < options.page_bytes) {
    return Status::invalid_argument("file-per-page: capacity below one page");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Status::io_error(options.dir + ": " + ec.message());
  out->reset(new FilePerPageCache(options));
  return Status::OK();
}

std::string FilePerPageCache::path(uint64_t key) const {
  char name[17];
  std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(key));
  return opt_.dir + "/" + name;
}

void FilePerPageCache::touch(uint64_t key) {
  auto it = index_.find(key);
  if (it != index_.end()) lru_.splice(lru_.end(), lru_, it->second);
}

Status FilePerPageCache::evict_one() {
  uint64_t key = lru_.front();
  std::string p = path(key);
  if (::unlink(p.c_str()) != 0) return Status::from_errno(errno, p);
  lru_.pop_front();
  index_.erase(key);
  unlinked_++;
  return Status::OK();
}

Status FilePerPageCache::probe(std::span<const uint64_t> keys, size_t* pages) {
  size_t n = 0;
  struct stat st;
  for (; n < keys.size(); n++) {
    std::string p = path(keys[n]);
    if (::stat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) break;
      return Status::from_errno(errno, p);
    }
  }
  *pages = n;
  return Status::OK();
}

Status FilePerPageCache::get(std::span<const uint64_t> keys, size_t n, char* dst) {
  if (n > keys.size()) return Status::invalid_argument("file-per-page get: n beyond the keys");
  for (size_t i = 0; i < n; i++) {
    std::string p = path(keys[i]);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno(errno, p);
    size_t done = 0;
    char* d = dst + i * opt_.page_bytes;
    while (done < opt_.page_bytes) {
      ssize_t r = ::pread(fd, d + done, opt_.page_bytes - done, static_cast<off_t>(done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        int err = r < 0 ? errno : 0;
        ::close(fd);
        return err != 0 ? Status::from_errno(err, p) : Status::corruption(p + ": shorter than a page");
      }
      done += static_cast<size_t>(r);
    }
    if (opt_.drop_after_read) ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);  // advice: a failure changes no result
    ::close(fd);
    touch(keys[i]);
  }
  return Status::OK();
}

Status FilePerPageCache::put(std::span<const uint64_t> keys, const char* src, size_t* written) {
  *written = 0;
  for (size_t i = 0; i < keys.size(); i++) {
    if (index_.count(keys[i]) != 0) {
      touch(keys[i]);
      continue;
    }
    while (opt_.capacity_bytes != 0 && bytes() + opt_.page_bytes > opt_.capacity_bytes) {
      LSM4KV_RETURN_IF_ERROR(evict_one());
    }
    std::string p = path(keys[i]);
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::from_errno(errno, p);
    const char* s = src + i * opt_.page_bytes;
    size_t done = 0;
    while (done < opt_.page_bytes) {
      ssize_t w = ::write(fd, s + done, opt_.page_bytes - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        int err = errno;
        ::close(fd);
        return Status::from_errno(err, p);
      }
      done += static_cast<size_t>(w);
    }
    if (opt_.sync && ::fsync(fd) != 0) {
      int err = errno;
      ::close(fd);
      return Status::from_errno(err, p);
    }
    if (opt_.drop_cache) ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);  // advice: a failure changes no result
    if (::close(fd) != 0) return Status::from_errno(errno, p);
    lru_.push_back(keys[i]);
    index_[keys[i]] = std::prev(lru_.end());
    (*written)++;
  }
  if (opt_.sync_dir && *written > 0) return sync_directory();
  return Status::OK();
}

Status FilePerPageCache::sync_directory() const {
  int fd = ::open(opt_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::from_errno(errno, opt_.dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc != 0 ? Status::from_errno(err, opt_.dir) : Status::OK();
}

}  // namespace lsm4kv::bench
