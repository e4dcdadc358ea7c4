// The cost of our engine's exact merge policy, for comparison with what the
// engine measures. cost_model.h gives the literature's smooth closed forms;
// this file follows the engine's rules and a given N, so it also captures
// trivial moves, a partly full last level and the runs a level holds at the
// moment the load ends.
//
// The rules are the engine's own: a PolicySimulator (policy_simulator.h)
// holds the modelled tree as level summaries and asks
// engine::plan_compaction for each task (compaction_planner.h states the
// policy), so nothing here restates capacities or merge conditions. A flush
// of M memtable bytes (M / TreeParams::memtable_bytes() entries) becomes a
// level-0 run, and after each flush the planner's tasks are applied until it
// has none.
//
// replay_policy() does exactly that, flush by flush, and also covers a
// shape that changes during the load, applied lazily as in SGLang-LSM
// appendix C (a phase's shape is first seen by the planner at the phase's
// first flush). It gives every run the Bloom filter the engine builds: bits
// for its output level under the allocation for the depth the tree had when
// the run was written (a flushed run: level 1's share), kept through trivial
// moves.
//
// policy_tree() gets the same tree for a fixed shape at a cost independent
// of N. Under the planner's current rules a level fills in cycles: it starts
// empty, receives arrivals (the flushed run, or everything the level above
// held when full) until the planner sends all of its runs down, and is empty
// again. Every cycle of a level sees the same arrivals, so one simulated
// cycle per level (a_i arrivals, writing w_i) stands for all
// ⌊A_i / a_i⌋ full ones, and the remaining A_i mod a_i arrivals are
// simulated to give the runs the level holds at the end (A_1 = flushes,
// A_{i+1} = full cycles of level i). For constant E this gives
// per-level writes per entry of
//   leveling (K=1):       (T+1)/2 − 1/T   (the first arrival is moved,
//                          arrival j of T rewrites j arrivals' worth)
//   tiering  (K=T−1):     1               (one merge of all T runs)
// and, at level 1, a_1 ≈ T·(memtable bytes / E) ≫ T arrivals: a memtable
// charges several times more bytes per entry than a sorted run, so level 1
// absorbs many flushes, which the literature's model (a_1 = T) does not see.
// Each level's cycle is simulated by the same planner, and a test checks
// that policy_tree() and replay_policy() agree: a rule that broke the cycle
// argument (say, a partial compaction that leaves runs behind) fails it.
// The closed forms of cost_model.h are checked against replay_policy() in
// test/tuner/policy_simulation_test.cc.
//
// Lookups are then evaluated on that final set of runs (probed newest
// first: level 1's newest run ... level L's oldest), with Bloom filter
// false-positive rates p_i per level from cost_model.h:
//   zero-result lookup:  Σ_runs p_level(run)                  runs probed
//   lookup that finds:   Σ_runs (n_run/N)·(1 + Σ_{earlier runs} p)
//                        (keys still in the memtable cost nothing)
//   seek:                one block per run
// One block is read per probed run (fence pointers are in memory).
//
// Thread-safety: pure functions.
#pragma once

#include <vector>

#include "engine/options.h"
#include "tuner/cost_model.h"
#include "tuner/policy_simulator.h"

namespace lsm4kv::tuner {

// The runs of a tree after a load, and what the load wrote.
struct PolicyTree {
  // Disk levels 1..L (index 0 = level 1), newest run first.
  std::vector<std::vector<ModelRun>> levels;
  double memtable_entries = 0;   // put but not yet flushed
  double flushes = 0;
  double flushed_entries = 0;    // entries written by flushes
  double flushed_bytes = 0;
  // Written by compactions, by output level (index 0 = level 1).
  std::vector<double> compacted_entries;
  std::vector<double> compacted_bytes;
  int num_levels() const;        // deepest level holding a run
  double disk_entries() const;
  double runs() const;
  double written_entries() const;  // flushes + compactions
  double written_bytes() const;
};

// The tree after loading params.entries distinct keys under shape, by the
// fill cycles above, under `planner`'s rules.
// REQUIRES: shape.size_ratio >= 2, every K >= 1.
PolicyTree policy_tree(const engine::Shape& shape, const TreeParams& params,
                       const Planner& planner = engine::plan_compaction);

// One phase of a load: `entries` puts under `shape`.
struct LoadPhase {
  engine::Shape shape;
  double entries = 0;
};
// The tree after the phases, applying the policy flush by flush. The phases
// say how many entries are put; params.entries only serves as the N of
// TreeParams::run_entry_bytes (set it to the phases' total).
PolicyTree replay_policy(const std::vector<LoadPhase>& phases, const TreeParams& params,
                         const Planner& planner = engine::plan_compaction);

// Costs of lookups and seeks on `tree` (filters per shape and params) and of
// the writes that built it.
Costs policy_costs(const engine::Shape& shape, const TreeParams& params, const PolicyTree& tree);

// policy_costs(shape, params, policy_tree(shape, params)).
Costs predict_policy(const engine::Shape& shape, const TreeParams& params);

}  // namespace lsm4kv::tuner
