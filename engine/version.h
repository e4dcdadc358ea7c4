// Version: the set of sorted runs at one moment, level by level, newest run
// first. Immutable once published; readers hold a shared_ptr to the Version
// they started with, so a compaction installing a new Version never disturbs
// them (a replaced run's file may be unlinked while an old Version still
// reads it: the open descriptor keeps the data).
//
// INVARIANT: reading the runs level 0 first, each level newest first, gives
// strictly decreasing sequence ranges: every entry of a run is newer than
// every entry of the runs after it.
#pragma once

#include <memory>
#include <vector>

#include "engine/compaction_planner.h"
#include "engine/sorted_run.h"

namespace lsm4kv::engine {

struct Version {
  std::vector<std::vector<std::shared_ptr<SortedRun>>> levels;  // [level][newest first]

  LevelSummaries summaries() const {
    LevelSummaries out(levels.size());
    for (size_t i = 0; i < levels.size(); i++)
      for (const auto& r : levels[i]) out[i].push_back({r->file_number(), r->file_size()});
    return out;
  }
  // Calls fn(level, run) newest first.
  template <typename Fn>
  void for_each_run(Fn&& fn) const {
    for (size_t i = 0; i < levels.size(); i++)
      for (const auto& r : levels[i]) fn(static_cast<int>(i), r);
  }
  size_t run_count() const {
    size_t n = 0;
    for (const auto& l : levels) n += l.size();
    return n;
  }
  int deepest_level() const {
    for (size_t i = levels.size(); i-- > 0;)
      if (!levels[i].empty()) return static_cast<int>(i);
    return 0;
  }
};

}  // namespace lsm4kv::engine
