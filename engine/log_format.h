// The record log: the file format shared by the write-ahead log (one record
// per committed write batch) and the manifest (one record per version edit).
//
// A log file is a sequence of records, each:
//
//   offset  size  field
//   0       4     payload length n (fixed32, little-endian)
//   4       4     header check: low 32 bits of XXH3-64 over bytes 0..3
//   8       8     payload checksum: XXH3-64 over the n payload bytes
//   16      n     payload
//
// Records are written with one append each and never rewritten.
//
// Reading tells a torn tail (a crash mid-append; expected) from corruption
// (unexpected) by where the damage lies:
//   - fewer than 16 bytes left, or a valid header whose payload runs past the
//     end of the file                              -> torn tail: stop, OK
//   - a payload checksum mismatch on the LAST record of the file (only
//     zeros after it)                              -> torn tail: stop, OK
//     (WAL only; a manifest record is synced before anything depends on it,
//     so a complete but damaged last manifest record is Corruption)
//   - a bad header check where every byte from there to the end is zero
//     (a file extended but not yet written)        -> torn tail: stop, OK
//   - (WAL only) a damaged record that lost a disk sector: the bytes from
//     the record's start to the end of its 512-byte sector are all zero, or
//     a 512-byte-aligned sector that begins inside the record is zero (all
//     of it, up to the end of the file: the record may end inside it). A power cut
//     keeps or loses each unsynced sector on its own, so the unsynced tail
//     can read as zeros with whole records after them; every acknowledged
//     record lies before the first such loss (a sync covers everything
//     before it), so recovery stops there. A bit flip zeroes no sector.
//                                                  -> torn tail: stop, OK
//   - any other mismatch (more records follow)     -> Corruption naming the
//     file and the offset
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/file_system.h"
#include "base/status.h"

namespace lsm4kv::engine {

constexpr size_t kLogHeaderSize = 16;

class LogWriter {
 public:
  explicit LogWriter(std::unique_ptr<WritableFile> file) : file_(std::move(file)) {}
  // Appends one record (not synced).
  Status add_record(std::string_view payload);
  Status sync() { return file_->sync(); }
  Status close() { return file_->close(); }
  uint64_t size() const { return file_->size(); }

 private:
  std::unique_ptr<WritableFile> file_;
};

// Reads a whole log file (logs are bounded: a WAL by the write buffer, a
// manifest by the number of runs; both are read only at open).
class LogReader {
 public:
  enum class TailMode { kTolerateDamagedLast, kStrict };
  // Reads path; NotFound if missing.
  static Status open(FileSystem* fs, const std::string& path, TailMode mode,
                     std::unique_ptr<LogReader>* out);
  // Sets *payload to the next record. Returns OK with *done = true at the end
  // of the log (including a torn tail, see torn_tail()); Corruption otherwise.
  Status next(std::string_view* payload, bool* done);
  bool torn_tail() const { return torn_tail_; }
  // Offset just past the last good record.
  uint64_t good_bytes() const { return pos_; }

 private:
  LogReader(std::string path, std::string data, TailMode mode)
      : path_(std::move(path)), data_(std::move(data)), mode_(mode) {}
  Status corruption(const std::string& what) const;
  // True when [pos_, end) shows a lost sector (see the format comment).
  bool lost_sector(size_t end) const;
  std::string path_;
  std::string data_;
  TailMode mode_;
  uint64_t pos_ = 0;
  bool torn_tail_ = false;
};

}  // namespace lsm4kv::engine
