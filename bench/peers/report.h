// The peers table: one markdown row per backend of one run, get and put as a
// fraction of the raw disk's row (the last row named "raw" in rows, if any).
#pragma once

#include <string>
#include <vector>

#include "bench/peers/runner.h"

namespace lsm4kv::bench::peers {

void print_table(const std::string& title, const std::vector<RunResult>& rows);

}  // namespace lsm4kv::bench::peers
