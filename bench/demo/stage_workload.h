// The paper's 10-stage workload (SGLang-LSM, section 4.1), shared by the
// store demo (kvcache_demo, on tokens) and the peers benchmark (bench/peers,
// on page ids): each stage's requests reuse a target share of a stored
// prompt, drawn at random, and continue with fresh units.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <random>
#include <vector>

namespace lsm4kv::bench {

// The expected prefix hit rate of each stage.
inline constexpr std::array<double, 10> kStageTargets = {0.2, 0.3, 0.5, 0.7, 0.5, 0.3, 0.1, 0.3, 0.5, 0.7};

// One request of a stage with hit-rate target `target`: the first
// target · length units of a prompt drawn from history, then fresh units
// (fresh(n) returns n of them). The draws from rng are the prompt's index,
// then whatever fresh draws. REQUIRES: history is not empty.
template <class Unit, class Fresh>
std::vector<Unit> stage_request(const std::vector<std::vector<Unit>>& history, double target, size_t length,
                                std::mt19937_64& rng, Fresh&& fresh) {
  const auto& base = history[rng() % history.size()];
  size_t reuse = static_cast<size_t>(target * static_cast<double>(length));
  std::vector<Unit> p(base.begin(), base.begin() + static_cast<long>(std::min(reuse, base.size())));
  std::vector<Unit> tail = fresh(length - p.size());
  p.insert(p.end(), tail.begin(), tail.end());
  return p;
}

}  // namespace lsm4kv::bench
