// LatencyHistogram: operation latencies in log-spaced buckets (8 per
// doubling, from 1 µs), for percentiles within ~9% without keeping samples.
//
// Thread-safety: record() and percentiles() may run concurrently (relaxed
// atomics: a percentile read during recording may miss the newest samples).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "kvcache_api/kv_store.h"

namespace lsm4kv::kvcache {

// Microseconds from t0 to now.
double micros_since(std::chrono::steady_clock::time_point t0);

class LatencyHistogram {
 public:
  void record(double micros);
  Percentiles percentiles() const;

 private:
  static constexpr int kBuckets = 256;
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
};

}  // namespace lsm4kv::kvcache
