#include "engine/bloom.h"

#include <algorithm>
#include <cmath>

#include "base/checksum.h"
#include "base/coding.h"

namespace lsm4kv::engine {

namespace {

constexpr uint64_t kMinBits = 64;
constexpr size_t kFilterTrailer = 9;  // u64 m, u8 k

// The i-th probe position: double hashing, then the high half of x · m maps
// x onto [0, m) without a division.
inline uint64_t probe_position(uint64_t h, uint64_t delta, int i, uint64_t num_bits) {
  uint64_t x = h + static_cast<uint64_t>(i) * delta;
  return static_cast<uint64_t>((static_cast<unsigned __int128>(x) * num_bits) >> 64);
}

// A second, odd stride from the same hash (rotated and remixed so that it
// is not a function of x's high bits alone).
inline uint64_t probe_delta(uint64_t h) {
  return (((h >> 32) | (h << 32)) * 0x9e3779b97f4a7c15ull) | 1;
}

uint64_t bits_for(size_t num_keys, double bits_per_key) {
  double bits = std::ceil(static_cast<double>(num_keys) * bits_per_key);
  return std::max<uint64_t>(kMinBits, static_cast<uint64_t>(bits));
}

}  // namespace

uint64_t BloomFilter::hash(std::string_view key) { return checksum64(key); }

int BloomFilter::probes_for(double bits_per_key) {
  double k = std::round(bits_per_key * std::log(2.0));
  return static_cast<int>(std::clamp(k, 1.0, 30.0));
}

double BloomFilter::false_positive_rate(double bits_per_key) {
  if (!(bits_per_key > 0)) return 1.0;
  double k = probes_for(bits_per_key);
  return std::pow(1.0 - std::exp(-k / bits_per_key), k);
}

BloomFilterBuilder::BloomFilterBuilder(double bits_per_key) : bits_per_key_(bits_per_key) {}

void BloomFilterBuilder::add_key(std::string_view key) { add_hash(BloomFilter::hash(key)); }

size_t BloomFilterBuilder::size_estimate() const {
  if (!(bits_per_key_ > 0) || hashes_.empty()) return 0;
  return (bits_for(hashes_.size(), bits_per_key_) + 7) / 8 + kFilterTrailer;
}

void BloomFilterBuilder::finish(std::string* dst) const {
  if (!(bits_per_key_ > 0) || hashes_.empty()) return;
  uint64_t num_bits = bits_for(hashes_.size(), bits_per_key_);
  int k = BloomFilter::probes_for(bits_per_key_);
  size_t start = dst->size();
  dst->resize(start + (num_bits + 7) / 8, '\0');
  auto* bits = reinterpret_cast<uint8_t*>(dst->data() + start);
  for (uint64_t h : hashes_) {
    uint64_t delta = probe_delta(h);
    for (int i = 0; i < k; i++) {
      uint64_t pos = probe_position(h, delta, i, num_bits);
      bits[pos >> 3] |= static_cast<uint8_t>(1u << (pos & 7));
    }
  }
  put_fixed64(dst, num_bits);
  dst->push_back(static_cast<char>(k));
}

Status BloomFilter::decode_from(std::string_view contents, BloomFilter* out) {
  if (contents.empty()) {
    *out = BloomFilter();
    return Status::OK();
  }
  if (contents.size() < kFilterTrailer + 8) return Status::corruption("filter block too short");
  size_t n = contents.size() - kFilterTrailer;
  uint64_t num_bits = decode_fixed64(contents.data() + n);
  int k = static_cast<uint8_t>(contents[n + 8]);
  if (num_bits < kMinBits || (num_bits + 7) / 8 != n || k < 1 || k > 30) {
    return Status::corruption("filter block: bad size or probe count");
  }
  BloomFilter f;
  f.bits_.assign(contents.data(), n);
  f.num_bits_ = num_bits;
  f.num_probes_ = k;
  *out = std::move(f);
  return Status::OK();
}

bool BloomFilter::may_contain_hash(uint64_t h) const {
  if (num_bits_ == 0) return true;
  const auto* bits = reinterpret_cast<const uint8_t*>(bits_.data());
  uint64_t delta = probe_delta(h);
  for (int i = 0; i < num_probes_; i++) {
    uint64_t pos = probe_position(h, delta, i, num_bits_);
    if ((bits[pos >> 3] & (1u << (pos & 7))) == 0) return false;
  }
  return true;
}

}  // namespace lsm4kv::engine
