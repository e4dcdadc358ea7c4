#include <catch2/catch.hpp>

#include "tensorlog/record_table.h"
#include "tensorlog/segment.h"

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

TEST_CASE("record table: 8 bytes a record, every length and offset back exactly", "[tensorlog]") {
  RecordTable t;
  const std::vector<SegmentRecord> in{
      {kAlign, 246, false},
      {kAlign + 248, (uint64_t{1} << 29) - 2, false},  // the largest inline length
      {uint64_t{3} << 31, (uint64_t{1} << 29) - 1, false},  // the first side-list length
      {uint64_t{5} << 32, uint64_t{5} << 32, false},       // 20 GiB: side list
      {RecordTable::kOffsetLimit - kRecordAlign, 32, false},
  };
  for (const SegmentRecord& r : in) REQUIRE(t.push_back(r.offset, r.length));
  REQUIRE(t.size() == in.size());
  REQUIRE(t.to_vector() == in);
  for (size_t i = 0; i < in.size(); i++) REQUIRE(t.find(in[i].offset) == i);
  REQUIRE(t.back() == in.back());
  REQUIRE(t.memory_bytes() < in.size() * 8 + 4 * 16 + 64);

  // Dead records keep their lengths, inline or in the side list.
  t.set_dead(1);
  t.set_dead(3);
  std::vector<SegmentRecord> want = in;
  want[1].dead = want[3].dead = true;
  REQUIRE(t.to_vector() == want);
  REQUIRE_FALSE(t.dead(2));

  // So do records read since written; reads count up to kMaxReads and stay
  // there, apart from the dead mark.
  for (int k = 0; k < 5; k++) t.add_read(0);
  t.add_read(2);
  t.add_read(3);
  t.add_read(3);
  REQUIRE(t.to_vector() == want);
  const std::vector<uint32_t> reads{RecordTable::kMaxReads, 0, 1, 2, 0};
  for (size_t i = 0; i < in.size(); i++) REQUIRE(t.reads(i) == reads[i]);
  REQUIRE(t.dead(3));
  REQUIRE_FALSE(t.dead(0));
}

TEST_CASE("record table refuses what it cannot hold, unchanged", "[tensorlog]") {
  RecordTable t;
  REQUIRE_FALSE(t.push_back(kAlign + 1, 10));                    // misaligned
  REQUIRE_FALSE(t.push_back(RecordTable::kOffsetLimit, 10));     // past the limit
  REQUIRE(t.push_back(2 * kAlign, 10));
  REQUIRE_FALSE(t.push_back(2 * kAlign, 10));                    // not after the last
  REQUIRE_FALSE(t.push_back(kAlign, 10));
  REQUIRE(t.size() == 1);
  REQUIRE(t.find(kAlign) == RecordTable::kNone);
  REQUIRE(t.find(2 * kAlign + 3) == RecordTable::kNone);
  REQUIRE(t.find(uint64_t{1} << 40) == RecordTable::kNone);
}

TEST_CASE("segment index decodes into the table and refuses offsets it cannot hold", "[tensorlog]") {
  std::vector<SegmentRecord> recs{{kAlign, 100, false}, {kAlign + 104, 5000, false}, {3 * kAlign, 70000, false}};
  RecordTable t;
  REQUIRE(decode_segment_index(encode_segment_index(recs), "seg", &t).ok());
  REQUIRE(t.to_vector() == recs);
  std::vector<SegmentRecord> far{{kAlign, 100, false}, {RecordTable::kOffsetLimit, 100, false}};
  Status s = decode_segment_index(encode_segment_index(far), "seg", &t);
  REQUIRE(s.is_corruption());
  REQUIRE(s.message().find("out of range") != std::string::npos);

  SegmentRecords segment;
  REQUIRE(segment.add(kAlign, 100));
  REQUIRE(segment.add(kAlign + 104, 5000));
  REQUIRE(segment.live_records == 2);
  REQUIRE(segment.mark_dead(kAlign + 104, 5000));
  REQUIRE_FALSE(segment.mark_dead(kAlign + 104, 5000));  // already dead
  REQUIRE_FALSE(segment.mark_dead(kAlign, 99));          // wrong length
  REQUIRE(segment.live_records == 1);
  REQUIRE(segment.live_bytes == allocated_bytes(100));
  REQUIRE(segment.dead_bytes == allocated_bytes(5000));
}
