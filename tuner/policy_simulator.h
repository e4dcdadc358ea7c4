// A compaction simulator: the tuner's model of a tree as level summaries,
// compacted by the engine's own planner (engine::plan_compaction) and
// applied by the engine's own apply step (engine::apply_compaction), as
// mini-lsm's simulator drives its real controllers. The tuner's policy model
// (policy_model.h) is built on it, so it holds no copy of the engine's rules:
// a change to the planner changes the model.
//
// What the simulator adds is what the engine measures instead: how many
// entries and bytes each run holds (a run of n entries takes
// n·TreeParams::run_entry_bytes(n) bytes), the Bloom filter bits a written
// run gets (the caller says), and what the compactions wrote into each level.
//
// Bytes. The planner compares integer byte counts with M·T^i; the model's
// bytes are real numbers (a unit-test tree has 1-byte buffers and
// 0.25-byte entries). The summaries therefore count in units of
// M / 2^32, each run rounded up: a level whose exact bytes reach its capacity
// always does in units too, and one short of it by less than its run count
// in units (a relative 2^-32 per run) counts as full — the slack a sum of
// rounded doubles needs.
//
// Thread-safety: a PolicySimulator is a value; no shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "engine/compaction_planner.h"
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

// A run of `entries` entries as params sizes it.
ModelRun model_run(const TreeParams& params, double entries, double bits_per_key);

// The compaction rules: engine::plan_compaction, or (in tests) a variant.
using Planner = std::function<std::optional<engine::CompactionTask>(
    const engine::LevelSummaries& levels, const engine::Shape& shape,
    uint64_t write_buffer_size, int max_levels)>;

class PolicySimulator {
 public:
  explicit PolicySimulator(const TreeParams& params, Planner planner = engine::plan_compaction);

  // Puts `runs` (newest first) in front of the runs of `level` (0 = flushed).
  void add(int level, const std::vector<ModelRun>& runs);
  // The planner's next task under shape; none when the tree is settled.
  std::optional<engine::CompactionTask> plan(const engine::Shape& shape) const;
  // Carries out `task`: a merge writes one run of the inputs' entries with
  // a filter of bits_per_key bits per key; a trivial move writes nothing.
  void apply(const engine::CompactionTask& task, double bits_per_key);

  // Runs of `level`, newest first.
  std::vector<ModelRun> runs(int level) const;
  // The deepest level holding a run (0 when none).
  int deepest_level() const;
  // Written by compactions into `level`.
  double written_entries(int level) const;
  double written_bytes(int level) const;

 private:
  uint64_t units(double bytes) const;

  TreeParams params_;
  Planner planner_;
  engine::LevelSummaries levels_;  // bytes in units of M / 2^32
  std::unordered_map<uint64_t, ModelRun> runs_;  // by file number
  uint64_t next_number_ = 1;
  std::vector<double> written_entries_, written_bytes_;  // by output level
};

}  // namespace lsm4kv::tuner
