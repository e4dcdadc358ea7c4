// TensorLogSegment: what the tensor log knows about one segment file: its
// open descriptors for reading, the list of its records and which of them the
// caller reported dead. And the two ways a segment's record list is rebuilt
// when the log is opened: from the index of a sealed segment, or by scanning
// and verifying every record of an unsealed one (the segment that was being
// written when the process stopped), which is then cut back to its last
// complete record and sealed.
//
// Thread-safety: SegmentFile is immutable after open and shared by readers
// (shared_ptr: a collected segment stays readable until its last reader is
// done). SegmentRecords is guarded by the TensorLog's mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "tensorlog/record_format.h"
#include "tensorlog/record_table.h"

namespace lsm4kv::tensorlog {

class SegmentFile {
 public:
  // Opens path read-only, with O_DIRECT too when direct_io is set and the file
  // system accepts it (tmpfs does not: then direct_fd() is -1).
  static Status open(const std::string& path, uint64_t id, bool direct_io,
                     std::shared_ptr<SegmentFile>* out);
  ~SegmentFile();
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;

  uint64_t id() const { return id_; }
  const std::string& path() const { return path_; }
  int direct_fd() const { return direct_fd_; }
  int buffered_fd() const { return buffered_fd_; }

 private:
  SegmentFile(std::string path, uint64_t id) : path_(std::move(path)), id_(id) {}
  std::string path_;
  uint64_t id_;
  int direct_fd_ = -1;
  int buffered_fd_ = -1;
};

// The records of one segment, in offset order, with live-byte accounting in
// allocated bytes (allocated_bytes(): what a record occupies on disk).
struct SegmentRecords {
  uint64_t id = 0;
  std::shared_ptr<SegmentFile> file;
  RecordTable records;
  uint64_t live_records = 0;
  uint64_t live_bytes = 0;
  uint64_t dead_bytes = 0;
  uint64_t file_bytes = 0;  // size on disk, headers and index included
  // An active segment written over a reused file: that file's old size
  // (its bytes past file_bytes are LogUsage::spare_bytes); 0 otherwise.
  uint64_t reserved_bytes = 0;
  bool sealed = false;      // has an index and footer; never written again
  bool active = false;      // the writer appends to it
  bool put_head = false;    // written by TensorLog's Head::kPut (in memory only)
  // Read-only open of an unsealed segment: bytes after its last complete
  // record (a torn tail a writable open would cut off).
  uint64_t torn_bytes = 0;

  // Appends a live record; false when the table cannot (RecordTable::push_back).
  bool add(uint64_t offset, uint64_t length);
  // Marks the record at offset dead; false when there is none or it already is.
  bool mark_dead(uint64_t offset, uint64_t length);
  double live_ratio() const {
    uint64_t total = live_bytes + dead_bytes;
    return total == 0 ? 1.0 : static_cast<double>(live_bytes) / static_cast<double>(total);
  }
};

// The payload of a segment's index record.
std::string encode_segment_index(std::span<const SegmentRecord> records);
// Corruption unless every entry is in order, aligned and below
// RecordTable::kOffsetLimit.
Status decode_segment_index(std::string_view payload, const std::string& where, RecordTable* records);

// The bytes that seal a segment whose records' allocations end at `end` (a
// multiple of kRecordAlign), to be written from `end` on: the index record,
// zeros to the next block boundary, the footer block.
std::string build_seal(uint64_t segment_id, uint64_t end, std::span<const SegmentRecord> records);

// Reads the records of one segment (path) in large sequential reads and
// verifies each (verify_record). `valid` gets every data record that
// verifies, with its tag; `damaged` every other (bad magic, length or
// checksum, an index record, a read error or end of file inside it), with
// why. For repair: it reads every byte of the records.
using ScanVisitor = std::function<void(const Location& loc, std::string_view tag)>;
using DamageVisitor = std::function<void(const Location& loc, const Status& why)>;
Status scan_segment(FileSystem* fs, const std::string& path, uint64_t id,
                    const std::vector<SegmentRecord>& records, const ScanVisitor& valid,
                    const DamageVisitor& damaged);

// Rebuilds the record list of segment `id` in `dir` at open. A sealed segment
// is read from its index. An unsealed one is scanned: every record is read and
// verified, the file is truncated after the last complete record and sealed
// (synced), so the next open is fast. A file too short to hold a segment
// header, or whose header block is all zeros (a crash before its first sync),
// is reported with *empty = true. A record that does not verify is skipped:
// the scan resumes at the next block that starts a record which does, so one
// damaged record (or an index record, from a seal whose footer is damaged)
// costs only itself: the scan resumes at the next multiple of kRecordAlign
// where a record verifies. With read_only the unsealed segment is scanned and
// nothing is written (no truncation, no seal).
Status recover_segment(FileSystem* fs, const std::string& dir, uint64_t id, bool read_only,
                       SegmentRecords* out, bool* empty);

}  // namespace lsm4kv::tensorlog
