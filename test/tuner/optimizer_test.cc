// Tests of the optimizer (tuner/optimizer.h): extreme mixes choose tiering
// and leveling, costs are the cost model's, hysteresis keeps the shape for a
// small gain, and the choice of K moves monotonically with the mix.
#include <catch2/catch.hpp>

#include <vector>

#include "tuner/cost_model.h"
#include "tuner/optimizer.h"

using lsm4kv::engine::BloomAllocation;
using lsm4kv::engine::Shape;
using namespace lsm4kv::tuner;

namespace {

// 100M entries of 50 bytes under an 8 MiB buffer: 596 buffers, 3 levels at T = 10.
TreeParams big_tree(BloomAllocation allocation = BloomAllocation::kMonkey) {
  TreeParams p;
  p.entries = 100e6;
  p.entry_bytes = 50;
  p.write_buffer_bytes = 8 << 20;
  p.block_bytes = 4096;
  p.bloom_bits_per_key = 10;
  p.allocation = allocation;
  return p;
}

// Writes w, the rest lookups split as hits:misses:seeks = 6:3:1.
WorkloadMix mix_with_writes(double w) {
  double rest = 1 - w;
  return {w, rest * 0.6, rest * 0.3, rest * 0.1};
}

const Shape kLeveling{.size_ratio = 10, .runs_per_level = {1}};
const Shape kTiering{.size_ratio = 10, .runs_per_level = {9}};

}  // namespace

TEST_CASE("canonical_shape and same_shape") {
  CHECK(canonical_shape({10, {1}}, 3) == Shape{10, {1}});
  CHECK(canonical_shape({10, {3, 3, 3, 3}}, 2) == Shape{10, {3}});
  CHECK(canonical_shape({10, {1, 2, 4, 4}}, 3) == Shape{10, {1, 2, 4}});
  CHECK(canonical_shape({10, {1, 2}}, 4) == Shape{10, {1, 2}});
  CHECK(same_shape({10, {1, 2}}, {10, {1, 2, 2, 2}}, 4));
  CHECK(!same_shape({10, {1, 2}}, {10, {1, 3}}, 2));
  CHECK(same_shape({10, {1, 2}}, {10, {1, 3}}, 1));
  CHECK(!same_shape({10, {1}}, {8, {1}}, 1));
}

TEST_CASE("shape_cost is the cost model's weighted cost of the normalized mix") {
  TreeParams p = big_tree();
  WorkloadMix counts{300, 500, 100, 100};
  WorkloadMix fractions{0.3, 0.5, 0.1, 0.1};
  Costs c = predict(kLeveling, p);
  CHECK(shape_cost(kLeveling, p, counts) == Approx(weighted_cost(c, fractions)));
  CHECK(shape_cost(kLeveling, p, WorkloadMix{}) == 0);
  // By hand, uniform filters (p = e^{-10 ln²2} per run), T = 10, L = 3,
  // B = 4096/50 = 81.92 entries per block:
  //   leveling W = 1 + 3·5 = 16, R = 1 + 2p, Z = 3p, S = 3
  //   tiering  W = 1 + 3·1 = 4,  R = 1 + 2·9p + 4p, Z = 27p, S = 27
  TreeParams u = big_tree(BloomAllocation::kUniform);
  double fp = std::exp(-10 * std::log(2.0) * std::log(2.0));
  double b = 4096.0 / 50;
  CHECK(shape_cost(kLeveling, u, fractions) ==
        Approx(0.3 * 16 / b + 0.5 * (1 + 2 * fp) + 0.1 * 3 * fp + 0.1 * 3));
  CHECK(shape_cost(kTiering, u, fractions) ==
        Approx(0.3 * 4 / b + 0.5 * (1 + 22 * fp) + 0.1 * 27 * fp + 0.1 * 27));
}

TEST_CASE("optimize: all writes choose tiering, all lookups leveling") {
  TreeParams p = big_tree();
  OptimizerOptions o;
  o.search = {.min_size_ratio = 10, .max_size_ratio = 10};
  Proposal writes = optimize({1, 0, 0, 0}, p, kLeveling, o);
  CHECK(writes.best == Shape{10, {9}});
  CHECK(writes.change);
  CHECK(writes.gain > 0.5);
  Proposal lookups = optimize({0, 0.5, 0.3, 0.2}, p, kTiering, o);
  CHECK(lookups.best == Shape{10, {1}});
  CHECK(lookups.change);
  // With T free too: writes want few levels (large T), tiering.
  o.search = {.min_size_ratio = 2, .max_size_ratio = 16};
  Proposal free_writes = optimize({1, 0, 0, 0}, p, kLeveling, o);
  CHECK(free_writes.best.runs_at(1) == free_writes.best.size_ratio - 1);
  Proposal free_lookups = optimize({0, 0.5, 0.3, 0.2}, p, kTiering, o);
  CHECK(free_lookups.best.runs_per_level == std::vector<int>{1});
  // max_runs caps K.
  o.search.max_runs = 3;
  CHECK(optimize({1, 0, 0, 0}, p, kLeveling, o).best.runs_at(1) == 3);
}

TEST_CASE("optimize: hysteresis keeps the shape unless the gain pays") {
  TreeParams p = big_tree();
  OptimizerOptions o;
  o.search = {.min_size_ratio = 10, .max_size_ratio = 10};
  WorkloadMix lookups{0, 0.5, 0.3, 0.2};
  // Already the best: no change, gain 0.
  Proposal same = optimize(lookups, p, kLeveling, o);
  CHECK(!same.change);
  CHECK(same.gain == Approx(0).margin(1e-12));
  CHECK(same.best == kLeveling);
  // A shape a little worse than the best: kept under a large min_gain,
  // left under a small one.
  Shape near{10, {1, 1, 2}};
  Proposal p0 = optimize(lookups, p, near, o);
  REQUIRE(p0.gain > 0);
  o.min_gain = p0.gain * 2;
  CHECK(!optimize(lookups, p, near, o).change);
  o.min_gain = p0.gain / 2;
  CHECK(optimize(lookups, p, near, o).change);
}

TEST_CASE("optimize: more writes never choose a smaller K, more lookups never a larger") {
  TreeParams p = big_tree();
  for (int t : {4, 10, 16}) {
    for (bool per_level : {true, false}) {
      OptimizerOptions o;
      o.search = {.min_size_ratio = t, .max_size_ratio = t, .per_level_runs = per_level};
      o.min_gain = 0;
      Shape prev;
      for (int step = 0; step <= 100; step++) {
        Shape best = optimize(mix_with_writes(step / 100.0), p, kLeveling, o).best;
        if (step > 0) {
          for (int level = 1; level <= 6; level++) {
            INFO("T=" << t << " per_level=" << per_level << " w=" << step / 100.0
                      << " level " << level);
            CHECK(best.runs_at(level) >= prev.runs_at(level));
          }
        }
        prev = best;
      }
    }
  }
}

TEST_CASE("optimize: with T free, the tree's runs grow with the write share") {
  // K alone is not comparable across T; the number of runs a lookup may have
  // to probe (Σ K over the levels) is what the mix trades against writes.
  TreeParams p = big_tree();
  OptimizerOptions o;
  o.min_gain = 0;
  double prev_runs = 0;
  for (int step = 0; step <= 100; step++) {
    Proposal pr = optimize(mix_with_writes(step / 100.0), p, kLeveling, o);
    double runs = predict(pr.best, p).runs;
    INFO("w=" << step / 100.0 << " T=" << pr.best.size_ratio);
    CHECK(runs >= prev_runs);
    prev_runs = runs;
  }
}
