// The tensor log opened read-only (TensorLogOptions::read_only) writes
// nothing to its directory — not on a torn tail, a zeroed new segment, a
// leftover temporary file or a DEAD.log to rewrite — reads what is there,
// reports the torn tail, refuses writes, and sees a live writer's lock.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tensorlog/tensor_log.h"
#include "test/tensorlog/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

namespace {

using test::Rec;

// Every file's name and bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out[e.path().filename().string()] = ss.str();
  }
  return out;
}

Status read_one(TensorLog* log, const Rec& r, std::string* out) {
  out->assign(r.data.size(), '\0');
  ReadRequest q;
  q.location = r.loc;
  q.tag = r.tag;
  q.dst = out->data();
  q.size = out->size();
  return log->read({&q, 1});
}

}  // namespace

TEST_CASE("a read-only tensor log writes nothing and reads what is there", "[tensorlog][read_only]") {
  test::TempDir dir;
  TensorLogOptions o;
  o.segment_size = 256 << 10;
  std::vector<Rec> recs(8);
  {
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    for (size_t i = 0; i < recs.size(); ++i) {
      recs[i].tag = test::make_tag(i);
      recs[i].data = test::make_tensor(40000 + 1000 * i, i);
      RecordInput in{recs[i].tag, recs[i].data.data(), recs[i].data.size()};
      std::vector<Location> locs;
      REQUIRE(log->append({&in, 1}, &locs).ok());
      recs[i].loc = locs[0];
    }
    REQUIRE(log->mark_dead({&recs[0].loc, 1}).ok());
    REQUIRE(log->close().ok());
  }
  // Damage a writable open would repair: the last segment loses its seal and
  // half of its last record (a torn tail); a segment created and never
  // synced (a zeroed header); a temporary file of an interrupted rewrite.
  const Rec& last = recs.back();
  const std::string last_path = dir.sub(segment_file_name(last.loc.segment));
  REQUIRE(::truncate(last_path.c_str(), static_cast<off_t>(last.loc.offset + last.loc.length / 2)) == 0);
  std::ofstream(dir.sub(segment_file_name(last.loc.segment + 1)), std::ios::binary)
      << std::string(2 * kAlign, '\0');
  std::ofstream(dir.sub("DEAD.log.tmp")) << "partial";
  const auto before = snapshot(dir.path());

  TensorLogOptions ro = o;
  ro.read_only = true;
  {
    std::unique_ptr<TensorLog> log;
    Status s = TensorLog::open(dir.path(), ro, &log);
    INFO(s.to_string());
    REQUIRE(s.ok());
    CHECK(log->read_only());
    uint64_t records = 0, torn = 0;
    for (const SegmentInfo& i : log->segments()) {
      records += i.records;
      torn += i.torn_bytes;
      CHECK(i.id != last.loc.segment + 1);  // the zeroed one is not listed
    }
    CHECK(records == recs.size() - 1);
    CHECK(torn == last.loc.length / 2);
    CHECK(log->usage().dead_bytes == allocated_bytes(recs[0].loc));  // DEAD.log replayed
    std::string out;
    for (size_t i = 0; i + 1 < recs.size(); ++i) {
      REQUIRE(read_one(log.get(), recs[i], &out).ok());
      CHECK(out == recs[i].data);
    }
    CHECK_FALSE(read_one(log.get(), last, &out).ok());
    // Writes are refused; marks stay in memory.
    RecordInput in{recs[1].tag, recs[1].data.data(), recs[1].data.size()};
    std::vector<Location> locs;
    CHECK(log->append({&in, 1}, &locs).is_not_supported());
    CHECK(log->sync().is_not_supported());
    Collection c;
    CHECK(log->collect({}, &c).is_not_supported());
    REQUIRE(log->mark_dead({&recs[1].loc, 1}).ok());
    CHECK(log->usage().dead_bytes == allocated_bytes(recs[0].loc) + allocated_bytes(recs[1].loc));
    REQUIRE(log->close().ok());
  }
  CHECK(snapshot(dir.path()) == before);

  // A writable open repairs what read-only left alone.
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  CHECK_FALSE(std::filesystem::exists(dir.sub(segment_file_name(last.loc.segment + 1))));
  for (const SegmentInfo& i : log->segments()) CHECK(i.torn_bytes == 0);
  CHECK(snapshot(dir.path()) != before);
}

TEST_CASE("a read-only tensor log creates no LOCK but sees a writer's", "[tensorlog][read_only]") {
  test::TempDir dir;
  TensorLogOptions ro;
  ro.read_only = true;
  std::unique_ptr<TensorLog> log;
  CHECK(TensorLog::open(dir.sub("missing"), ro, &log).is_not_found());
  CHECK_FALSE(std::filesystem::exists(dir.sub("missing")));
  REQUIRE(TensorLog::open(dir.path(), ro, &log).ok());  // an empty log
  CHECK(std::filesystem::is_empty(dir.path()));
  log.reset();

  std::unique_ptr<TensorLog> writer;
  REQUIRE(TensorLog::open(dir.path(), {}, &writer).ok());
  // flock locks conflict between open file descriptions, also in one process.
  CHECK(TensorLog::open(dir.path(), ro, &log).is_busy());
  writer.reset();
  REQUIRE(TensorLog::open(dir.path(), ro, &log).ok());
}
