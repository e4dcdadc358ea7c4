// Tests of the LSM cost models (tuner/cost_model.h, tuner/policy_model.h)
// against values computed by hand, and of the trends the models must show:
// more runs per level write less and read more.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "engine/bloom_allocation.h"
#include "tuner/cost_model.h"
#include "tuner/policy_model.h"

using lsm4kv::engine::BloomAllocation;
using lsm4kv::engine::Shape;
using namespace lsm4kv::tuner;

namespace {

// One entry per flush and one byte per entry: level i holds T^i entries.
TreeParams unit_params(double entries) {
  TreeParams p;
  p.entries = entries;
  p.entry_bytes = 1;
  p.write_buffer_bytes = 1;
  p.block_bytes = 4;
  p.bloom_bits_per_key = 10;
  p.allocation = BloomAllocation::kUniform;
  return p;
}

const double kP10 = std::exp(-10 * std::log(2.0) * std::log(2.0));  // 10 bits/key

// Entries of each run of a level, newest first.
std::vector<double> entries(const std::vector<ModelRun>& level) {
  std::vector<double> n;
  for (const ModelRun& r : level) n.push_back(r.entries);
  return n;
}
std::vector<std::vector<double>> entries(const PolicyTree& tree) {
  std::vector<std::vector<double>> n;
  for (const auto& level : tree.levels) n.push_back(entries(level));
  return n;
}

}  // namespace

TEST_CASE("num_levels: the fewest levels whose capacities hold the data") {
  // T = 10, M = 1: levels 1..3 hold 10 + 100 + 1000 = 1110.
  CHECK(num_levels(1110, 1, 1, 10) == 3);
  CHECK(num_levels(1111, 1, 1, 10) == 4);
  CHECK(num_levels(10, 1, 1, 10) == 1);
  CHECK(num_levels(11, 1, 1, 10) == 2);
  CHECK(num_levels(0, 1, 1, 10) == 1);
  // T = 2: 2 + 4 + 8 = 14.
  CHECK(num_levels(14, 1, 1, 2) == 3);
  CHECK(num_levels(15, 1, 1, 2) == 4);
  // Bytes, not entries: 100 entries of 10 bytes with M = 100 → 10 buffers.
  CHECK(num_levels(100, 10, 100, 10) == 1);
  CHECK(num_levels(101, 10, 100, 10) == 2);
}

TEST_CASE("predict: leveling by hand") {
  Shape leveling{.size_ratio = 10, .runs_per_level = {1}};
  Costs c = predict(leveling, unit_params(1110));
  CHECK(c.levels == 3);
  CHECK(c.runs == 3);
  CHECK(c.write == Approx(1 + 3 * 5.0));  // flush + 3 × (T−1+1)/2
  CHECK(c.write_io == Approx(16.0 / 4));
  CHECK(c.write_amplification == Approx(16));
  CHECK(c.point_miss_runs == Approx(3 * kP10));
  CHECK(c.point_hit_runs == Approx(1 + 2 * kP10));
  CHECK(c.point_hit_blocks == Approx(c.point_hit_runs));
  CHECK(c.seek_blocks == 3);
  CHECK(c.bloom_fpr == Approx(kP10));
}

TEST_CASE("predict: tiering by hand") {
  Shape tiering{.size_ratio = 10, .runs_per_level = {9}};
  TreeParams p = unit_params(1110);
  p.user_entry_bytes = 4;  // entries shrink to a quarter on disk
  Costs c = predict(tiering, p);
  CHECK(c.levels == 3);
  CHECK(c.runs == 27);
  CHECK(c.write == Approx(1 + 3 * 1.0));  // (T−1+K)/(2K) = 1 per level
  CHECK(c.write_amplification == Approx(4.0 / 4));
  CHECK(c.point_miss_runs == Approx(27 * kP10));
  CHECK(c.point_hit_runs == Approx(1 + 18 * kP10 + 4 * kP10));
  CHECK(c.seek_blocks == 27);
}

TEST_CASE("predict: per-level K and the write term") {
  CHECK(level_write_cost(10, 1) == Approx(5));
  CHECK(level_write_cost(10, 9) == Approx(1));
  CHECK(level_write_cost(4, 2) == Approx(5.0 / 4));
  // K = 3 on level 1, then 1: writes 1 + (9+3)/6 + 5 + 5.
  Shape mixed{.size_ratio = 10, .runs_per_level = {3, 1}};
  Costs c = predict(mixed, unit_params(1110));
  CHECK(c.runs == 5);
  CHECK(c.write == Approx(1 + 2 + 5 + 5));
  CHECK(c.point_miss_runs == Approx(5 * kP10));
}

