#include "tuner/policy_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/bloom_allocation.h"
#include "engine/counters.h"

namespace lsm4kv::tuner {
namespace {

// Relative slack for "level bytes >= capacity" on sums of equal doubles.
constexpr double kSlack = 1e-9;
// A fill cycle longer than this means a capacity the arrivals cannot reach.
constexpr int kMaxCycle = 1 << 20;

using Runs = std::vector<ModelRun>;

// Entries one flush moves to level 1.
double flush_entries(const TreeParams& params) {
  return std::max(1.0, params.write_buffer_bytes / params.memtable_bytes());
}

// Level i's capacity M·T^i, in bytes.
double capacity_bytes(const engine::Shape& shape, const TreeParams& params, int level) {
  return params.write_buffer_bytes * std::pow(shape.size_ratio, level);
}

ModelRun make_run(const TreeParams& params, double entries, double bits_per_key) {
  return {entries, entries * params.run_entry_bytes(entries), bits_per_key};
}

double sum_entries(const Runs& runs) {
  double n = 0;
  for (const ModelRun& r : runs) n += r.entries;
  return n;
}

double sum_bytes(const Runs& runs) {
  double b = 0;
  for (const ModelRun& r : runs) b += r.bytes;
  return b;
}

// A level during a fill cycle: its runs and what the arrivals so far wrote.
struct CycleState {
  Runs runs;  // newest first
  double arrivals = 0;
  double written_entries = 0;
  double written_bytes = 0;
  bool full = false;  // the level reached its capacity (the cycle is over)
};

// One arrival at a level with k runs allowed: the `inputs` (a flushed run,
// or every run of the level above) are merged with the level's runs when it
// already holds k; else they become one new run, written only when there are
// several of them (one run alone is moved, keeping its file). A written run
// gets a filter of `bits` bits per key.
void arrive(const TreeParams& params, Runs inputs, int k, double bits, CycleState* c) {
  c->arrivals += 1;
  ModelRun out;
  if (int(c->runs.size()) + 1 > k) {
    out = make_run(params, sum_entries(inputs) + sum_entries(c->runs), bits);
    c->runs.clear();
  } else if (inputs.size() == 1) {
    c->runs.insert(c->runs.begin(), inputs[0]);
    return;
  } else {
    out = make_run(params, sum_entries(inputs), bits);
  }
  c->written_entries += out.entries;
  c->written_bytes += out.bytes;
  c->runs.insert(c->runs.begin(), out);
}

// Walks a fill cycle of a level from empty: arrivals of u entries (one run
// each, or `parts` runs to be combined) until the level holds cap bytes or
// `limit` arrivals were made.
CycleState walk_cycle(const TreeParams& params, double u, int parts, int k, double cap,
                      double limit) {
  CycleState c;
  Runs inputs(size_t(std::max(parts, 1)), make_run(params, u / std::max(parts, 1), -1));
  if (parts <= 1) inputs = {make_run(params, u, -1)};
  while (c.arrivals < limit && c.arrivals < kMaxCycle) {
    arrive(params, inputs, k, -1, &c);
    if (sum_bytes(c.runs) >= cap * (1 - kSlack)) {
      c.full = true;
      break;
    }
  }
  return c;
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
  for (const auto& level : levels) n += sum_entries(level);
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

double PolicyTree::written_bytes() const {
  return flushed_bytes + std::accumulate(compacted_bytes.begin(), compacted_bytes.end(), 0.0);
}

PolicyTree policy_tree(const engine::Shape& shape, const TreeParams& params) {
  PolicyTree tree;
  double f = flush_entries(params);
  tree.flushes = std::floor(params.entries / f * (1 + kSlack));
  tree.flushed_entries = tree.flushes * f;
  tree.flushed_bytes = tree.flushes * make_run(params, f, -1).bytes;
  tree.memtable_entries = std::max(0.0, params.entries - tree.flushed_entries);

  double arrivals = tree.flushes;  // A_i
  double u = f;                    // u_i
  int parts = 1;                   // runs per arrival: level 0 hands down one
  for (int level = 1; arrivals >= 1 && level < engine::kMaxLevels; level++) {
    int k = shape.runs_at(level);
    double cap = capacity_bytes(shape, params, level);
    CycleState cycle = walk_cycle(params, u, parts, k, cap, kMaxCycle);
    double a = cycle.arrivals;  // a_i
    double cycles = cycle.full ? std::floor(arrivals / a) : 0;
    CycleState partial = walk_cycle(params, u, parts, k, cap, arrivals - cycles * a);
    tree.compacted_entries.push_back(cycles * cycle.written_entries + partial.written_entries);
    tree.compacted_bytes.push_back(cycles * cycle.written_bytes + partial.written_bytes);
    tree.levels.push_back(partial.full ? Runs{} : partial.runs);
    parts = int(cycle.runs.size());
    arrivals = cycles;
    u *= a;
  }
  return tree;
}

PolicyTree replay_policy(const std::vector<LoadPhase>& phases, const TreeParams& params) {
  PolicyTree tree;
  double f = flush_entries(params);
  auto& levels = tree.levels;
  // Bits per key the engine gives a run written into `level` now.
  auto bits_for = [&](const engine::Shape& shape, int level) {
    if (!params.bits_per_level.empty())
      return params.bits_per_level[std::min(size_t(level - 1), params.bits_per_level.size() - 1)];
    int depth = std::max(tree.num_levels(), level);
    return engine::bloom_bits_per_level(shape, depth, params.bloom_bits_per_key,
                                        params.allocation)[size_t(level - 1)];
  };
  // Moves `inputs` (the runs leaving the level above, or the flushed run)
  // into level index i (= level i+1) under shape.
  auto move_down = [&](const engine::Shape& shape, size_t i, Runs inputs) {
    double bits = bits_for(shape, int(i) + 1);
    if (levels.size() < i + 1) {
      levels.resize(i + 1);
      tree.compacted_entries.resize(i + 1, 0.0);
      tree.compacted_bytes.resize(i + 1, 0.0);
    }
    CycleState c;
    c.runs.swap(levels[i]);
    arrive(params, std::move(inputs), shape.runs_at(int(i) + 1), bits, &c);
    tree.compacted_entries[i] += c.written_entries;
    tree.compacted_bytes[i] += c.written_bytes;
    levels[i].swap(c.runs);
  };

  double pending = 0;  // entries in the memtable
  for (const LoadPhase& phase : phases) {
    pending += phase.entries;
    while (pending >= f * (1 - kSlack)) {
      pending -= f;
      ModelRun flushed = make_run(params, f, bits_for(phase.shape, 1));
      tree.flushes += 1;
      tree.flushed_entries += flushed.entries;
      tree.flushed_bytes += flushed.bytes;
      move_down(phase.shape, 0, {flushed});
      for (size_t i = 0; i < levels.size(); i++) {
        double cap = capacity_bytes(phase.shape, params, int(i) + 1);
        if (levels[i].empty() || sum_bytes(levels[i]) < cap * (1 - kSlack)) continue;
        Runs inputs;
        inputs.swap(levels[i]);
        move_down(phase.shape, i + 1, std::move(inputs));
      }
    }
  }
  tree.memtable_entries = std::max(0.0, pending);
  // Trailing empty levels are not part of the tree.
  while (!levels.empty() && levels.back().empty()) levels.pop_back();
  tree.compacted_entries.resize(levels.size());
  tree.compacted_bytes.resize(levels.size());
  return tree;
}

Costs policy_costs(const engine::Shape& shape, const TreeParams& params, const PolicyTree& tree) {
  Costs c;
  c.levels = tree.num_levels();
  c.runs = tree.runs();
  std::vector<double> p = level_false_positive_rates(shape, c.levels, params);
  double total = tree.disk_entries() + tree.memtable_entries;  // keys are distinct
  double earlier_fp = 0;  // Σ p over the runs probed before the current one
  for (int i = 0; i < c.levels; i++) {
    for (const ModelRun& run : tree.levels[size_t(i)]) {
      if (total > 0) c.point_hit_runs += run.entries / total * (1 + earlier_fp);
      earlier_fp += run.bits_per_key < 0 ? p[size_t(i)]
                                         : engine::bloom_false_positive_rate(run.bits_per_key);
    }
  }
  c.point_miss_runs = earlier_fp;
  c.write = total > 0 ? tree.written_entries() / total : 0;
  c.write_io = c.write / params.entries_per_block();
  c.write_amplification = total > 0 ? tree.written_bytes() / (total * params.user_bytes()) : 0;
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
