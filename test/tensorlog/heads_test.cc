// The tensor log's two heads (tensor_log.h, Head): each fills segments of
// its own, collections copy to the kept head, and a reopened log counts
// every segment as kept.
#include <catch2/catch.hpp>

#include <set>

#include "tensorlog/tensor_log.h"
#include "test/tensorlog/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

namespace {

constexpr size_t kRecord = 30000;

// Appends n records to the head; their locations.
std::vector<Location> append(TensorLog* log, Head head, uint64_t first, size_t n) {
  std::vector<std::string> data, tags;
  for (size_t i = 0; i < n; ++i) {
    data.push_back(test::make_tensor(kRecord, first + i));
    tags.push_back(test::make_tag(first + i));
  }
  std::vector<RecordInput> in;
  for (size_t i = 0; i < n; ++i) in.push_back({tags[i], data[i].data(), kRecord});
  std::vector<Location> locs;
  REQUIRE(log->append(in, &locs, head).ok());
  return locs;
}

std::set<uint64_t> segments_of(const std::vector<Location>& locs) {
  std::set<uint64_t> s;
  for (const Location& l : locs) s.insert(l.segment);
  return s;
}

void check_read(TensorLog* log, const Location& loc, uint64_t seed) {
  std::string out(kRecord, '\0');
  const std::string tag = test::make_tag(seed);
  ReadRequest r;
  r.location = loc;
  r.tag = tag;
  r.dst = out.data();
  r.size = out.size();
  REQUIRE(log->read({&r, 1}).ok());
  REQUIRE(out == test::make_tensor(kRecord, seed));
}

}  // namespace

TEST_CASE("the two heads fill segments of their own; copies go to the kept head", "[tensorlog][heads]") {
  test::TempDir dir;
  TensorLogOptions o;
  o.segment_size = 256 << 10;  // about 8 records
  o.sync = SyncMode::kNone;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  // Interleaved, as puts and readmissions come.
  std::vector<Location> put, kept;
  for (uint64_t i = 0; i < 6; ++i) {
    for (const Location& l : append(log.get(), Head::kPut, 100 * i, 5)) put.push_back(l);
    for (const Location& l : append(log.get(), Head::kKept, 100 * i + 50, 2)) kept.push_back(l);
  }
  for (uint64_t s : segments_of(put)) {
    REQUIRE(log->segment_head(s) == Head::kPut);
    REQUIRE_FALSE(segments_of(kept).contains(s));
  }
  for (uint64_t s : segments_of(kept)) REQUIRE(log->segment_head(s) == Head::kKept);
  REQUIRE(segments_of(put).size() >= 3);  // sealed ones among them

  // Each head's oldest sealed segment; the oldest of all is the put head's.
  const uint64_t oldest_put = log->oldest_collectable_segment(Head::kPut);
  REQUIRE(oldest_put == put.front().segment);
  REQUIRE(log->oldest_collectable_segment() == oldest_put);
  const uint64_t oldest_kept = log->oldest_collectable_segment(Head::kKept);
  REQUIRE(oldest_kept == kept.front().segment);

  uint64_t put_bytes = 0;
  for (const SegmentInfo& s : log->segments())
    if (segments_of(put).contains(s.id)) put_bytes += s.file_bytes;
  REQUIRE(log->usage().put_head_bytes == put_bytes);

  // A collection of the put head's oldest segment copies to the kept head.
  CollectOptions co;
  co.segments = {oldest_put};
  Collection c;
  REQUIRE(log->collect(co, &c).ok());
  REQUIRE(c.relocations.size() == 5 + 3);  // 8 records of 30000 B fill 256 KiB
  for (const Relocation& r : c.relocations) REQUIRE(log->segment_head(r.to.segment) == Head::kKept);
  REQUIRE(log->commit_collection(c.id).ok());
  for (const Relocation& r : c.relocations) {
    const size_t i = std::find_if(put.begin(), put.end(), [&](const Location& l) { return l == r.from; }) - put.begin();
    REQUIRE(i < put.size());
    check_read(log.get(), r.to, 100 * (i / 5) + i % 5);
  }

  // Reopened: which head wrote a segment is not kept; all count as kept.
  REQUIRE(log->close().ok());
  log.reset();
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  REQUIRE(log->usage().put_head_bytes == 0);
  REQUIRE(log->oldest_collectable_segment(Head::kPut) == 0);
  REQUIRE(log->oldest_collectable_segment(Head::kKept) == log->oldest_collectable_segment());
  check_read(log.get(), kept.back(), 550 + 1);
}
