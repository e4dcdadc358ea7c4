// Bloom filter bits per key for each level of the tree.
//
// Uniform: every level gets the same bits per key. Monkey (Dayan, Athanassoulis,
// Idreos, "Monkey: Optimal Navigable Key-Value Store", SIGMOD 2017): the same
// total memory, spread so that the expected number of runs a zero-result
// lookup probes in vain, sum_i K_i·p_i, is minimal. With p_i = exp(-b_i·ln²2)
// the Lagrangian gives p_i ∝ n_i / K_i (n_i = entries in level i): smaller
// levels get more bits, and a level whose optimal p_i reaches 1 gets none.
#pragma once

#include <vector>

#include "engine/options.h"

namespace lsm4kv::engine {

// The theoretical false-positive rate of a Bloom filter with b bits per key
// and the optimal number of probes: exp(-b·ln²2).
double bloom_false_positive_rate(double bits_per_key);

// Bits per key for disk levels 1..num_levels (index 0 = level 1) under
// `allocation`, for a tree of that many levels whose level i holds entries in
// proportion to T^i and whose K comes from shape. The weighted mean over
// levels equals avg_bits_per_key.
std::vector<double> bloom_bits_per_level(const Shape& shape, int num_levels,
                                         double avg_bits_per_key, BloomAllocation allocation);

}  // namespace lsm4kv::engine
