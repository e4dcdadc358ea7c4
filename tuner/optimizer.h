// The optimizer: given the workload mix of the current window, the size of
// the tree and its current shape, the shape (T, K of each level) with the
// lowest modelled cost w·W + r·R + z·Z + s·S (tuner/cost_model.h, in block
// I/Os per operation), and whether moving to it is worth it.
//
// Search. For every T in [min_size_ratio, max_size_ratio] the tree has
// L(T) levels; K ranges over [1, min(T−1, max_runs)] on each of them. The
// best uniform K is found first, then each level's K is improved in turn
// (coordinate descent, a few passes) — with uniform Bloom filters the cost is
// a sum of per-level terms and this finds the optimum; Monkey's allocation
// couples the levels only weakly. Level i's K trades its write term
// (T−1+K)/(2K) (falls with K) for K·p_i runs probed and K runs sought (rise
// with K), so more writes in the mix never lower a level's K and more lookups
// never raise it.
//
// Hysteresis. The best shape is proposed only when it is predicted to cost
// at least min_gain (a fraction) less than the current shape under the same
// mix, so that small swings of the mix or model noise do not make the tree
// flap between shapes. Ties go to the current shape, then to smaller T and K.
//
// Thread-safety: pure functions.
#pragma once

#include "engine/options.h"
#include "tuner/cost_model.h"

namespace lsm4kv::tuner {

// The shapes the optimizer may choose from.
struct SearchSpace {
  int min_size_ratio = 2;
  int max_size_ratio = 16;
  int max_runs = 0;            // largest K on any level; 0 = T−1 (tiering)
  bool per_level_runs = true;  // false: one K for every level
};

struct OptimizerOptions {
  SearchSpace search;
  double min_gain = 0.05;  // hysteresis: relative cost saving needed to move
};

struct Proposal {
  engine::Shape best;          // the cheapest shape found (canonical)
  double best_cost = 0;        // its cost, block I/Os per operation of the mix
  double current_cost = 0;     // the current shape's cost under the same mix
  double gain = 0;             // (current_cost − best_cost) / current_cost
  bool change = false;         // best differs from current and gain >= min_gain
};

// The shape as the optimizer writes it: K for levels 1..levels (no more), and
// trailing repeats dropped (runs_at() gives the last value to deeper levels).
engine::Shape canonical_shape(const engine::Shape& shape, int levels);
// Same T and the same K on levels 1..levels.
bool same_shape(const engine::Shape& a, const engine::Shape& b, int levels);

// The modelled cost of shape under mix (fractions or counts: the result is
// per operation of the normalized mix). 0 for an empty mix.
double shape_cost(const engine::Shape& shape, const TreeParams& tree, const WorkloadMix& mix);

// REQUIRES: 2 <= search.min_size_ratio <= search.max_size_ratio.
Proposal optimize(const WorkloadMix& mix, const TreeParams& tree, const engine::Shape& current,
                  const OptimizerOptions& options);

}  // namespace lsm4kv::tuner
