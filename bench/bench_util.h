// What several benchmarks share: a bench stops at its first error, saying
// what failed; percentiles of latency samples; deterministic stand-in KV
// bytes; what the process holds in memory and how loaded the machine is.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "base/status.h"

namespace lsm4kv::bench {

// Exits with status 1 and "what: <status>" on stderr unless s is OK.
inline void die(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
  std::exit(1);
}

// The sample at rank q·n of v (0 when v is empty); q in [0, 1].
inline double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// Page-major stand-in for a model's KV (bpt bytes per token, a multiple of 8
// is filled; the rest stays zero): token t's bytes depend on every token up
// to t, as a model's do, so prompts sharing a prefix share its KV and a get
// can be checked byte for byte.
inline void fill_kv(std::span<const int32_t> tokens, size_t bpt, std::vector<char>* out) {
  out->assign(tokens.size() * bpt, 0);
  uint64_t h = 1469598103934665603ull;
  for (size_t t = 0; t < tokens.size(); t++) {
    h = (h ^ static_cast<uint64_t>(static_cast<uint32_t>(tokens[t]))) * 1099511628211ull;
    for (size_t i = 0; i < bpt / 8; i++) {
      const uint64_t word = h + i;
      std::memcpy(out->data() + t * bpt + i * 8, &word, 8);
    }
  }
}

// The process's resident memory now and its peak, from /proc/self/status
// (VmRSS, VmHWM); zeros where that file is missing.
struct ProcessMemory {
  uint64_t rss_bytes = 0, peak_rss_bytes = 0;
};

inline ProcessMemory process_memory() {
  ProcessMemory m;
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return m;
  char line[256];
  unsigned long long kib = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "VmRSS: %llu kB", &kib) == 1) m.rss_bytes = kib << 10;
    if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) m.peak_rss_bytes = kib << 10;
  }
  std::fclose(f);
  return m;
}

// The 1-minute load average (/proc/loadavg); -1 where unknown. Benchmarks
// print it beside their figures: the development machines are shared.
inline double load_average() {
  double load = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

}  // namespace lsm4kv::bench
