// The cost of our engine's exact merge policy, for comparison with what the
// engine measures. cost_model.h gives the literature's smooth closed forms;
// this file follows the engine's rules (engine/db.h, engine/options.h) and a
// given N, so it also captures trivial moves, a partly full last level and
// the runs a level holds at the moment the load ends.
//
// The policy. A memtable of M bytes becomes one level-0 run, which goes to
// level 1 at once. An arrival at disk level i (the level-0 run, or all runs
// of level i−1 when that level reached its capacity M·T^(i−1)) is merged with
// every run of level i when level i already holds K_i runs (runs + 1 > K_i);
// otherwise it becomes one more run of level i — moved without a rewrite
// when it is a single run ("trivial move"), written once when several runs
// of level i−1 had to be combined. After each arrival, a level holding at
// least M·T^i bytes sends all its runs on to level i+1.
//
// Derivation (closed form). Let E be the bytes of an entry in a run and
// F = M / (memtable bytes per entry) the entries of one flush. Every arrival
// at level i has the same size u_i (u_1 = F), so level i fills after
//   a_i = ⌈M·T^i / (E·u_i)⌉ arrivals, and u_{i+1} = a_i·u_i.
// Within one fill cycle of a arrivals with K runs allowed, arrival j merges
// exactly when j ∈ {K+1, 2K+1, ...}: the first K arrivals make K runs, the
// next one merges them all into one run, K−1 more arrivals add runs, and so
// on. Merge j rewrites the j·u entries then in the level. With
// q = ⌊(a−1)/K⌋ merges, the entries written per cycle are
//   u·[ K·q(q+1)/2 + q + m·(a − q) ]
// where m = 1 when arrivals are written (the level above ends its cycle with
// more than one run, i.e. ((a_{i−1}−1) mod K_{i−1}) + 1 > 1) and 0 when they
// are trivially moved (always 0 at level 1: level 0 hands down one run).
// Per entry that reaches level i the cycle costs
//   leveling (K=1, a=T, m=0):  (T+1)/2 − 1/T   (the first arrival is moved,
//                               arrival j of T rewrites j runs' worth)
//   tiering  (K=T−1, a=T):     1               (one merge of all T runs)
// and between, e.g. T=4, K=2: 3/4 at level 1 (which ends with 2 runs) and
// then 6/4 at each deeper level (arrivals written, plus the merge).
// Level 1 is special in practice: a memtable charges several times more
// bytes per entry than a sorted run (whole keys and skip-list nodes against
// prefix-compressed keys), so a_1 ≈ T·(memtable bytes / E) ≫ T and level 1
// absorbs many flushes; under leveling its (a_1+1)/2 rewrites dominate W,
// which the literature's model (a_1 = T) does not see.
// With n_f = ⌊N/F⌋ flushes, level 1 receives A_1 = n_f arrivals and level
// i+1 receives A_{i+1} = ⌊A_i / a_i⌋; level i has done ⌊A_i/a_i⌋ full cycles
// and holds the partial cycle of p_i = A_i mod a_i arrivals, whose writes
// follow the same count with a = p_i. Those p_i arrivals form, newest first,
// p_i − q'·K − 1 single-arrival runs and, if q' = ⌊(p_i−1)/K⌋ > 0, one
// merged run of (q'·K+1)·u_i entries (all p_i runs of u_i when q' = 0).
//
// When runs of different sizes take different bytes per entry
// (TreeParams::entry_bytes_per_halving), arrivals still have equal entries
// u_i but a level's bytes depend on how its runs were merged; a_i and the
// bytes written are then found by walking one fill cycle of each level
// (a_i steps), which keeps the cost independent of N. With constant E the
// walk gives exactly the sums above.
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
// replay_policy() applies the same rules flush by flush instead; it agrees
// with the closed form (tested) and also covers a shape that changes during
// the load, applied lazily as in SGLang-LSM appendix C: a smaller K is
// honoured at the next arrival into the level, a larger K lets runs stay.
// It also gives every run the Bloom filter the engine builds: bits for its
// output level under the allocation for the depth the tree had when the run
// was written (a flushed run: level 1's share), kept through trivial moves;
// the closed form gives each level its share at the final depth.
//
// Thread-safety: pure functions.
#pragma once

#include <vector>

#include "engine/options.h"
#include "tuner/cost_model.h"

namespace lsm4kv::tuner {

// A sorted run of the modelled tree.
struct ModelRun {
  double entries = 0;
  double bytes = 0;          // on disk
  double bits_per_key = -1;  // of its Bloom filter; < 0: its level's share
                             // of params.bloom_bits_per_key at the final depth
  bool operator==(const ModelRun&) const = default;
};

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
// closed form above. REQUIRES: shape.size_ratio >= 2, every K >= 1.
PolicyTree policy_tree(const engine::Shape& shape, const TreeParams& params);

// One phase of a load: `entries` puts under `shape`.
struct LoadPhase {
  engine::Shape shape;
  double entries = 0;
};
// The tree after the phases, applying the policy flush by flush. The phases
// say how many entries are put; params.entries only serves as the N of
// TreeParams::run_entry_bytes (set it to the phases' total).
PolicyTree replay_policy(const std::vector<LoadPhase>& phases, const TreeParams& params);

// Costs of lookups and seeks on `tree` (filters per shape and params) and of
// the writes that built it.
Costs policy_costs(const engine::Shape& shape, const TreeParams& params, const PolicyTree& tree);

// policy_costs(shape, params, policy_tree(shape, params)).
Costs predict_policy(const engine::Shape& shape, const TreeParams& params);

}  // namespace lsm4kv::tuner
