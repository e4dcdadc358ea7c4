// The baseline: a file-per-page KV cache, as the local-disk backends of
// LMCache and SGLang HiCache keep it. One file per page (chunk) of tokens in
// one directory, named by the hex of a chained hash of the page's whole
// prefix (LMCache's chunk keys: hash(previous chunk's key, this chunk's
// tokens)), so the name of a page identifies its prefix.
//
//   probe: stat the files in prefix order until one is missing
//   get:   open + read + close each file of the prefix
//   put:   for each page not present, open(O_CREAT) + write + fsync + close
//          (with sync; the directory is fsynced once per put with sync_dir)
//   capacity: the file bytes; before a put that would exceed it, the least
//          recently used files (recency = last put or get) are unlinked.
//
// Pages are independent files, so eviction may remove a page whose
// descendants stay: probe then stops at the hole and the descendants are
// unreachable until the hole is rewritten. Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace lsm4kv::bench {

class FilePerPageCache {
 public:
  struct Options {
    std::string dir;              // created if missing; should be empty
    size_t page_tokens = 512;
    size_t page_bytes = 0;        // KV bytes of one page (page_tokens · bytes per token)
    uint64_t capacity_bytes = 0;  // 0 = unbounded
    bool sync = true;             // fsync each file after writing it
    // After writing a file, drop its pages from the page cache
    // (POSIX_FADV_DONTNEED; takes effect for clean pages, i.e. with sync), so
    // gets read the disk as O_DIRECT reads do instead of memory.
    bool drop_cache = false;
    // After a put that created files, fsync the directory too, so that the
    // new names are durable when put returns (bench/peers; the trace replay
    // leaves it off).
    bool sync_dir = false;
    // After reading a file, drop its pages again, so that every get reads
    // the disk, not what an earlier get left in the page cache (bench/peers:
    // cold gets, as the O_DIRECT backends do; the trace replay leaves it off).
    bool drop_after_read = false;
  };

  // The chunk keys of the whole pages of tokens: key[i] covers pages 0..i.
  static std::vector<uint64_t> chunk_keys(std::span<const int32_t> tokens, size_t page_tokens);

  static Status open(const Options& options, std::unique_ptr<FilePerPageCache>* out);

  // *pages = the number of leading keys whose files exist.
  Status probe(std::span<const uint64_t> keys, size_t* pages);
  // Reads the first n pages into dst (n · page_bytes).
  Status get(std::span<const uint64_t> keys, size_t n, char* dst);
  // Writes every page of src (keys.size() · page_bytes, page-major) whose file
  // is not present; *written = pages written.
  Status put(std::span<const uint64_t> keys, const char* src, size_t* written);

  size_t files() const { return index_.size(); }
  uint64_t bytes() const { return index_.size() * opt_.page_bytes; }
  uint64_t files_unlinked() const { return unlinked_; }

 private:
  explicit FilePerPageCache(Options o) : opt_(std::move(o)) {}
  std::string path(uint64_t key) const;
  void touch(uint64_t key);
  Status evict_one();
  Status sync_directory() const;

  Options opt_;
  std::list<uint64_t> lru_;  // least recently used first
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;
  uint64_t unlinked_ = 0;
};

}  // namespace lsm4kv::bench
