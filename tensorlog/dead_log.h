// DeadLog: the persistent list of records the caller reported dead, so that
// live-byte accounting survives a restart. An append-only file DEAD.log of
// entries:
//
//   0   u32  payload length n
//   4   u64  XXH3-64 of the payload
//   12  n    payload: varint64 count, then count encoded Locations
//
// Replay stops at the first entry that is torn or fails its checksum; a lost
// report only makes a dead record count as live (GC copies it once more), it
// never loses a live one. At open the file is rewritten with the entries that
// still name existing records, so it stays bounded; on a full disk (the
// rewrite gets NoSpace) the old file is kept as it is and appended to.
// A read-only DeadLog (TensorLogOptions::read_only) replays and writes
// nothing: its appends are refused.
//
// Thread-safety: append() may be called from many threads.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "base/file_system.h"
#include "base/status.h"
#include "tensorlog/record_format.h"

namespace lsm4kv::tensorlog {

class DeadLog {
 public:
  // Replays dir/DEAD.log through `replay`, which returns whether to keep an
  // entry; then (unless read_only) rewrites the file with the kept ones and
  // opens it for append.
  static Status open(FileSystem* fs, const std::string& dir, bool sync, bool read_only,
                     const std::function<bool(const Location&)>& replay,
                     std::unique_ptr<DeadLog>* out);
  Status append(std::span<const Location> locations);
  // The same, but durable whatever the sync setting.
  Status append_durable(std::span<const Location> locations);

 private:
  DeadLog(bool sync, std::unique_ptr<WritableFile> file) : sync_(sync), file_(std::move(file)) {}
  Status write(std::span<const Location> locations, bool sync);
  const bool sync_;
  std::mutex mu_;
  std::unique_ptr<WritableFile> file_;  // guarded by mu_
};

}  // namespace lsm4kv::tensorlog
