#include "tuner/optimizer.h"

#include <algorithm>

#include "tuner/monitor.h"

namespace lsm4kv::tuner {

namespace {

// Relative margin under which two costs count as equal (ties keep the
// earlier, i.e. preferred, candidate).
constexpr double kTie = 1e-9;
constexpr int kDescentPasses = 3;

bool cheaper(double a, double b) { return a < b - kTie * std::max(1.0, b); }

int max_runs_for(int size_ratio, const SearchSpace& search) {
  int k = size_ratio - 1;
  if (search.max_runs > 0) k = std::min(k, search.max_runs);
  return std::max(k, 1);
}

struct Candidate {
  engine::Shape shape;
  double cost = 0;
};

// The best shape with this T: best uniform K, then per-level descent.
Candidate best_for_ratio(int t, const TreeParams& tree, const WorkloadMix& mix,
                         const SearchSpace& search) {
  int levels = num_levels(tree.entries, tree.entry_bytes, tree.write_buffer_bytes, t);
  int kmax = max_runs_for(t, search);
  Candidate best{{t, std::vector<int>(size_t(levels), 1)}, 0};
  best.cost = shape_cost(best.shape, tree, mix);
  for (int k = 2; k <= kmax; k++) {
    engine::Shape s{t, std::vector<int>(size_t(levels), k)};
    double c = shape_cost(s, tree, mix);
    if (cheaper(c, best.cost)) best = {s, c};
  }
  if (!search.per_level_runs || levels == 1) return best;
  for (int pass = 0; pass < kDescentPasses; pass++) {
    bool improved = false;
    for (int i = 0; i < levels; i++) {
      for (int k = 1; k <= kmax; k++) {
        if (k == best.shape.runs_per_level[size_t(i)]) continue;
        engine::Shape s = best.shape;
        s.runs_per_level[size_t(i)] = k;
        double c = shape_cost(s, tree, mix);
        if (cheaper(c, best.cost)) {
          best = {s, c};
          improved = true;
        }
      }
    }
    if (!improved) break;
  }
  return best;
}

}  // namespace

engine::Shape canonical_shape(const engine::Shape& shape, int levels) {
  engine::Shape c{shape.size_ratio, {}};
  for (int i = 1; i <= std::max(levels, 1); i++) c.runs_per_level.push_back(shape.runs_at(i));
  while (c.runs_per_level.size() > 1 &&
         c.runs_per_level.back() == c.runs_per_level[c.runs_per_level.size() - 2])
    c.runs_per_level.pop_back();
  return c;
}

bool same_shape(const engine::Shape& a, const engine::Shape& b, int levels) {
  if (a.size_ratio != b.size_ratio) return false;
  for (int i = 1; i <= std::max(levels, 1); i++)
    if (a.runs_at(i) != b.runs_at(i)) return false;
  return true;
}

double shape_cost(const engine::Shape& shape, const TreeParams& tree, const WorkloadMix& mix) {
  return weighted_cost(predict(shape, tree), normalized(mix));
}

Proposal optimize(const WorkloadMix& mix, const TreeParams& tree, const engine::Shape& current,
                  const OptimizerOptions& options) {
  const SearchSpace& search = options.search;
  Proposal p;
  int current_levels = num_levels(current, tree);
  p.current_cost = shape_cost(current, tree, mix);
  // The current shape is the first candidate, so it wins ties.
  Candidate best{canonical_shape(current, current_levels), p.current_cost};
  for (int t = std::max(2, search.min_size_ratio); t <= std::max(2, search.max_size_ratio); t++) {
    Candidate c = best_for_ratio(t, tree, mix, search);
    if (cheaper(c.cost, best.cost)) best = c;
  }
  int levels = num_levels(best.shape, tree);
  p.best = canonical_shape(best.shape, levels);
  p.best_cost = best.cost;
  p.gain = p.current_cost > 0 ? (p.current_cost - p.best_cost) / p.current_cost : 0;
  p.change = !same_shape(p.best, current, std::max(levels, current_levels)) &&
             p.gain >= options.min_gain && p.gain > 0;
  return p;
}

}  // namespace lsm4kv::tuner
