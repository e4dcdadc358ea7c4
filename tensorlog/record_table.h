// RecordTable: the in-memory list of one segment's records (offset, length,
// liveness), in offset order, at 8 bytes a record.
//
// Every record the log holds has an entry, so this table is most of the tensor
// log's RAM (a store of 128-byte pages has one record per page): at 24 bytes
// an entry (two u64 and a flag) it was the largest part of the store's memory
// per page, and building it was most of the time a reopen took (5M records:
// 120 MB of entries, each page of them faulted in). An entry is now
//   u32 offset / kRecordAlign   (records start below 32 GiB: kMaxSegmentSize)
//   u32 length, bit 31 = dead, bits 30-29 = reads since written (0-3,
//                               saturating) (lengths of 2^29 - 1 or more:
//                               kBigLength, the real length in a side list,
//                               by entry index)
// SegmentRecord is the unpacked form everything outside the table uses.
//
// Thread-safety: none; SegmentRecords (segment.h) is guarded by its owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "tensorlog/record_format.h"

namespace lsm4kv::tensorlog {

struct SegmentRecord {
  uint64_t offset = 0;
  uint64_t length = 0;  // unpadded record length
  bool dead = false;
  bool operator==(const SegmentRecord&) const = default;
};

// Segments are rotated before this size, so that every record starts at an
// offset the table can hold (a single larger record starts at kAlign).
inline constexpr uint64_t kMaxSegmentSize = uint64_t{16} << 30;

class RecordTable {
 public:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  // Offsets the table can hold are below this.
  static constexpr uint64_t kOffsetLimit = (uint64_t{1} << 32) * kRecordAlign;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear();
  void reserve(size_t n) { entries_.reserve(n); }
  // Appends a live record. False (and nothing appended) unless offset is a
  // multiple of kRecordAlign, below kOffsetLimit and after the last record's.
  bool push_back(uint64_t offset, uint64_t length);
  SegmentRecord at(size_t i) const;
  SegmentRecord back() const { return at(entries_.size() - 1); }
  // The index of the record that starts at offset, or kNone.
  size_t find(uint64_t offset) const;
  bool dead(size_t i) const { return (entries_[i].length & kDeadBit) != 0; }
  void set_dead(size_t i) { entries_[i].length |= kDeadBit; }
  // Reads since written, up to kMaxReads: region eviction keeps a record read
  // often enough (tensor_log.h, mark_read). Saved across a clean restart by
  // the log (read_counts.h).
  static constexpr uint32_t kMaxReads = 3;
  uint32_t reads(size_t i) const { return (entries_[i].length & kReadMask) >> kReadShift; }
  void add_read(size_t i) {
    if (reads(i) < kMaxReads) entries_[i].length += uint32_t{1} << kReadShift;
  }
  // RAM held, capacity included.
  uint64_t memory_bytes() const;
  std::vector<SegmentRecord> to_vector() const;

  // Records by value, in offset order: `for (const SegmentRecord& r : table)`.
  class Iterator {
   public:
    Iterator(const RecordTable* t, size_t i) : t_(t), i_(i) {}
    SegmentRecord operator*() const { return t_->at(i_); }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }

   private:
    const RecordTable* t_;
    size_t i_;
  };
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, entries_.size()}; }

 private:
  static constexpr uint32_t kDeadBit = uint32_t{1} << 31;
  static constexpr uint32_t kReadShift = 29;
  static constexpr uint32_t kReadMask = uint32_t{3} << kReadShift;
  static constexpr uint32_t kBigLength = (uint32_t{1} << kReadShift) - 1;
  struct Entry {
    uint32_t offset_units;
    uint32_t length;  // kDeadBit | reads << kReadShift | length, or kBigLength
  };
  static_assert(sizeof(Entry) == 8);
  uint64_t length_of(size_t i) const;

  std::vector<Entry> entries_;
  std::vector<std::pair<size_t, uint64_t>> big_;  // (entry index, length), by index
};

}  // namespace lsm4kv::tensorlog
