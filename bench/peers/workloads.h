// The two request streams of the peers benchmark, as prompts of page ids:
//   - the Mooncake trace (bench/trace/trace_reader.h): one page per 512-token
//     hash-id block (whole blocks only), prompts cut to max_pages, those
//     shorter than one block left out;
//   - the paper's 10-stage workload (bench/demo/stage_workload.h, as the demo
//     runs it): fresh prompts until warmup_pages are stored, then 10 stages
//     whose requests reuse the stage's target share of a stored prompt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "bench/peers/backend.h"

namespace lsm4kv::bench::peers {

struct Request {
  PromptKeys keys;
  int stage = 0;  // -1: warm-up (not counted in the hit rate); 1..10: the paper's stages; 0: trace
};

Status trace_workload(const std::string& path, size_t max_requests, size_t max_pages, std::vector<Request>* out);

std::vector<Request> stage_workload(size_t prompt_pages, size_t requests_per_stage, size_t warmup_pages,
                                    uint64_t seed);

}  // namespace lsm4kv::bench::peers
