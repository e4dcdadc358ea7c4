#include "engine/compaction_planner.h"

#include <algorithm>
#include <cmath>

namespace lsm4kv::engine {
namespace {

uint64_t level_bytes(const std::vector<RunSummary>& runs) {
  uint64_t b = 0;
  for (const RunSummary& r : runs) b += r.bytes;
  return b;
}

bool empty_below(const LevelSummaries& levels, int level) {
  for (size_t i = static_cast<size_t>(level) + 1; i < levels.size(); i++)
    if (!levels[i].empty()) return false;
  return true;
}

CompactionTask make_task(const LevelSummaries& levels, const Shape& shape, int input, int output) {
  static const std::vector<RunSummary> kNone;
  const auto& out_runs = static_cast<size_t>(output) < levels.size() ? levels[output] : kNone;
  CompactionTask t;
  t.input_level = input;
  t.output_level = output;
  t.merge_output_level =
      !out_runs.empty() && static_cast<int>(out_runs.size()) + 1 > shape.runs_at(output);
  t.inputs = levels[input];
  if (t.merge_output_level) t.inputs.insert(t.inputs.end(), out_runs.begin(), out_runs.end());
  t.trivial_move = t.inputs.size() == 1 && !t.merge_output_level;
  t.bottommost = empty_below(levels, output) && (t.merge_output_level || out_runs.empty());
  return t;
}

}  // namespace

uint64_t level_capacity(int level, const Shape& shape, uint64_t write_buffer_size) {
  if (level < 1) return 0;
  double cap = static_cast<double>(write_buffer_size) * std::pow(shape.size_ratio, level);
  return cap > 1e19 ? UINT64_MAX : static_cast<uint64_t>(cap);
}

std::optional<CompactionTask> plan_compaction(const LevelSummaries& levels, const Shape& shape,
                                              uint64_t write_buffer_size, int max_levels) {
  if (!levels.empty() && !levels[0].empty()) return make_task(levels, shape, 0, 1);
  for (int i = 1; i + 1 < max_levels && static_cast<size_t>(i) < levels.size(); i++) {
    if (!levels[i].empty() && level_bytes(levels[i]) >= level_capacity(i, shape, write_buffer_size))
      return make_task(levels, shape, i, i + 1);
  }
  return std::nullopt;
}

void apply_compaction(LevelSummaries* levels, const CompactionTask& task,
                      std::optional<RunSummary> output) {
  if (task.trivial_move) output = task.inputs.at(0);
  for (RunSummary in : task.inputs)
    for (auto& level : *levels)
      std::erase_if(level, [&](const RunSummary& r) { return r.file_number == in.file_number; });
  if (!output) return;
  if (levels->size() <= static_cast<size_t>(task.output_level))
    levels->resize(static_cast<size_t>(task.output_level) + 1);
  auto& out = (*levels)[static_cast<size_t>(task.output_level)];
  out.insert(out.begin(), *output);
}

std::optional<CompactionTask> plan_full_compaction(const LevelSummaries& levels) {
  CompactionTask t;
  int deepest = 0;
  for (size_t i = 0; i < levels.size(); i++) {
    if (levels[i].empty()) continue;
    deepest = static_cast<int>(i);
    t.inputs.insert(t.inputs.end(), levels[i].begin(), levels[i].end());
  }
  if (t.inputs.empty()) return std::nullopt;
  t.input_level = 0;
  t.output_level = std::max(deepest, 1);
  t.merge_output_level = true;
  t.bottommost = true;
  return t;
}

}  // namespace lsm4kv::engine
