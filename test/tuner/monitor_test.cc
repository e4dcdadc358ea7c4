// Tests of the workload monitor (tuner/monitor.h): windows close after their
// operations, slide by a slice, split big deltas in proportion, and ignore
// counters that went backwards.
#include <catch2/catch.hpp>

#include "tuner/monitor.h"

using namespace lsm4kv::tuner;

namespace {

WorkloadMix counts(double w, double r, double z, double s) { return {w, r, z, s}; }

}  // namespace

TEST_CASE("mix helpers: totals, fractions, distance") {
  WorkloadMix m = counts(30, 50, 10, 10);
  CHECK(total_operations(m) == 100);
  WorkloadMix f = normalized(m);
  CHECK(f.writes == Approx(0.3));
  CHECK(f.point_hits == Approx(0.5));
  CHECK(total_operations(normalized(WorkloadMix{})) == 0);
  CHECK(mix_distance(m, normalized(m)) == Approx(0).margin(1e-12));
  // All writes vs all hits: disjoint, distance 1.
  CHECK(mix_distance(counts(1, 0, 0, 0), counts(0, 7, 0, 0)) == Approx(1));
  // 0.3 of the mass moved from writes to hits.
  CHECK(mix_distance(counts(0.5, 0.5, 0, 0), counts(0.2, 0.8, 0, 0)) == Approx(0.3));
}

TEST_CASE("monitor: the first counters are the baseline") {
  WorkloadMonitor m(100, 4);
  CHECK(m.add(counts(1000, 1000, 0, 0)) == 0);  // what happened before the monitor
  CHECK(m.operations() == 0);
  CHECK(m.add(counts(1024, 1000, 0, 0)) == 0);  // 24 < one slice of 25
  CHECK(m.add(counts(1025, 1000, 0, 0)) == 1);
  CHECK(!m.full());
  CHECK(m.add(counts(1025, 1075, 0, 0)) == 3);
  CHECK(m.full());
  CHECK(m.window().writes == Approx(25));
  CHECK(m.window().point_hits == Approx(75));
  CHECK(m.mix().writes == Approx(0.25));
}

TEST_CASE("monitor: a big delta is split across slices in proportion") {
  WorkloadMonitor m(100, 4);
  m.reset({});
  // 1000 operations at once: 40 slices close; the window is the last 100,
  // with the delta's proportions.
  CHECK(m.add(counts(600, 200, 100, 100)) == 40);
  CHECK(m.slices_closed() == 40);
  CHECK(total_operations(m.window()) == Approx(100));
  CHECK(m.mix().writes == Approx(0.6));
  CHECK(m.mix().point_misses == Approx(0.1));
}

TEST_CASE("monitor: the window slides by one slice") {
  WorkloadMonitor m(100, 4);
  m.reset({});
  m.add(counts(100, 0, 0, 0));  // a window of writes
  CHECK(m.mix().writes == Approx(1));
  m.add(counts(100, 25, 0, 0));  // one slice of hits replaces the oldest slice
  CHECK(m.mix().writes == Approx(0.75));
  CHECK(m.mix().point_hits == Approx(0.25));
  m.add(counts(100, 100, 0, 0));
  CHECK(m.mix().point_hits == Approx(1));
  // Batching does not matter: the same operations one at a time.
  WorkloadMonitor one(100, 4);
  one.reset({});
  for (int i = 1; i <= 100; i++) one.add(counts(i, 0, 0, 0));
  for (int i = 1; i <= 25; i++) one.add(counts(100, i, 0, 0));
  CHECK(one.mix().writes == Approx(0.75));
  CHECK(one.slices_closed() == 5);
}

TEST_CASE("monitor: counters that went backwards restart the baseline") {
  WorkloadMonitor m(100, 1);
  m.reset(counts(500, 0, 0, 0));
  CHECK(m.add(counts(10, 0, 0, 0)) == 0);  // the engine was reopened
  CHECK(m.operations() == 0);
  CHECK(m.add(counts(110, 0, 0, 0)) == 1);
  CHECK(m.full());
}