TEST_CASE("predict: Monkey allocation lowers zero-result cost at equal memory") {
  Shape tiering{.size_ratio = 4, .runs_per_level = {3}};
  TreeParams p = unit_params(1e6);
  Costs uniform = predict(tiering, p);
  p.allocation = BloomAllocation::kMonkey;
  Costs monkey = predict(tiering, p);
  CHECK(monkey.point_miss_runs < uniform.point_miss_runs);
  CHECK(monkey.write == Approx(uniform.write));
  // An explicit per-level override is used as given.
  p.bits_per_level = {10};
  Costs fixed = predict(tiering, p);
  CHECK(fixed.point_miss_runs == Approx(uniform.point_miss_runs));
}

TEST_CASE("predict: more runs per level write less and read more") {
  for (int t : {2, 4, 8, 10}) {
    for (auto alloc : {BloomAllocation::kUniform, BloomAllocation::kMonkey}) {
      TreeParams p = unit_params(1e7);
      p.allocation = alloc;
      Costs prev = predict(Shape{.size_ratio = t, .runs_per_level = {1}}, p);
      for (int k = 2; k <= t - 1; k++) {
        Costs c = predict(Shape{.size_ratio = t, .runs_per_level = {k}}, p);
        INFO("T=" << t << " K=" << k);
        CHECK(c.write < prev.write);
        CHECK(c.point_miss_runs > prev.point_miss_runs);
        CHECK(c.point_hit_runs > prev.point_hit_runs);
        CHECK(c.seek_blocks > prev.seek_blocks);
        prev = c;
      }
    }
  }
}

TEST_CASE("weighted_cost weighs each operation's block I/Os") {
  Costs c;
  c.write_io = 0.5;
  c.point_hit_blocks = 1.1;
  c.point_miss_blocks = 0.1;
  c.seek_blocks = 3;
  WorkloadMix mix{.writes = 2, .point_hits = 1, .point_misses = 10, .seeks = 1};
  CHECK(weighted_cost(c, mix) == Approx(1 + 1.1 + 1 + 3));
}

TEST_CASE("policy_tree: leveling and tiering by hand") {
  // T = 4, one entry per flush, 16 flushes. Leveling: each fill cycle of a
  // level (4 arrivals) moves the first and rewrites 2, 3, 4 arrivals' worth.
  TreeParams p = unit_params(16);
  PolicyTree lev = policy_tree(Shape{.size_ratio = 4, .runs_per_level = {1}}, p);
  REQUIRE(lev.levels.size() == 3);
  CHECK(lev.levels[0].empty());
  CHECK(lev.levels[1].empty());
  CHECK(entries(lev.levels[2]) == std::vector<double>{16});
  CHECK(lev.flushed_entries == 16);
  CHECK(lev.compacted_entries == std::vector<double>{4 * 9, 1 * 9 * 4, 0});
  Costs lc = predict_policy(Shape{.size_ratio = 4, .runs_per_level = {1}}, p);
  CHECK(lc.write == Approx((16 + 72) / 16.0));
  CHECK(lc.runs == 1);
  CHECK(lc.point_hit_runs == Approx(1));

  // Tiering: the 4th arrival merges the level's 3 runs with it, once per level.
  PolicyTree tier = policy_tree(Shape{.size_ratio = 4, .runs_per_level = {3}}, p);
  CHECK(tier.compacted_entries == std::vector<double>{16, 16, 0});
  CHECK(entries(tier.levels.back()) == std::vector<double>{16});
}

TEST_CASE("policy_tree: K between leveling and tiering, partial cycles") {
  // T = 4, K = 2, 23 flushes of one entry, traced by hand:
  //  level 1 per cycle: move, move, merge 3, move → 3 written; ends with 2
  //  runs, so arrivals at level 2 are written (m = 1): 4 + 4 + merge 12 + 4.
  //  5 cycles + 3 flushes: level 1 = [3] (merged), level 2 = [4], level 3 = [16].
  Shape shape{.size_ratio = 4, .runs_per_level = {2}};
  TreeParams p = unit_params(23);
  PolicyTree t = policy_tree(shape, p);
  REQUIRE(t.levels.size() == 3);
  CHECK(entries(t.levels[0]) == std::vector<double>{3});
  CHECK(entries(t.levels[1]) == std::vector<double>{4});
  CHECK(entries(t.levels[2]) == std::vector<double>{16});
  CHECK(t.compacted_entries == std::vector<double>{18, 28, 16});
  CHECK(t.memtable_entries == 0);

  Costs c = policy_costs(shape, p, t);
  CHECK(c.write == Approx(85.0 / 23));
  CHECK(c.runs == 3);
  CHECK(c.point_miss_runs == Approx(3 * kP10));
  CHECK(c.point_hit_runs ==
        Approx(3.0 / 23 + 4.0 / 23 * (1 + kP10) + 16.0 / 23 * (1 + 2 * kP10)));
  CHECK(c.seek_blocks == 3);
}

