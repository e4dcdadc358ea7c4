#include "tensorlog/record_table.h"

#include <algorithm>

namespace lsm4kv::tensorlog {

void RecordTable::clear() {
  entries_.clear();
  big_.clear();
}

bool RecordTable::push_back(uint64_t offset, uint64_t length) {
  if (offset % kRecordAlign != 0 || offset >= kOffsetLimit) return false;
  const auto units = static_cast<uint32_t>(offset / kRecordAlign);
  if (!entries_.empty() && entries_.back().offset_units >= units) return false;
  if (length >= kBigLength) {
    big_.emplace_back(entries_.size(), length);
    entries_.push_back({units, kBigLength});
  } else {
    entries_.push_back({units, static_cast<uint32_t>(length)});
  }
  return true;
}

uint64_t RecordTable::length_of(size_t i) const {
  const uint32_t l = entries_[i].length & ~(kDeadBit | kReadMask);
  if (l != kBigLength) return l;
  auto it = std::lower_bound(big_.begin(), big_.end(), i,
                             [](const std::pair<size_t, uint64_t>& b, size_t k) { return b.first < k; });
  return it->second;  // INVARIANT: every kBigLength entry has its pair
}

SegmentRecord RecordTable::at(size_t i) const {
  return {uint64_t{entries_[i].offset_units} * kRecordAlign, length_of(i), dead(i)};
}

size_t RecordTable::find(uint64_t offset) const {
  if (offset % kRecordAlign != 0 || offset >= kOffsetLimit) return kNone;
  const auto units = static_cast<uint32_t>(offset / kRecordAlign);
  auto it = std::lower_bound(entries_.begin(), entries_.end(), units,
                             [](const Entry& e, uint32_t u) { return e.offset_units < u; });
  if (it == entries_.end() || it->offset_units != units) return kNone;
  return static_cast<size_t>(it - entries_.begin());
}

uint64_t RecordTable::memory_bytes() const {
  return entries_.capacity() * sizeof(Entry) + big_.capacity() * sizeof(big_[0]);
}

std::vector<SegmentRecord> RecordTable::to_vector() const {
  std::vector<SegmentRecord> out;
  out.reserve(size());
  for (const SegmentRecord& r : *this) out.push_back(r);
  return out;
}

}  // namespace lsm4kv::tensorlog
