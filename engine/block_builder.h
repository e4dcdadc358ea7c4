// BlockBuilder: builds one data block of a sorted run: entries with
// shared-prefix key compression and restart points, in the layout that
// engine/run_format.h draws (restart keys share with the block's first key,
// the others with their predecessor).
//
// Thread-safety: one builder is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/entry.h"

namespace lsm4kv::engine {

class BlockBuilder {
 public:
  // REQUIRES: restart_interval >= 1.
  explicit BlockBuilder(int restart_interval);

  // REQUIRES: key > every key added since the last reset(); not finished.
  void add(std::string_view key, EntryType type, SequenceNumber seq, std::string_view value);
  // Appends the restart array and returns the block contents, valid until
  // the next reset().
  std::string_view finish();
  // Starts a new, empty block.
  void reset();

  // The block size if finish() were called now.
  size_t size_estimate() const;
  bool empty() const { return entries_ == 0; }
  uint64_t entries() const { return entries_; }
  std::string_view first_key() const { return first_key_; }
  std::string_view last_key() const { return last_key_; }

 private:
  const int restart_interval_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;
  std::string first_key_;
  std::string last_key_;
  uint64_t entries_ = 0;
  bool finished_ = false;
};

}  // namespace lsm4kv::engine
