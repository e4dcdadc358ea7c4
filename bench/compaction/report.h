// Output of the compaction-policy benchmark: one CSV row per shape (every
// measured figure next to both models' predictions; read by plot.gp) and
// the Markdown tables that go into bench/RESULTS.md.
#pragma once

#include <ostream>
#include <vector>

#include "bench/compaction/shape_run.h"

namespace lsm4kv::bench {

void write_csv(std::ostream& out, const std::vector<ShapeResult>& results);

// Two tables: writes and tree structure; lookups and seeks. A figure whose
// measurement lies outside ±30% of the engine-policy model is marked with †.
void write_markdown(std::ostream& out, const std::vector<ShapeResult>& results);

// "runs of level 1 / level 2 / ...", e.g. "3/1/2".
std::string runs_per_level_text(const std::vector<int>& runs);
std::string runs_per_level_text(const tuner::PolicyTree& tree);

}  // namespace lsm4kv::bench
