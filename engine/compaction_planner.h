// The compaction policy, as a pure function: (level state, shape) → the next
// compaction task, or none. The DB executes what this returns; the tuner
// changes the shape; neither touches the other's code.
//
// Policy (disk levels 1..; level 0 holds flushed memtables):
//   - Level 0 is drained first, as soon as it holds a run: its runs go to
//     level 1.
//   - Otherwise the shallowest level i >= 1 holding at least M·T^i bytes
//     sends all its runs to level i+1.
//   - A task into level o merges o's own runs too when adding one more run
//     would exceed K_o (so leveling, K = 1, merges every arrival into the
//     level's one run; tiering, K = T-1, lets runs pile up until the level is
//     full). The output is ONE run at the front of level o.
//   - A task with a single input run and nothing to merge is a trivial move:
//     the file changes level without being rewritten.
// Lazy reshaping falls out of this: a larger K leaves existing runs alone; a
// smaller K is honoured by the next task into that level (which merges all
// its runs); a new T changes capacities, which matter only when the planner
// next checks a level.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/options.h"

namespace lsm4kv::engine {

struct RunSummary {
  uint64_t file_number = 0;
  uint64_t bytes = 0;
};
// levels[i] = runs of level i, newest first.
using LevelSummaries = std::vector<std::vector<RunSummary>>;

struct CompactionTask {
  int input_level = 0;
  int output_level = 1;
  bool merge_output_level = false;  // the output level's runs are inputs too
  bool trivial_move = false;
  bool bottommost = false;          // nothing older lies below the output
  std::vector<RunSummary> inputs;   // newest first
};

// M·T^level; 0 for level 0.
uint64_t level_capacity(int level, const Shape& shape, uint64_t write_buffer_size);

std::optional<CompactionTask> plan_compaction(const LevelSummaries& levels, const Shape& shape,
                                              uint64_t write_buffer_size, int max_levels);

// The level summaries a task leaves, as the engine's log-and-apply does to a
// Version: the inputs leave their levels, and the task's output run goes to
// the front of the output level (for a trivial move, the input itself; a
// merge whose output is empty, e.g. all deletes dropped at the bottom, passes
// none). Models of the policy (tuner/policy_simulator.h) apply the planner's
// tasks with this, so they need no copy of the policy.
// REQUIRES: task came from plan_compaction or plan_full_compaction on *levels.
void apply_compaction(LevelSummaries* levels, const CompactionTask& task,
                      std::optional<RunSummary> output);

// Everything into one run at the deepest non-empty level (at least level 1);
// none when the tree holds no runs.
std::optional<CompactionTask> plan_full_compaction(const LevelSummaries& levels);

}  // namespace lsm4kv::engine
