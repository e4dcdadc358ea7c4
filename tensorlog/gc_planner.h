// The GC planner: a pure function from a snapshot of the segments to the
// segments the next collect() rewrites. It does no I/O, so a tuner or a test
// can reason about it alone; TensorLog::collect executes its plan.
//
// Two reasons to collect a sealed segment:
//   - its live ratio (live bytes / record bytes) fell below
//     live_ratio_threshold: rewriting it reclaims the dead bytes;
//   - it is small (file below small_segment_bytes) and there are more than
//     small_segment_count small segments: merging them bounds the file count.
// The active segment and segments already in a collection are never picked.
// The most-dead segments go first, and one plan rewrites at most max_bytes of
// live data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lsm4kv::tensorlog {

struct CollectOptions {
  double live_ratio_threshold = 0.5;
  size_t small_segment_count = 8;
  uint64_t small_segment_bytes = 0;  // 0: a quarter of the segment size
  uint64_t max_bytes = uint64_t{1} << 30;
  // Not empty: exactly these segments (those still collectable), whatever
  // their live ratio and size: region eviction names its victim.
  std::vector<uint64_t> segments;
};

struct SegmentSnapshot {
  uint64_t id = 0;
  uint64_t file_bytes = 0;
  uint64_t live_bytes = 0;
  uint64_t dead_bytes = 0;
  bool collectable = false;  // sealed, not active, not in a collection
};

std::vector<uint64_t> plan_collection(const std::vector<SegmentSnapshot>& segments,
                                      const CollectOptions& options, uint64_t segment_size);

}  // namespace lsm4kv::tensorlog
