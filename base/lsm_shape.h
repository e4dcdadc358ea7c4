// LsmShape: the shape of an LSM-tree index. Disk levels are numbered 1, 2,
// ...; level i holds at most runs_at(i) sorted runs and at most M·T^i bytes
// (M = the write buffer size). K = 1 on every level is leveling; K = T-1 is
// tiering; anything between is the Dostoevsky "fluid" continuum. Level 0
// holds flushed memtables on their way into level 1 and is not governed by K.
// A value type shared by the engine (engine::Shape), the tuner and the
// store's public options and stats.
#pragma once

#include <cstddef>
#include <vector>

namespace lsm4kv {

struct LsmShape {
  int size_ratio = 10;                    // T >= 2
  std::vector<int> runs_per_level = {1};  // K of level 1, 2, ...; the last value
                                          // applies to every deeper level
  int runs_at(int level) const {
    if (runs_per_level.empty() || level < 1) return 1;
    size_t i = static_cast<size_t>(level - 1);
    return runs_per_level[i < runs_per_level.size() ? i : runs_per_level.size() - 1];
  }
  bool operator==(const LsmShape&) const = default;
};

}  // namespace lsm4kv
