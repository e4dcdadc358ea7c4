// What a backend leaves on disk and what it costs the device: the device's
// write counters (/proc/diskstats of the device a directory lives on), the
// files of a directory and their allocated bytes, and dropping a directory's
// files from the page cache before a cold run.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace lsm4kv::bench::peers {

// Bytes written to the device holding dir since boot (sectors written x 512),
// from the /proc/diskstats line of its major:minor; 0 when not found.
uint64_t device_bytes_written(const std::string& dir);

struct DirUsage {
  uint64_t files = 0;
  uint64_t allocated_bytes = 0;  // st_blocks x 512, all files below dir
};
DirUsage dir_usage(const std::string& dir);

// posix_fadvise(DONTNEED) on every file below dir (after fdatasync, so the
// pages are clean and can be dropped).
void drop_dir_cache(const std::string& dir);

// Removes dir and everything below it; creates it empty.
Status fresh_dir(const std::string& dir);
void remove_dir(const std::string& dir);

}  // namespace lsm4kv::bench::peers
