#include "tuner/policy_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/bloom_allocation.h"
#include "engine/counters.h"

namespace lsm4kv::tuner {
namespace {

// Relative slack for "the memtable holds a flush's worth" on sums of doubles.
constexpr double kSlack = 1e-9;
// A fill cycle longer than this means a capacity the arrivals cannot reach.
constexpr double kMaxCycle = 1 << 20;
// Tasks after one flush; the engine's rules need at most one per level (a
// guard against a planner that never settles).
constexpr int kMaxTasksPerFlush = 4 * engine::kMaxLevels;

using Runs = std::vector<ModelRun>;

// Entries one flush moves to level 1.
double flush_entries(const TreeParams& params) {
  return std::max(1.0, params.write_buffer_bytes / params.memtable_bytes());
}

double sum_entries(const Runs& runs) {
  double n = 0;
  for (const ModelRun& r : runs) n += r.entries;
  return n;
}

// A level during a fill cycle: its runs and what the arrivals so far wrote.
struct CycleState {
  Runs runs;  // newest first
  double arrivals = 0;
  double written_entries = 0;
  double written_bytes = 0;
  bool full = false;  // the planner sends the level down (the cycle is over)
};

// Walks a fill cycle of `level` from empty: each arrival puts `inputs` in
// the level above and lets the planner bring them down, until the planner
// would send the level on or `limit` arrivals were made.
CycleState walk_cycle(const TreeParams& params, const Planner& planner, const engine::Shape& shape,
                      int level, const Runs& inputs, double limit) {
  PolicySimulator sim(params, planner);
  CycleState c;
  while (c.arrivals < std::min(limit, kMaxCycle)) {
    sim.add(level - 1, inputs);
    std::optional<engine::CompactionTask> task = sim.plan(shape);
    // Other rules than the arrival coming down break the cycle argument;
    // stop (replay_policy() is then the reference, and a test compares).
    if (!task || task->input_level != level - 1 || task->output_level != level) break;
    sim.apply(*task, -1);
    c.arrivals += 1;
    task = sim.plan(shape);
    if (task && task->input_level == level) {
      c.full = true;
      break;
    }
  }
  c.runs = sim.runs(level);
  c.written_entries = sim.written_entries(level);
  c.written_bytes = sim.written_bytes(level);
  return c;
}

// The disk levels of a settled simulation as a PolicyTree (trailing empty
// levels dropped).
void take_levels(const PolicySimulator& sim, PolicyTree* tree) {
  for (int level = 1; level <= sim.deepest_level(); level++) {
    tree->levels.push_back(sim.runs(level));
    tree->compacted_entries.push_back(sim.written_entries(level));
    tree->compacted_bytes.push_back(sim.written_bytes(level));
  }
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

PolicyTree policy_tree(const engine::Shape& shape, const TreeParams& params,
                       const Planner& planner) {
  PolicyTree tree;
  double f = flush_entries(params);
  tree.flushes = std::floor(params.entries / f * (1 + kSlack));
  tree.flushed_entries = tree.flushes * f;
  tree.flushed_bytes = tree.flushes * model_run(params, f, -1).bytes;
  tree.memtable_entries = std::max(0.0, params.entries - tree.flushed_entries);

  double arrivals = tree.flushes;           // A_i
  Runs inputs = {model_run(params, f, -1)};  // one arrival: level 0 hands down a flush
  for (int level = 1; arrivals >= 1 && level < engine::kMaxLevels; level++) {
    CycleState cycle = walk_cycle(params, planner, shape, level, inputs, arrivals);
    double cycles = cycle.full ? std::floor(arrivals / cycle.arrivals) : 0;
    CycleState partial = cycle.full ? walk_cycle(params, planner, shape, level, inputs,
                                                 arrivals - cycles * cycle.arrivals)
                                    : cycle;
    tree.compacted_entries.push_back(cycles * cycle.written_entries + partial.written_entries);
    tree.compacted_bytes.push_back(cycles * cycle.written_bytes + partial.written_bytes);
    tree.levels.push_back(partial.full ? Runs{} : partial.runs);
    inputs = cycle.runs;
    arrivals = cycles;
  }
  return tree;
}

PolicyTree replay_policy(const std::vector<LoadPhase>& phases, const TreeParams& params,
                         const Planner& planner) {
  PolicyTree tree;
  PolicySimulator sim(params, planner);
  double f = flush_entries(params);
  // Bits per key the engine gives a run written into `level` now.
  auto bits_for = [&](const engine::Shape& shape, int level) {
    if (!params.bits_per_level.empty())
      return params.bits_per_level[std::min(size_t(level - 1), params.bits_per_level.size() - 1)];
    int depth = std::max(sim.deepest_level(), level);
    return engine::bloom_bits_per_level(shape, depth, params.bloom_bits_per_key,
                                        params.allocation)[size_t(level - 1)];
  };

  double pending = 0;  // entries in the memtable
  for (const LoadPhase& phase : phases) {
    pending += phase.entries;
    while (pending >= f * (1 - kSlack)) {
      pending -= f;
      ModelRun flushed = model_run(params, f, bits_for(phase.shape, 1));
      tree.flushes += 1;
      tree.flushed_entries += flushed.entries;
      tree.flushed_bytes += flushed.bytes;
      sim.add(0, {flushed});
      for (int n = 0; n < kMaxTasksPerFlush; n++) {
        std::optional<engine::CompactionTask> task = sim.plan(phase.shape);
        if (!task) break;
        sim.apply(*task, bits_for(phase.shape, std::max(task->output_level, 1)));
      }
    }
  }
  tree.memtable_entries = std::max(0.0, pending);
  take_levels(sim, &tree);
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
