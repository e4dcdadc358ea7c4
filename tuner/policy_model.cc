#include "tuner/policy_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/counters.h"

namespace lsm4kv::tuner {
namespace {

// Relative slack for "level bytes >= capacity" on sums of equal doubles.
constexpr double kSlack = 1e-9;

// Entries one flush moves to level 1.
double flush_entries(const TreeParams& params) {
  return std::max(1.0, params.write_buffer_bytes / params.memtable_bytes());
}

// Level i's capacity M·T^i, in entries.
double capacity_entries(const engine::Shape& shape, const TreeParams& params, int level) {
  return params.write_buffer_bytes * std::pow(shape.size_ratio, level) / params.entry_bytes;
}

// Entries written (in units of one arrival) by the first n arrivals of a
// fill cycle with k runs allowed; arrivals that do not merge cost `moved`
// (1 when written, 0 when trivially moved). See the derivation in the header.
double cycle_writes(double n, int k, double moved) {
  if (n < 1) return 0;
  double q = std::floor((n - 1) / k);
  return k * q * (q + 1) / 2 + q + moved * (n - q);
}

// Runs, newest first, left by the first p arrivals (each of u entries) of a
// fill cycle with k runs allowed.
std::vector<double> cycle_runs(double p, int k, double u) {
  std::vector<double> runs;
  if (p < 1) return runs;
  double q = std::floor((p - 1) / k);
  double singles = q > 0 ? p - q * k - 1 : p;
  for (double s = 0; s < singles; s++) runs.push_back(u);
  if (q > 0) runs.push_back((q * k + 1) * u);
  return runs;
}

}  // namespace

int PolicyTree::num_levels() const {
  int deepest = 0;
  for (size_t i = 0; i < levels.size(); i++)
    if (!levels[i].empty()) deepest = int(i) + 1;
  return deepest;
}

double PolicyTree::disk_entries() const {
  double n = 0;
  for (const auto& level : levels) n += std::accumulate(level.begin(), level.end(), 0.0);
  return n;
}

double PolicyTree::runs() const {
  double n = 0;
  for (const auto& level : levels) n += double(level.size());
  return n;
}

double PolicyTree::written_entries() const {
  return flushed_entries +
         std::accumulate(compacted_entries.begin(), compacted_entries.end(), 0.0);
}

PolicyTree policy_tree(const engine::Shape& shape, const TreeParams& params) {
  PolicyTree tree;
  double f = flush_entries(params);
  tree.flushes = std::floor(params.entries / f * (1 + kSlack));
  tree.flushed_entries = tree.flushes * f;
  tree.memtable_entries = std::max(0.0, params.entries - tree.flushed_entries);

  double arrivals = tree.flushes;  // A_i
  double u = f;                    // u_i
  double moved = 0;                // m_i: level 0 hands down a single run
  for (int level = 1; arrivals >= 1 && level < engine::kMaxLevels; level++) {
    int k = shape.runs_at(level);
    double a = std::max(1.0, std::ceil(capacity_entries(shape, params, level) / u * (1 - kSlack)));
    double cycles = std::floor(arrivals / a);
    double partial = arrivals - cycles * a;
    tree.compacted_entries.push_back(
        u * (cycles * cycle_writes(a, k, moved) + cycle_writes(partial, k, moved)));
    tree.levels.push_back(cycle_runs(partial, k, u));
    double end_runs = std::fmod(a - 1, k) + 1;
    moved = end_runs > 1 ? 1 : 0;
    arrivals = cycles;
    u *= a;
  }
  return tree;
}

PolicyTree replay_policy(const std::vector<LoadPhase>& phases, const TreeParams& params) {
  PolicyTree tree;
  double f = flush_entries(params);
  auto& levels = tree.levels;
  auto grow = [&](size_t n) {
    if (levels.size() < n) levels.resize(n);
    if (tree.compacted_entries.size() < n) tree.compacted_entries.resize(n, 0.0);
  };
  auto level_entries = [&](size_t i) {
    return std::accumulate(levels[i].begin(), levels[i].end(), 0.0);
  };
  // Moves `inputs` (runs leaving the level above, or the flushed run) into
  // level index i (= level i+1) under shape, merging as the policy says.
  auto arrive = [&](const engine::Shape& shape, size_t i, std::vector<double> inputs) {
    grow(i + 1);
    double sum = std::accumulate(inputs.begin(), inputs.end(), 0.0);
    bool merge = int(levels[i].size()) + 1 > shape.runs_at(int(i) + 1);
    if (merge) {
      sum += level_entries(i);
      levels[i].clear();
    }
    if (merge || inputs.size() > 1) tree.compacted_entries[i] += sum;
    levels[i].insert(levels[i].begin(), sum);
  };

  double pending = 0;  // entries in the memtable
  for (const LoadPhase& phase : phases) {
    pending += phase.entries;
    while (pending >= f * (1 - kSlack)) {
      pending -= f;
      tree.flushes += 1;
      tree.flushed_entries += f;
      arrive(phase.shape, 0, {f});
      for (size_t i = 0; i < levels.size(); i++) {
        double cap = capacity_entries(phase.shape, params, int(i) + 1);
        if (levels[i].empty() || level_entries(i) < cap * (1 - kSlack)) continue;
        std::vector<double> inputs;
        inputs.swap(levels[i]);
        arrive(phase.shape, i + 1, std::move(inputs));
      }
    }
  }
  tree.memtable_entries = std::max(0.0, pending);
  // Trailing empty levels are not part of the tree.
  while (!levels.empty() && levels.back().empty()) levels.pop_back();
  tree.compacted_entries.resize(levels.size());
  return tree;
}

Costs policy_costs(const engine::Shape& shape, const TreeParams& params, const PolicyTree& tree) {
  Costs c;
  c.levels = tree.num_levels();
  c.runs = tree.runs();
  std::vector<double> p = level_false_positive_rates(shape, c.levels, params);
  double total = tree.disk_entries() + tree.memtable_entries;
  double earlier_fp = 0;  // Σ p over the runs probed before the current one
  for (int i = 0; i < c.levels; i++) {
    for (double n : tree.levels[size_t(i)]) {
      if (total > 0) c.point_hit_runs += n / total * (1 + earlier_fp);
      earlier_fp += p[size_t(i)];
    }
  }
  c.point_miss_runs = earlier_fp;
  c.write = total > 0 ? tree.written_entries() / total : 0;  // keys are distinct
  c.write_io = c.write / params.entries_per_block();
  c.write_amplification = c.write * params.entry_bytes / params.user_bytes();
  c.point_hit_blocks = c.point_hit_runs;
  c.point_miss_blocks = c.point_miss_runs;
  c.seek_blocks = c.runs;
  c.bloom_fpr = c.runs > 0 ? c.point_miss_runs / c.runs : 0;
  return c;
}

Costs predict_policy(const engine::Shape& shape, const TreeParams& params) {
  return policy_costs(shape, params, policy_tree(shape, params));
}

}  // namespace lsm4kv::tuner
