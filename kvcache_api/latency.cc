#include "kvcache_api/latency.h"

#include <algorithm>
#include <cmath>

namespace lsm4kv::kvcache {

double micros_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}
namespace {
double bucket_upper(int b) { return std::pow(2.0, (b + 1) / 8.0); }
}  // namespace

void LatencyHistogram::record(double micros) {
  int b = micros <= 1 ? 0 : static_cast<int>(std::log2(micros) * 8);
  counts_[static_cast<size_t>(std::clamp(b, 0, kBuckets - 1))].fetch_add(1, std::memory_order_relaxed);
}

Percentiles LatencyHistogram::percentiles() const {
  std::array<uint64_t, kBuckets> c;
  uint64_t total = 0;
  for (int i = 0; i < kBuckets; i++) total += c[i] = counts_[i].load(std::memory_order_relaxed);
  Percentiles p;
  p.count = total;
  if (total == 0) return p;
  auto at = [&](double q) {
    uint64_t want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; i++) {
      seen += c[i];
      if (seen >= want) return bucket_upper(i);
    }
    return bucket_upper(kBuckets - 1);
  };
  p.p50_us = at(0.50);
  p.p99_us = at(0.99);
  return p;
}

}  // namespace lsm4kv::kvcache
