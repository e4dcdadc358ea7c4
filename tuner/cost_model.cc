#include "tuner/cost_model.h"

#include <algorithm>
#include <cmath>

#include "engine/bloom_allocation.h"

namespace lsm4kv::tuner {

double TreeParams::entries_per_block() const {
  return std::max(1.0, block_bytes / std::max(entry_bytes, 1e-9));
}

double TreeParams::run_entry_bytes(double run_entries) const {
  if (entry_bytes_per_halving == 0 || run_entries <= 0 || run_entries >= entries)
    return entry_bytes;
  return entry_bytes + entry_bytes_per_halving * std::log2(entries / run_entries);
}

int num_levels(double entries, double entry_bytes, double write_buffer_bytes, int size_ratio) {
  double t = std::max(size_ratio, 2);
  double data = entries * entry_bytes;
  if (data <= 0 || write_buffer_bytes <= 0) return 1;
  // Levels 1..L hold M·T·(T^L − 1)/(T − 1) bytes; the fewest L that hold data.
  double l = std::log(data / write_buffer_bytes * (t - 1) / t + 1) / std::log(t);
  // A tiny epsilon keeps an exact power (data = capacity) at its own L.
  return std::max(1, static_cast<int>(std::ceil(l - 1e-9)));
}

int num_levels(const engine::Shape& shape, const TreeParams& params) {
  return num_levels(params.entries, params.entry_bytes, params.write_buffer_bytes,
                    shape.size_ratio);
}

double level_write_cost(int size_ratio, int runs) {
  double k = std::max(runs, 1);
  return (size_ratio - 1 + k) / (2 * k);
}

std::vector<double> level_false_positive_rates(const engine::Shape& shape, int num_levels,
                                               const TreeParams& params) {
  std::vector<double> bits;
  if (params.bits_per_level.empty()) {
    bits = engine::bloom_bits_per_level(shape, num_levels, params.bloom_bits_per_key,
                                        params.allocation);
  } else {
    for (int i = 0; i < num_levels; i++)
      bits.push_back(params.bits_per_level[std::min(size_t(i), params.bits_per_level.size() - 1)]);
  }
  std::vector<double> fpr(bits.size());
  for (size_t i = 0; i < bits.size(); i++) fpr[i] = engine::bloom_false_positive_rate(bits[i]);
  return fpr;
}

Costs predict(const engine::Shape& shape, const TreeParams& params) {
  Costs c;
  c.levels = num_levels(shape, params);
  std::vector<double> p = level_false_positive_rates(shape, c.levels, params);
  c.write = 1;  // the flush
  for (int i = 1; i <= c.levels; i++) {
    double k = shape.runs_at(i);
    double fp = p[size_t(i - 1)];
    c.runs += k;
    if (i == 1 && params.level1_absorbs_flushes) {
      double arrivals = shape.size_ratio * params.memtable_bytes() / params.entry_bytes;
      c.write += (std::max(arrivals, 1.0) - 1 + k) / (2 * k);
    } else {
      c.write += level_write_cost(shape.size_ratio, shape.runs_at(i));
    }
    c.point_miss_runs += k * fp;
    c.point_hit_runs += i < c.levels ? k * fp : (k - 1) / 2 * fp;
  }
  c.point_hit_runs += 1;
  c.write_io = c.write / params.entries_per_block();
  c.write_amplification = c.write * params.entry_bytes / params.user_bytes();
  c.point_hit_blocks = c.point_hit_runs;
  c.point_miss_blocks = c.point_miss_runs;
  c.seek_blocks = c.runs;
  c.bloom_fpr = c.runs > 0 ? c.point_miss_runs / c.runs : 0;
  return c;
}

double weighted_cost(const Costs& costs, const WorkloadMix& mix) {
  return mix.writes * costs.write_io + mix.point_hits * costs.point_hit_blocks +
         mix.point_misses * costs.point_miss_blocks + mix.seeks * costs.seek_blocks;
}

}  // namespace lsm4kv::tuner
