// The Bloom filter of a sorted run: one filter over all user keys of the run,
// so that a point lookup skips the run without reading a block when the key
// is absent (with probability 1 - false_positive_rate).
//
// m = ceil(n · bits_per_key) bits (at least 64), k = round(bits_per_key · ln 2)
// probes clamped to [1, 30]. Fractional bits per key are allowed (Monkey
// hands out real numbers); 0 means no filter. Probe positions come from one
// XXH3-64 hash h of the key by double hashing: x_i = h + i·δ with δ derived
// from h, mapped onto [0, m) by multiply-shift (the high bits of x_i · m).
//
// Block contents (run_format.h): bits[ceil(m/8)] | u64 m | u8 k. An empty
// block means "no filter": every key may be present.
//
// Thread-safety: a BloomFilter is immutable and may be queried from any
// number of threads; a BloomFilterBuilder is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lsm4kv::engine {

class BloomFilterBuilder {
 public:
  explicit BloomFilterBuilder(double bits_per_key);
  void add_key(std::string_view key);
  void add_hash(uint64_t hash) { hashes_.push_back(hash); }
  size_t num_keys() const { return hashes_.size(); }
  // The size of the block finish() would write.
  size_t size_estimate() const;
  // Appends the filter block contents: empty when bits_per_key <= 0 or no
  // key was added.
  void finish(std::string* dst) const;

 private:
  double bits_per_key_;
  std::vector<uint64_t> hashes_;  // the filter's size is known only at the end
};

class BloomFilter {
 public:
  BloomFilter() = default;  // no filter: may_contain() is always true
  // Copies the filter out of a filter block; Corruption when malformed.
  static Status decode_from(std::string_view contents, BloomFilter* out);

  static uint64_t hash(std::string_view key);
  bool may_contain(std::string_view key) const { return may_contain_hash(hash(key)); }
  bool may_contain_hash(uint64_t hash) const;
  // True when there are no bits at all (nothing to check).
  bool empty() const { return num_bits_ == 0; }
  size_t memory_bytes() const { return bits_.size(); }
  uint64_t num_bits() const { return num_bits_; }
  int num_probes() const { return num_probes_; }

  // k for bits_per_key: round(bits · ln 2) in [1, 30].
  static int probes_for(double bits_per_key);
  // The theoretical false-positive rate with k = probes_for(bits):
  // (1 - e^(-k/bits))^k; 1 when bits_per_key <= 0.
  static double false_positive_rate(double bits_per_key);

 private:
  std::string bits_;
  uint64_t num_bits_ = 0;
  int num_probes_ = 0;
};

}  // namespace lsm4kv::engine
