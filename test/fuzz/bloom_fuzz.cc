// Fuzz target: the Bloom filter block (engine/bloom.h).
//
// Input: one selector byte, then:
//   bit 0 = 0: filter block bytes. decode_from must accept or reject them
//              without reading outside the block; a decoded filter answers
//              may_contain for keys cut from the bytes, and its bit count
//              and probe count stay in the documented ranges.
//   bit 0 = 1: keys cut from the bytes (bits per key from the next byte,
//              fractional allowed) -> BloomFilterBuilder -> decode: no false
//              negatives, the block has the size size_estimate() promised,
//              m and k as documented; re-decoding a copy with one byte
//              flipped never reads outside the block either.
#include <cmath>
#include <string>
#include <vector>

#include "engine/bloom.h"
#include "test/fuzz/fuzz_util.h"

using lsm4kv::Status;
using lsm4kv::engine::BloomFilter;
using lsm4kv::engine::BloomFilterBuilder;
using lsm4kv::fuzz::Input;

namespace {

void decode(std::string_view bytes) {
  BloomFilter f;
  Status s = BloomFilter::decode_from(bytes, &f);
  if (!s.ok()) {
    FUZZ_CHECK(s.is_corruption());
    return;
  }
  if (bytes.empty()) {
    FUZZ_CHECK(f.empty());
    FUZZ_CHECK(f.may_contain("anything"));
    return;
  }
  FUZZ_CHECK(f.num_bits() >= 64);
  FUZZ_CHECK(f.num_probes() >= 1 && f.num_probes() <= 30);
  FUZZ_CHECK((f.num_bits() + 7) / 8 == f.memory_bytes());
  for (size_t i = 0; i + 4 <= bytes.size() && i < 256; i += 4) f.may_contain(bytes.substr(i, 4));
  f.may_contain_hash(0);
  f.may_contain_hash(~uint64_t{0});
}

void round_trip(Input* in) {
  double bits_per_key = in->byte() / 8.0;  // 0 .. 31.9
  std::vector<std::string> keys;
  while (in->left() > 0) keys.emplace_back(in->take(in->byte() % 16));
  BloomFilterBuilder b(bits_per_key);
  for (const std::string& k : keys) b.add_key(k);
  std::string block;
  b.finish(&block);
  FUZZ_CHECK(block.size() == b.size_estimate());
  BloomFilter f;
  FUZZ_CHECK(BloomFilter::decode_from(block, &f).ok());
  if (bits_per_key <= 0 || keys.empty()) {
    FUZZ_CHECK(block.empty() && f.empty());
    return;
  }
  FUZZ_CHECK(!f.empty());
  uint64_t want_bits = std::max<uint64_t>(64, static_cast<uint64_t>(std::ceil(keys.size() * bits_per_key)));
  FUZZ_CHECK(f.num_bits() == want_bits);
  FUZZ_CHECK(f.num_probes() == BloomFilter::probes_for(bits_per_key));
  for (const std::string& k : keys) {
    FUZZ_CHECK(f.may_contain(k));  // no false negatives, ever
    FUZZ_CHECK(f.may_contain_hash(BloomFilter::hash(k)));
  }
  // A damaged block: decoded or rejected, never a read outside it.
  block[keys.size() % block.size()] ^= 0x5a;
  block.back() ^= static_cast<char>(keys.size());
  BloomFilter g;
  if (BloomFilter::decode_from(block, &g).ok())
    for (const std::string& k : keys) g.may_contain(k);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return lsm4kv::fuzz::two_modes(data, size, decode, round_trip);
}
