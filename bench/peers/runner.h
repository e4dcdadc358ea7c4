// Runs one request stream against one backend as a serving engine would:
// probe, get the stored prefix (every page checked), put the rest; times each
// call and counts what the device wrote meanwhile. With PEERS_GETS set in
// the environment every get's pages and time go to stderr (a stream with few
// hits has its mean set by single gets: bench/RESULTS.md, Peers).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "bench/peers/backend.h"
#include "bench/peers/workloads.h"

namespace lsm4kv::bench::peers {

struct RunResult {
  std::string backend;
  uint64_t hit_pages = 0, counted_pages = 0;  // over the requests counted for the hit rate
  uint64_t put_bytes = 0, get_bytes = 0;
  double put_s = 0, get_s = 0, wall_s = 0;
  std::vector<double> put_ms, get_ms, probe_us;  // per request (put, get: those that moved bytes)
  uint64_t device_written = 0;                   // bytes, /proc/diskstats delta over the run and close
  uint64_t files = 0, allocated_bytes = 0;       // on disk after close
};

using Opener = std::function<Status(const BackendOptions&, std::unique_ptr<Backend>*)>;

// Opens a backend in a fresh o.dir, drops its files from the page cache, runs
// the stream, closes it, counts its files, and removes o.dir.
Status run_stream(const Opener& open, const BackendOptions& o, const std::vector<Request>& stream, RunResult* out);

}  // namespace lsm4kv::bench::peers
