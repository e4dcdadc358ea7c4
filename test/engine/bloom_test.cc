// Bloom filter: no false negatives, a false-positive rate near theory for
// whole and fractional bits per key, the "no filter" cases, and decoding.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "base/coding.h"
#include "engine/bloom.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;

namespace {

// Fingerprint-chain keys: a shared prefix and one 8-byte fingerprint.
std::string key(uint64_t i, char tag) {
  std::string k = "ns000001prefix00";
  k.push_back(tag);
  k.append(reinterpret_cast<const char*>(&i), 8);
  return k;
}

BloomFilter build(double bits_per_key, uint64_t n) {
  BloomFilterBuilder b(bits_per_key);
  for (uint64_t i = 0; i < n; i++) b.add_key(key(i, 'k'));
  std::string block;
  b.finish(&block);
  REQUIRE(block.size() == b.size_estimate());
  BloomFilter f;
  REQUIRE(BloomFilter::decode_from(block, &f).ok());
  return f;
}

double measured_fpr(const BloomFilter& f, uint64_t probes) {
  uint64_t fp = 0;
  for (uint64_t i = 0; i < probes; i++) fp += f.may_contain(key(i, 'x')) ? 1 : 0;
  return static_cast<double>(fp) / static_cast<double>(probes);
}

}  // namespace

TEST_CASE("bloom: no false negatives, FPR near theory at 10 bits/key", "[bloom]") {
  const uint64_t n = 100000;
  BloomFilter f = build(10, n);
  CHECK(f.num_probes() == 7);
  CHECK(f.memory_bytes() >= n * 10 / 8);
  for (uint64_t i = 0; i < n; i++) REQUIRE(f.may_contain(key(i, 'k')));
  double theory = BloomFilter::false_positive_rate(10);
  CHECK(theory == Approx(0.00819).epsilon(0.01));
  double fpr = measured_fpr(f, 1000000);
  INFO("measured " << fpr << " theory " << theory);
  CHECK(fpr > theory * 0.8);
  CHECK(fpr < theory * 1.25);
}

TEST_CASE("bloom: fractional bits per key", "[bloom]") {
  for (double bits : {1.5, 3.3, 5.5, 7.25, 14.5}) {
    BloomFilter f = build(bits, 50000);
    CHECK(f.num_bits() == static_cast<uint64_t>(std::ceil(50000 * bits)));
    CHECK(f.num_probes() == BloomFilter::probes_for(bits));
    for (uint64_t i = 0; i < 50000; i++) REQUIRE(f.may_contain(key(i, 'k')));
    double theory = BloomFilter::false_positive_rate(bits);
    double fpr = measured_fpr(f, 200000);
    INFO("bits " << bits << " measured " << fpr << " theory " << theory);
    CHECK(fpr > theory * 0.75);
    CHECK(fpr < theory * 1.33);
  }
}

TEST_CASE("bloom: theoretical rate and probe count", "[bloom]") {
  CHECK(BloomFilter::false_positive_rate(0) == 1.0);
  CHECK(BloomFilter::false_positive_rate(-1) == 1.0);
  CHECK(BloomFilter::probes_for(0.1) == 1);
  CHECK(BloomFilter::probes_for(10) == 7);
  CHECK(BloomFilter::probes_for(100) == 30);
  double prev = 1.0;
  for (double b = 0.5; b <= 30; b += 0.5) {
    double p = BloomFilter::false_positive_rate(b);
    CHECK(p < prev);
    // Never below exp(-b ln^2 2), the rate with the optimal real k.
    CHECK(p >= std::exp(-b * std::log(2) * std::log(2)) * 0.999);
    prev = p;
  }
}

TEST_CASE("bloom: zero bits or no keys means no filter", "[bloom]") {
  for (auto [bits, n] : {std::pair{0.0, 100}, std::pair{10.0, 0}}) {
    BloomFilterBuilder b(bits);
    for (int i = 0; i < n; i++) b.add_key(key(i, 'k'));
    std::string block;
    b.finish(&block);
    CHECK(block.empty());
    BloomFilter f;
    REQUIRE(BloomFilter::decode_from(block, &f).ok());
    CHECK(f.empty());
    CHECK(f.may_contain("anything"));
  }
}

TEST_CASE("bloom: malformed filter blocks are rejected", "[bloom]") {
  BloomFilter f;
  CHECK(BloomFilter::decode_from("short", &f).is_corruption());
  std::string bad(16, '\0');
  put_fixed64(&bad, 16 * 8);
  bad.push_back(0);  // k = 0
  CHECK(BloomFilter::decode_from(bad, &f).is_corruption());
  bad.back() = 31;  // k > 30
  CHECK(BloomFilter::decode_from(bad, &f).is_corruption());
  bad.back() = 7;
  CHECK(BloomFilter::decode_from(bad, &f).ok());
  std::string wrong_bits(16, '\0');
  put_fixed64(&wrong_bits, 1000);  // more bits than bytes
  wrong_bits.push_back(7);
  CHECK(BloomFilter::decode_from(wrong_bits, &f).is_corruption());
}
