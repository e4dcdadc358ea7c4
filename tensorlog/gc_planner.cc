#include "tensorlog/gc_planner.h"

#include <algorithm>

namespace lsm4kv::tensorlog {

std::vector<uint64_t> plan_collection(const std::vector<SegmentSnapshot>& segments,
                                      const CollectOptions& options, uint64_t segment_size) {
  if (!options.segments.empty()) {
    std::vector<uint64_t> named;
    for (const SegmentSnapshot& s : segments)
      if (s.collectable && std::find(options.segments.begin(), options.segments.end(), s.id) != options.segments.end())
        named.push_back(s.id);
    return named;
  }
  uint64_t small_bytes =
      options.small_segment_bytes != 0 ? options.small_segment_bytes : segment_size / 4;
  std::vector<const SegmentSnapshot*> sparse, small;
  for (const SegmentSnapshot& s : segments) {
    if (!s.collectable) continue;
    uint64_t total = s.live_bytes + s.dead_bytes;
    double ratio = total == 0 ? 0.0 : static_cast<double>(s.live_bytes) / static_cast<double>(total);
    if (ratio < options.live_ratio_threshold) {
      sparse.push_back(&s);
    } else if (s.file_bytes < small_bytes) {
      small.push_back(&s);
    }
  }
  std::sort(sparse.begin(), sparse.end(), [](auto* a, auto* b) {
    return a->live_bytes * (b->live_bytes + b->dead_bytes) <
           b->live_bytes * (a->live_bytes + a->dead_bytes);
  });
  if (small.size() > options.small_segment_count) {
    std::sort(small.begin(), small.end(), [](auto* a, auto* b) { return a->id < b->id; });
    sparse.insert(sparse.end(), small.begin(), small.end());
  }
  std::vector<uint64_t> plan;
  uint64_t bytes = 0;
  for (const SegmentSnapshot* s : sparse) {
    if (!plan.empty() && bytes + s->live_bytes > options.max_bytes) break;
    plan.push_back(s->id);
    bytes += s->live_bytes;
  }
  return plan;
}

}  // namespace lsm4kv::tensorlog
