// FragmentedTombstones: a set of range tombstones cut into sorted,
// non-overlapping fragments, each carrying the highest sequence number of the
// tombstones that cover it. "Is key k deleted by a range tombstone newer than
// sequence s?" is then one binary search: max_covering_seq(k) > s.
//
// INVARIANT: fragments are sorted by begin, non-empty (begin < end), and do
// not overlap; adjacent fragments with equal seq are coalesced.
//
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/entry.h"

namespace lsm4kv::engine {

class FragmentedTombstones {
 public:
  FragmentedTombstones() = default;
  // Tombstones may overlap and come in any order; empty ranges are dropped.
  explicit FragmentedTombstones(const std::vector<RangeTombstone>& tombstones);

  // These fragments with one more tombstone laid over them: equal to cutting
  // all of them from scratch, in O(size()) instead of O(n log n).
  FragmentedTombstones with(const RangeTombstone& t) const;

  // The highest sequence of a tombstone covering key, or 0 when none does.
  SequenceNumber max_covering_seq(std::string_view key) const;
  bool empty() const { return fragments_.empty(); }
  size_t size() const { return fragments_.size(); }
  const std::vector<RangeTombstone>& fragments() const { return fragments_; }
  bool operator==(const FragmentedTombstones&) const = default;

  // Serialized form (the range-deletion block of a sorted run):
  //   varint count, then per fragment: length-prefixed begin,
  //   length-prefixed end, varint seq.
  void encode_to(std::string* dst) const;
  static Status decode_from(std::string_view in, FragmentedTombstones* out);

 private:
  std::vector<RangeTombstone> fragments_;
};

}  // namespace lsm4kv::engine