TEST_CASE("policy_tree: unflushed entries and memtable vs on-disk entry size") {
  // 2.5 entries per flush in the memtable's accounting, runs 4x denser than
  // the memtable: level 1 (capacity 4 bytes = 16 entries) takes 7 flushes.
  TreeParams p = unit_params(40);
  p.entry_bytes = 0.25;
  p.memtable_entry_bytes = 0.4;
  Shape leveling{.size_ratio = 4, .runs_per_level = {1}};
  PolicyTree t = policy_tree(leveling, p);
  CHECK(t.flushes == 16);
  CHECK(t.memtable_entries == Approx(0));
  // 16 flushes = 2 cycles of 7 + 2 arrivals; level 2 holds 2 arrivals of 17.5.
  REQUIRE(t.levels.size() == 2);
  CHECK(entries(t.levels[0]) == std::vector<double>{5});
  CHECK(entries(t.levels[1]) == std::vector<double>{35});
  PolicyTree replayed = replay_policy({{leveling, 40}}, p);
  CHECK(entries(replayed) == entries(t));

  p.entries = 41;  // one entry left in the memtable
  CHECK(policy_tree(leveling, p).memtable_entries == Approx(1));
}

TEST_CASE("replay_policy agrees with policy_tree's fill cycles") {
  for (int t : {2, 3, 4, 8, 10}) {
    for (int k = 1; k <= t; k++) {
      for (double n : {1.0, 7.0, 99.0, 1000.0, 12345.0}) {
        for (double mem_bytes : {1.0, 2.7}) {
          Shape shape{.size_ratio = t, .runs_per_level = {k, std::max(1, k - 1)}};
          TreeParams p = unit_params(n);
          p.write_buffer_bytes = 3;
          p.memtable_entry_bytes = mem_bytes;
          p.entry_bytes_per_halving = mem_bytes > 1 ? 0.1 : 0;
          PolicyTree closed = policy_tree(shape, p);
          PolicyTree replayed = replay_policy({{shape, n}}, p);
          INFO("T=" << t << " K=" << k << " N=" << n << " mem=" << mem_bytes);
          REQUIRE(closed.levels.size() == replayed.levels.size());
          for (size_t i = 0; i < closed.levels.size(); i++) {
            REQUIRE(closed.levels[i].size() == replayed.levels[i].size());
            for (size_t j = 0; j < closed.levels[i].size(); j++)
              CHECK(closed.levels[i][j].entries == Approx(replayed.levels[i][j].entries));
            CHECK(closed.compacted_entries[i] == Approx(replayed.compacted_entries[i]));
            CHECK(closed.compacted_bytes[i] == Approx(replayed.compacted_bytes[i]));
          }
          CHECK(closed.memtable_entries == Approx(replayed.memtable_entries).margin(1e-9));
        }
      }
    }
  }
}

TEST_CASE("policy_tree: smaller runs take more bytes per entry") {
  // E(n) = 1 + 0.5·log2(64 / n). T = 4, leveling, 1-entry flushes (1 + 3 =
  // 4 bytes each): level 1 (4 bytes) fills at once with a flushed run, so
  // every flush passes through level 1 into level 2, as a trivial move.
  TreeParams p = unit_params(64);
  p.entry_bytes_per_halving = 0.5;
  CHECK(p.run_entry_bytes(64) == Approx(1));
  CHECK(p.run_entry_bytes(1) == Approx(4));
  CHECK(p.run_entry_bytes(16) == Approx(2));
  CHECK(p.run_entry_bytes(128) == Approx(1));  // no smaller than a run of all N
  Shape leveling{.size_ratio = 4, .runs_per_level = {1}};
  PolicyTree t = policy_tree(leveling, p);
  CHECK(t.flushed_bytes == Approx(64 * 4));
  CHECK(t.compacted_entries[0] == 0);
  // Level 2 (16 bytes): arrival j makes a run of j entries taking
  // j·(1 + 0.5·log2(64/j)) bytes: 4, 7, 9.6, 12, 14.2, 16.2 → full at 6
  // (at constant E = 1 it would take 16). 64 flushes = 10 cycles + 4.
  PolicyTree replayed = replay_policy({{leveling, 64}}, p);
  REQUIRE(t.levels.size() == replayed.levels.size());
  CHECK(entries(t) == entries(replayed));
  CHECK(entries(t.levels[1]) == std::vector<double>{4});
  CHECK(entries(t.levels[2]) == std::vector<double>{60});
  Costs c = policy_costs(leveling, p, t);
  CHECK(c.write_amplification == Approx(t.written_bytes() / 64));
}

