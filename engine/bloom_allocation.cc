#include "engine/bloom_allocation.h"

#include <algorithm>
#include <cmath>

namespace lsm4kv::engine {
namespace {
const double kLn2Squared = std::log(2.0) * std::log(2.0);
}

double bloom_false_positive_rate(double bits_per_key) {
  if (bits_per_key <= 0) return 1.0;
  return std::exp(-bits_per_key * kLn2Squared);
}

std::vector<double> bloom_bits_per_level(const Shape& shape, int num_levels,
                                         double avg_bits_per_key, BloomAllocation allocation) {
  std::vector<double> bits(static_cast<size_t>(std::max(num_levels, 0)), avg_bits_per_key);
  if (allocation == BloomAllocation::kUniform || num_levels <= 1 || avg_bits_per_key <= 0)
    return bits;
  // n_i ∝ T^i, normalized so that sum n_i = 1.
  std::vector<double> n(bits.size());
  double total = 0;
  for (size_t i = 0; i < n.size(); i++) total += n[i] = std::pow(shape.size_ratio, double(i + 1));
  for (double& x : n) x /= total;
  // p_i = min(1, lambda · n_i / K_i); find lambda so that sum n_i·b_i = avg.
  auto memory_for = [&](double log_lambda) {
    double m = 0;
    for (size_t i = 0; i < n.size(); i++) {
      double log_p = log_lambda + std::log(n[i] / shape.runs_at(int(i) + 1));
      m += n[i] * std::max(0.0, -log_p / kLn2Squared);
    }
    return m;
  };
  double lo = -200, hi = 50;  // memory_for is decreasing in log_lambda
  for (int iter = 0; iter < 200; iter++) {
    double mid = (lo + hi) / 2;
    (memory_for(mid) > avg_bits_per_key ? lo : hi) = mid;
  }
  for (size_t i = 0; i < n.size(); i++) {
    double log_p = hi + std::log(n[i] / shape.runs_at(int(i) + 1));
    bits[i] = std::max(0.0, -log_p / kLn2Squared);
  }
  return bits;
}

}  // namespace lsm4kv::engine
