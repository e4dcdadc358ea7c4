#include "bench/peers/workloads.h"

#include <random>

#include "bench/demo/stage_workload.h"
#include "bench/trace/trace_reader.h"

namespace lsm4kv::bench::peers {

Status trace_workload(const std::string& path, size_t max_requests, size_t max_pages, std::vector<Request>* out) {
  std::vector<TraceRequest> trace;
  LSM4KV_RETURN_IF_ERROR(read_trace(path, max_requests, &trace));
  out->clear();
  for (const TraceRequest& t : trace) {
    const size_t pages = std::min<size_t>(t.input_length / kTraceBlockTokens, max_pages);
    if (pages == 0) continue;  // shorter than a page: nothing to store or find
    std::vector<uint64_t> ids(t.hash_ids.begin(), t.hash_ids.begin() + static_cast<long>(pages));
    out->push_back({PromptKeys::of(std::move(ids)), 0});
  }
  return Status::OK();
}

std::vector<Request> stage_workload(size_t prompt_pages, size_t requests_per_stage, size_t warmup_pages,
                                    uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto fresh = [&](size_t n) {
    std::vector<uint64_t> ids(n);
    for (auto& x : ids) x = rng();
    return ids;
  };
  std::vector<std::vector<uint64_t>> history;
  std::vector<Request> out;
  const size_t warm = (warmup_pages + prompt_pages - 1) / prompt_pages;
  for (size_t i = 0; i < warm; i++) {
    history.push_back(fresh(prompt_pages));
    out.push_back({PromptKeys::of(history.back()), -1});
  }
  if (history.empty()) history.push_back(fresh(prompt_pages));
  for (size_t stage = 0; stage < kStageTargets.size(); stage++) {
    for (size_t r = 0; r < requests_per_stage; r++) {
      history.push_back(stage_request(history, kStageTargets[stage], prompt_pages, rng, fresh));
      out.push_back({PromptKeys::of(history.back()), static_cast<int>(stage) + 1});
    }
  }
  return out;
}

}  // namespace lsm4kv::bench::peers
