#include <catch2/catch.hpp>

#include "tensorlog/codec.h"
#include "tensorlog/gc_planner.h"
#include "tensorlog/record_format.h"
#include "tensorlog/segment_writer.h"
#include "test/tensorlog/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

TEST_CASE("Location encodes compactly and round trips", "[tensorlog]") {
  Location a{7, 4096 * 12345, 262176};
  std::string s;
  a.encode_to(&s);
  REQUIRE(s.size() <= 12);
  Location b{uint64_t{1} << 40, uint64_t{1} << 38, 1};
  b.encode_to(&s);
  std::string_view in(s);
  Location x, y;
  REQUIRE(x.decode_from(&in));
  REQUIRE(y.decode_from(&in));
  REQUIRE(in.empty());
  REQUIRE(x == a);
  REQUIRE(y == b);
  std::string_view truncated(s.data(), 2);
  REQUIRE_FALSE(x.decode_from(&truncated));
}

TEST_CASE("record header round trips and rejects bad magic", "[tensorlog]") {
  RecordHeader h;
  h.codec = 2;
  h.tag_len = 256;
  h.raw_len = 123456;
  h.stored_len = 100000;
  h.checksum = 0x1234567890abcdefull;
  char buf[kRecordHeaderSize];
  h.encode(buf);
  RecordHeader g;
  REQUIRE(g.decode(buf, "x").ok());
  REQUIRE(g.codec == 2);
  REQUIRE(g.tag_len == 256);
  REQUIRE(g.raw_len == 123456);
  REQUIRE(g.stored_len == 100000);
  REQUIRE(g.checksum == h.checksum);
  buf[0] ^= 1;
  REQUIRE(g.decode(buf, "seg 1").is_corruption());
  uint64_t id = 0;
  REQUIRE(parse_segment_file_name(segment_file_name(42), &id));
  REQUIRE(id == 42);
  REQUIRE_FALSE(parse_segment_file_name("seg-x.tlog", &id));
}

TEST_CASE("a record verifies in its own segment only; rebinding moves it to another", "[tensorlog]") {
  std::string raw = test::make_tensor(5000, 3);
  RecordInput in("tag", raw.data(), raw.size());
  EncodedBatch b;
  REQUIRE(encode_batch(Codec::kNone, std::span(&in, 1), &b).ok());
  char* rec = b.buffer.data() + b.offsets[0];
  const uint64_t len = b.lengths[0];
  RecordHeader h;
  // encode_batch leaves it bound to no segment (0): the writer binds it.
  REQUIRE(verify_record(rec, {0, kAlign, len}, &h).ok());
  REQUIRE(verify_record(rec, {5, kAlign, len}, &h).is_corruption());
  rebind_record(rec, 0, 5);
  REQUIRE(verify_record(rec, {5, kAlign, len}, &h).ok());
  for (uint64_t other : {uint64_t{0}, uint64_t{4}, uint64_t{6}, uint64_t{5} << 32}) {
    Status s = verify_record(rec, {other, kAlign, len}, &h);
    REQUIRE(s.is_corruption());
    REQUIRE(s.message().find("checksum") != std::string::npos);
  }
  rebind_record(rec, 5, 6);  // a copy to segment 6
  REQUIRE(verify_record(rec, {6, kAlign, len}, &h).ok());
  REQUIRE(verify_record(rec, {5, kAlign, len}, &h).is_corruption());
  REQUIRE(h.checksum == bound_checksum(rec, len, 6));
  REQUIRE(segment_mix(0) == 0);
}

TEST_CASE("codecs round trip every size class", "[tensorlog][codec]") {
  for (Codec c : {Codec::kNone, Codec::kLz4, Codec::kShuffleLz4}) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{4095}, kFrameSize - 1,
                     kFrameSize, kFrameSize + 1, 3 * kFrameSize + 17, size_t{1} << 22}) {
      std::string raw = test::make_tensor(n, n + static_cast<int>(c));
      std::string enc(max_encoded_length(c, n), '\0');
      size_t len = encode(c, raw.data(), n, enc.data());
      REQUIRE(len <= enc.size());
      std::string dec(n, '\0');
      REQUIRE(decode(c, enc.data(), len, dec.data(), n, "t").ok());
      REQUIRE(dec == raw);
      if (c != Codec::kNone && n > 16) {
        // Wrong raw length or a cut payload is corruption, not a crash.
        REQUIRE(decode(c, enc.data(), len - 1, dec.data(), n, "t").is_corruption());
      }
    }
  }
}

TEST_CASE("shuffle+lz4 compresses bf16 better than lz4 alone", "[tensorlog][codec]") {
  std::string raw = test::make_tensor(size_t{1} << 20, 5);
  std::string a(max_encoded_length(Codec::kLz4, raw.size()), '\0');
  std::string b(max_encoded_length(Codec::kShuffleLz4, raw.size()), '\0');
  size_t la = encode(Codec::kLz4, raw.data(), raw.size(), a.data());
  size_t lb = encode(Codec::kShuffleLz4, raw.data(), raw.size(), b.data());
  REQUIRE(lb < la);
  REQUIRE(lb < raw.size());
  std::string sh(raw.size(), '\0'), back(raw.size(), '\0');
  shuffle2(raw.data(), 33, sh.data());
  unshuffle2(sh.data(), 33, back.data());
  REQUIRE(std::memcmp(back.data(), raw.data(), 33) == 0);
}

TEST_CASE("GC planner picks sparse segments first and merges small ones", "[tensorlog][gc]") {
  uint64_t seg = 1000;
  std::vector<SegmentSnapshot> s = {
      {1, 1000, 900, 100, true},   // 90% live, big
      {2, 1000, 100, 900, true},   // 10% live
      {3, 1000, 300, 700, true},   // 30% live
      {4, 1000, 0, 1000, false},   // active: never
  };
  CollectOptions o;
  auto plan = plan_collection(s, o, seg);
  REQUIRE(plan == std::vector<uint64_t>{2, 3});
  o.max_bytes = 150;
  REQUIRE(plan_collection(s, o, seg) == std::vector<uint64_t>{2});
  o = CollectOptions{};
  o.small_segment_count = 2;
  std::vector<SegmentSnapshot> small = {
      {5, 100, 100, 0, true}, {6, 100, 100, 0, true}, {7, 100, 100, 0, true}};
  REQUIRE(plan_collection(small, o, seg) == std::vector<uint64_t>{5, 6, 7});
  small.pop_back();
  REQUIRE(plan_collection(small, o, seg).empty());

  // Named segments (region eviction's victim): exactly those still
  // collectable, however live or big; never the active one.
  o = CollectOptions{};
  o.segments = {1, 4, 9};
  REQUIRE(plan_collection(s, o, seg) == std::vector<uint64_t>{1});
}
