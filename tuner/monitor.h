// WorkloadMonitor: what the store has been doing lately, as a mix of
// operation kinds over a sliding window, for the tuner's cost model.
//
// The monitor is fed the engine's cumulative counters (engine::DB::properties())
// and counts their growth:
//   w = entries_written        entries put (a put_batch of n pages: n)
//   r = point_lookups_found    lookups that found their key (get_batch pages)
//   z = point_lookups_empty    lookups and probe steps that found nothing
//   s = seeks                  seeks and range reads (a probe: one seek)
// so it sees what the store really does, whichever API produced it.
//
// Window. A window is `window_ops` operations (w + r + z + s), kept as
// `slices` equal slices; it slides by one slice at a time: when the slice being
// filled reaches window_ops/slices operations it closes and the oldest slice
// drops out. A counter delta larger than the room left in the slice (one big
// batch) is split across slices in proportion, so the windows do not depend
// on how the operations were batched. The mix is known once `slices` slices
// have closed (full()).
//
// Thread-safety: not thread-safe; tuner::Controller serializes its calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "engine/db.h"
#include "tuner/cost_model.h"

namespace lsm4kv::tuner {

// The four counters of a Properties snapshot, as a WorkloadMix of counts.
WorkloadMix operation_counts(const engine::Properties& properties);

// w + r + z + s.
double total_operations(const WorkloadMix& mix);
// The mix scaled so that its fractions sum to 1 (all zero when it is empty).
WorkloadMix normalized(const WorkloadMix& mix);
// Total-variation distance between the fractions of two mixes: half the sum
// of the absolute differences, in [0, 1]. 0 = same proportions.
double mix_distance(const WorkloadMix& a, const WorkloadMix& b);

class WorkloadMonitor {
 public:
  // REQUIRES: window_ops >= 1, slices >= 1.
  explicit WorkloadMonitor(size_t window_ops = 4096, size_t slices = 4);

  // Sets the counters' starting point: only their growth after this counts.
  void reset(const WorkloadMix& cumulative);
  // Counts the growth of the counters since the last call (or reset).
  // Returns the number of slices that closed. Counters that went backwards
  // (a reopened engine) restart the baseline and count nothing.
  int add(const WorkloadMix& cumulative);

  // A whole window has been observed.
  bool full() const { return closed_.size() == slices_; }
  // Counts of operations of each kind in the window (the closed slices).
  WorkloadMix window() const;
  // window() as fractions; empty (all 0) until a slice has closed.
  WorkloadMix mix() const { return normalized(window()); }
  // Slices closed since construction; the window moves when this does.
  uint64_t slices_closed() const { return slices_closed_; }
  // Operations counted since construction.
  double operations() const { return operations_; }
  size_t window_ops() const { return window_ops_; }

 private:
  void close_slice();

  size_t window_ops_;
  size_t slices_;
  double slice_ops_;
  std::optional<WorkloadMix> last_;  // the counters at the previous add()
  WorkloadMix current_;              // the slice being filled
  std::deque<WorkloadMix> closed_;   // oldest first, at most slices_
  uint64_t slices_closed_ = 0;
  double operations_ = 0;
};

}  // namespace lsm4kv::tuner