TEST_CASE("replay_policy: runs keep the Bloom filter they were built with") {
  // Monkey, T = 4, leveling, one entry per flush. The 4th flush fills level
  // 1, whose run was merged while the tree had one level (10 bits/key), and
  // moves it to level 2 untouched. The 5th flush is built for a two-level
  // tree: level 1's share is more than 10 bits.
  TreeParams p = unit_params(0);
  p.allocation = BloomAllocation::kMonkey;
  Shape leveling{.size_ratio = 4, .runs_per_level = {1}};
  PolicyTree four = replay_policy({{leveling, 4}}, p);
  REQUIRE(four.levels.size() == 2);
  CHECK(four.levels[1][0].bits_per_key == Approx(10));
  PolicyTree five = replay_policy({{leveling, 5}}, p);
  double level1 = lsm4kv::engine::bloom_bits_per_level(leveling, 2, 10, BloomAllocation::kMonkey)[0];
  CHECK(level1 > 10);
  CHECK(five.levels[0][0].bits_per_key == Approx(level1));
  Costs c = policy_costs(leveling, p, five);
  CHECK(c.point_miss_runs == Approx(lsm4kv::engine::bloom_false_positive_rate(level1) + kP10));
}

TEST_CASE("replay_policy: tiering, then leveling applied lazily") {
  // T = 4, 6 flushes under K = 3: level 1 = [1, 1], level 2 = [4]. Under
  // K = 1 the 7th flush merges level 1's two runs with it (3); the 8th makes
  // 4, which fills level 1 and merges into level 2's run (8).
  TreeParams p = unit_params(0);
  Shape tiering{.size_ratio = 4, .runs_per_level = {3}};
  Shape leveling{.size_ratio = 4, .runs_per_level = {1}};
  PolicyTree before = replay_policy({{tiering, 6}}, p);
  CHECK(entries(before) == std::vector<std::vector<double>>{{1, 1}, {4}});
  PolicyTree t = replay_policy({{tiering, 6}, {leveling, 2}}, p);
  REQUIRE(t.levels.size() == 2);
  CHECK(t.levels[0].empty());
  CHECK(entries(t.levels[1]) == std::vector<double>{8});
  CHECK(t.compacted_entries == std::vector<double>{4 + 3 + 4, 8});
  Costs c = policy_costs(leveling, p, t);
  CHECK(c.write == Approx((8 + 11 + 8) / 8.0));
}

TEST_CASE("predict_policy: steady-state per-level writes") {
  // Deep trees of full cycles: per level (T+1)/2 − 1/T for leveling, 1 for
  // tiering; so tiering writes less, leveling reads less.
  for (int t : {2, 4, 8, 10}) {
    // N = T^5: levels 1..5 each complete whole fill cycles and end empty;
    // level 6 receives the one run of T^5 by a trivial move.
    TreeParams p = unit_params(std::pow(t, 5));
    Costs lev = predict_policy(Shape{.size_ratio = t, .runs_per_level = {1}}, p);
    Costs tier = predict_policy(Shape{.size_ratio = t, .runs_per_level = {t - 1}}, p);
    INFO("T=" << t);
    CHECK(lev.write == Approx(1 + 5 * ((t + 1) / 2.0 - 1.0 / t)));
    CHECK(tier.write == Approx(1 + 5));
    CHECK(lev.levels == 6);
    for (int k : {(t + 1) / 2, t - 1}) {
      p.entries = std::pow(t, 5) * 0.9;  // partly full levels
      Costs lo = predict_policy(Shape{.size_ratio = t, .runs_per_level = {1}}, p);
      Costs hi = predict_policy(Shape{.size_ratio = t, .runs_per_level = {k}}, p);
      if (k == 1) continue;
      CHECK(hi.write < lo.write);
      CHECK(hi.seek_blocks > lo.seek_blocks);
      CHECK(hi.point_miss_runs > lo.point_miss_runs);
    }
  }
}

TEST_CASE("predict: level 1 charged for the flushes it absorbs") {
  // Memtable entries 4× the size of run entries: level 1 takes a_1 = 4T = 40
  // flushes. Leveling: 1 + (40−1+1)/2 + 5 + 5 = 31; tiering (K = 9):
  // 1 + (40−1+9)/18 + 1 + 1.
  TreeParams p = unit_params(1110);
  p.memtable_entry_bytes = 4;
  CHECK(predict({10, {1}}, p).write == Approx(16));  // off by default
  p.level1_absorbs_flushes = true;
  CHECK(predict({10, {1}}, p).write == Approx(31));
  CHECK(predict({10, {9}}, p).write == Approx(3 + 48.0 / 18));
  CHECK(predict({10, {9, 1}}, p).write == Approx(1 + 48.0 / 18 + 5 + 5));
  // Lookups are not affected.
  CHECK(predict({10, {1}}, p).point_miss_runs == Approx(3 * kP10));
}
