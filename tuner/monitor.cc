#include "tuner/monitor.h"

#include <algorithm>
#include <cmath>

namespace lsm4kv::tuner {

namespace {

WorkloadMix scaled(const WorkloadMix& m, double f) {
  return {m.writes * f, m.point_hits * f, m.point_misses * f, m.seeks * f};
}
WorkloadMix plus(const WorkloadMix& a, const WorkloadMix& b) {
  return {a.writes + b.writes, a.point_hits + b.point_hits, a.point_misses + b.point_misses,
          a.seeks + b.seeks};
}
WorkloadMix minus(const WorkloadMix& a, const WorkloadMix& b) { return plus(a, scaled(b, -1)); }

}  // namespace

WorkloadMix operation_counts(const engine::Properties& p) {
  return {double(p.entries_written), double(p.point_lookups_found),
          double(p.point_lookups_empty), double(p.seeks)};
}

double total_operations(const WorkloadMix& m) {
  return m.writes + m.point_hits + m.point_misses + m.seeks;
}

WorkloadMix normalized(const WorkloadMix& m) {
  double n = total_operations(m);
  return n > 0 ? scaled(m, 1 / n) : WorkloadMix{};
}

double mix_distance(const WorkloadMix& a, const WorkloadMix& b) {
  WorkloadMix d = minus(normalized(a), normalized(b));
  return (std::abs(d.writes) + std::abs(d.point_hits) + std::abs(d.point_misses) +
          std::abs(d.seeks)) / 2;
}

WorkloadMonitor::WorkloadMonitor(size_t window_ops, size_t slices)
    : window_ops_(std::max<size_t>(window_ops, 1)),
      slices_(std::max<size_t>(slices, 1)),
      slice_ops_(double(window_ops_) / double(slices_)) {}

void WorkloadMonitor::reset(const WorkloadMix& cumulative) { last_ = cumulative; }

int WorkloadMonitor::add(const WorkloadMix& cumulative) {
  if (!last_) {
    last_ = cumulative;
    return 0;
  }
  WorkloadMix delta = minus(cumulative, *last_);
  last_ = cumulative;
  if (delta.writes < 0 || delta.point_hits < 0 || delta.point_misses < 0 || delta.seeks < 0)
    return 0;
  double n = total_operations(delta);
  operations_ += n;
  int closed = 0;
  while (n > 0) {
    double room = std::max(0.0, slice_ops_ - total_operations(current_));
    if (n < room) {
      current_ = plus(current_, delta);
      break;
    }
    // The part of the delta that fills this slice, in proportion.
    WorkloadMix part = scaled(delta, room / n);
    current_ = plus(current_, part);
    delta = minus(delta, part);
    n -= room;
    close_slice();
    closed++;
  }
  return closed;
}

void WorkloadMonitor::close_slice() {
  closed_.push_back(current_);
  if (closed_.size() > slices_) closed_.pop_front();
  current_ = {};
  slices_closed_++;
}

WorkloadMix WorkloadMonitor::window() const {
  WorkloadMix sum;
  for (const WorkloadMix& s : closed_) sum = plus(sum, s);
  return sum;
}

}  // namespace lsm4kv::tuner
