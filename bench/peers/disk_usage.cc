#include "bench/peers/disk_usage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace lsm4kv::bench::peers {

namespace fs = std::filesystem;

uint64_t device_bytes_written(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return 0;
  const unsigned want_major = major(st.st_dev), want_minor = minor(st.st_dev);
  FILE* f = std::fopen("/proc/diskstats", "r");
  if (!f) return 0;
  char line[512];
  uint64_t bytes = 0;
  while (std::fgets(line, sizeof line, f)) {
    unsigned maj = 0, min = 0;
    char name[64];
    unsigned long long rd = 0, rd_merged = 0, rd_sectors = 0, rd_ms = 0, wr = 0, wr_merged = 0, wr_sectors = 0;
    if (std::sscanf(line, "%u %u %63s %llu %llu %llu %llu %llu %llu %llu", &maj, &min, name, &rd, &rd_merged,
                    &rd_sectors, &rd_ms, &wr, &wr_merged, &wr_sectors) == 10 &&
        maj == want_major && min == want_minor) {
      bytes = static_cast<uint64_t>(wr_sectors) * 512;
    }
  }
  std::fclose(f);
  return bytes;
}

DirUsage dir_usage(const std::string& dir) {
  DirUsage u;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    u.files++;
    u.allocated_bytes += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return u;
}

void drop_dir_cache(const std::string& dir) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    (void)::fdatasync(fd);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);  // advice: a failure changes no result
    ::close(fd);
  }
}

Status fresh_dir(const std::string& dir) {
  remove_dir(dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  return ec ? Status::io_error(dir + ": " + ec.message()) : Status::OK();
}

void remove_dir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace lsm4kv::bench::peers
