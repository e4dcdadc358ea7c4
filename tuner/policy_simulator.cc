#include "tuner/policy_simulator.h"

#include <algorithm>
#include <cmath>

#include "engine/counters.h"

namespace lsm4kv::tuner {
namespace {

// The write buffer M, in the summaries' units.
constexpr uint64_t kBufferUnits = uint64_t{1} << 32;
// Far below UINT64_MAX, so that a level's sum of runs cannot overflow.
constexpr double kMaxUnits = 0x1p62;

}  // namespace

ModelRun model_run(const TreeParams& params, double entries, double bits_per_key) {
  return {entries, entries * params.run_entry_bytes(entries), bits_per_key};
}

PolicySimulator::PolicySimulator(const TreeParams& params, Planner planner)
    : params_(params),
      planner_(std::move(planner)),
      levels_(engine::kMaxLevels),
      written_entries_(engine::kMaxLevels, 0.0),
      written_bytes_(engine::kMaxLevels, 0.0) {}

uint64_t PolicySimulator::units(double bytes) const {
  double m = params_.write_buffer_bytes > 0 ? params_.write_buffer_bytes : 1;
  return static_cast<uint64_t>(std::min(std::ceil(bytes / m * double(kBufferUnits)), kMaxUnits));
}

void PolicySimulator::add(int level, const std::vector<ModelRun>& runs) {
  auto& summary = levels_.at(size_t(level));
  std::vector<engine::RunSummary> added;
  for (const ModelRun& run : runs) {
    added.push_back({next_number_, units(run.bytes)});
    runs_[next_number_++] = run;
  }
  summary.insert(summary.begin(), added.begin(), added.end());
}

std::optional<engine::CompactionTask> PolicySimulator::plan(const engine::Shape& shape) const {
  return planner_(levels_, shape, kBufferUnits, engine::kMaxLevels);
}

void PolicySimulator::apply(const engine::CompactionTask& task, double bits_per_key) {
  std::optional<engine::RunSummary> output;
  if (!task.trivial_move) {
    double entries = 0;
    for (const engine::RunSummary& in : task.inputs) {
      entries += runs_.at(in.file_number).entries;
      runs_.erase(in.file_number);
    }
    ModelRun merged = model_run(params_, entries, bits_per_key);
    written_entries_.at(size_t(task.output_level)) += merged.entries;
    written_bytes_.at(size_t(task.output_level)) += merged.bytes;
    output = engine::RunSummary{next_number_, units(merged.bytes)};
    runs_[next_number_++] = merged;
  }
  engine::apply_compaction(&levels_, task, output);
}

std::vector<ModelRun> PolicySimulator::runs(int level) const {
  std::vector<ModelRun> out;
  for (const engine::RunSummary& r : levels_.at(size_t(level))) out.push_back(runs_.at(r.file_number));
  return out;
}

int PolicySimulator::deepest_level() const {
  for (size_t i = levels_.size(); i-- > 0;)
    if (!levels_[i].empty()) return int(i);
  return 0;
}

double PolicySimulator::written_entries(int level) const {
  return written_entries_.at(size_t(level));
}

double PolicySimulator::written_bytes(int level) const { return written_bytes_.at(size_t(level)); }

}  // namespace lsm4kv::tuner
