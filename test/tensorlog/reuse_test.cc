// Reused files (tensor_log.h): a collected segment's file is written over by
// the put head's next segment; its old records never come back, neither in
// reads nor in recovery's scan.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "tensorlog/tensor_log.h"
#include "test/tensorlog/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

namespace {

constexpr size_t kRecordBytes = 60000;

TensorLogOptions reusing() {
  TensorLogOptions o;
  o.segment_size = 1 << 20;
  o.sync = SyncMode::kPerBatch;
  o.reuse_files_within = uint64_t{1} << 30;
  return o;
}

// Appends keys [first, first + n) as one batch; their locations into *locs.
void put(TensorLog* log, uint64_t first, size_t n, std::map<uint64_t, Location>* locs) {
  std::vector<std::string> data, tags;
  for (size_t i = 0; i < n; ++i) {
    data.push_back(test::make_tensor(kRecordBytes, first + i));
    tags.push_back(test::make_tag(first + i));
  }
  std::vector<RecordInput> in;
  for (size_t i = 0; i < n; ++i) in.push_back({tags[i], data[i].data(), kRecordBytes});
  std::vector<Location> got;
  REQUIRE(log->append(in, &got).ok());
  for (size_t i = 0; i < n; ++i) (*locs)[first + i] = got[i];
}

void check_all(TensorLog* log, const std::map<uint64_t, Location>& locs) {
  for (const auto& [key, loc] : locs) {
    std::string out(kRecordBytes, '\0'), tag = test::make_tag(key);
    ReadRequest r;
    r.location = loc;
    r.tag = tag;
    r.dst = out.data();
    r.size = out.size();
    INFO("key " << key << " at " << loc.to_string());
    REQUIRE(log->read({&r, 1}).ok());
    REQUIRE(out == test::make_tensor(kRecordBytes, key));
  }
}

SegmentInfo info(const TensorLog& log, uint64_t segment) {
  for (const SegmentInfo& s : log.segments())
    if (s.id == segment) return s;
  return {};
}

size_t records_in(const TensorLog& log, uint64_t segment) { return info(log, segment).records; }

// Every record of the oldest segment dies (and leaves *locs); its
// collection, which copies nothing.
Collection collect_first_segment(TensorLog* log, std::map<uint64_t, Location>* locs) {
  const uint64_t first = locs->begin()->second.segment;
  std::vector<Location> dead;
  for (auto it = locs->begin(); it != locs->end();)
    if (it->second.segment == first) {
      dead.push_back(it->second);
      it = locs->erase(it);
    } else {
      ++it;
    }
  REQUIRE(log->mark_dead(dead).ok());
  CollectOptions co;
  co.segments = {first};
  Collection c;
  REQUIRE(log->collect(co, &c).ok());
  REQUIRE(c.segments == std::vector<uint64_t>{first});
  REQUIRE(c.relocations.empty());
  return c;
}

}  // namespace

TEST_CASE("a collected segment's file is the put head's next one; its old records never come back",
          "[tensorlog][reuse]") {
  test::TempDir dir;
  const std::string crashed = dir.sub("crashed");
  const std::string logdir = dir.sub("log");
  std::map<uint64_t, Location> locs;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(logdir, reusing(), &log).ok());
  for (uint64_t k = 0; k < 60; k += 10) put(log.get(), k, 10, &locs);
  const uint64_t first = locs[0].segment;
  REQUIRE(records_in(*log, first) >= 10);

  // Every record of the first segment dies; collecting it keeps its file.
  const Collection c = collect_first_segment(log.get(), &locs);
  const std::string old_path = logdir + "/" + segment_file_name(first);
  const uint64_t old_bytes = std::filesystem::file_size(old_path);
  REQUIRE(log->would_keep_spare(c.id));
  REQUIRE(log->commit_collection(c.id, /*may_keep_spare=*/true).ok());
  REQUIRE(std::filesystem::exists(old_path));  // the spare keeps its name until taken
  REQUIRE(log->usage().spare_bytes == old_bytes);

  // The next batch would grow the active segment's file: it goes to the
  // spare, renamed to a new segment, written over from its start.
  put(log.get(), 100, 5, &locs);
  const uint64_t reused = locs[100].segment;
  REQUIRE(reused > first);
  REQUIRE_FALSE(std::filesystem::exists(old_path));
  REQUIRE(std::filesystem::file_size(logdir + "/" + segment_file_name(reused)) == old_bytes);
  REQUIRE(log->usage().spare_bytes == old_bytes - info(*log, reused).file_bytes);
  REQUIRE(info(*log, reused).records == 5);
  check_all(log.get(), locs);

  // A crash now: the reused segment is unsealed, its old records lie past
  // its new ones with sound checksums, of their own segment.
  std::filesystem::copy(logdir, crashed, std::filesystem::copy_options::recursive);
  {
    std::unique_ptr<TensorLog> again;
    REQUIRE(TensorLog::open(crashed, reusing(), &again).ok());
    REQUIRE(records_in(*again, reused) == 5);
    REQUIRE(again->usage().spare_bytes == 0);
    check_all(again.get(), locs);
    REQUIRE(again->close().ok());
  }

  // Sealed, the reused file is cut to its seal.
  put(log.get(), 200, 20, &locs);  // fills it and rotates
  REQUIRE(info(*log, reused).sealed);
  REQUIRE(std::filesystem::file_size(logdir + "/" + segment_file_name(reused)) == info(*log, reused).file_bytes);
  REQUIRE(log->usage().spare_bytes == 0);
  const size_t sealed_records = records_in(*log, reused);
  REQUIRE(sealed_records > 5);
  check_all(log.get(), locs);
  REQUIRE(log->close().ok());
  log.reset();
  std::unique_ptr<TensorLog> reopened;
  Status reopen = TensorLog::open(logdir, reusing(), &reopened);
  INFO(reopen.to_string());
  REQUIRE(reopen.ok());
  REQUIRE(records_in(*reopened, reused) == sealed_records);
  check_all(reopened.get(), locs);
}

TEST_CASE("close deletes a spare no segment took", "[tensorlog][reuse]") {
  test::TempDir dir;
  std::map<uint64_t, Location> locs;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), reusing(), &log).ok());
  for (uint64_t k = 0; k < 40; k += 10) put(log.get(), k, 10, &locs);
  const uint64_t first = locs[0].segment;
  const Collection c = collect_first_segment(log.get(), &locs);
  REQUIRE(log->commit_collection(c.id, true).ok());
  REQUIRE(std::filesystem::exists(dir.sub(segment_file_name(first))));
  REQUIRE(log->close().ok());
  REQUIRE_FALSE(std::filesystem::exists(dir.sub(segment_file_name(first))));
}

TEST_CASE("without may_keep_spare, or past reuse_files_within, a commit deletes the files", "[tensorlog][reuse]") {
  for (bool within : {true, false}) {
    test::TempDir dir;
    TensorLogOptions o = reusing();
    if (!within) o.reuse_files_within = 2 << 20;  // less than the files
    std::map<uint64_t, Location> locs;
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    for (uint64_t k = 0; k < 60; k += 10) put(log.get(), k, 10, &locs);
    const uint64_t first = locs[0].segment;
    const Collection c = collect_first_segment(log.get(), &locs);
    REQUIRE(log->would_keep_spare(c.id) == within);
    REQUIRE(log->commit_collection(c.id, /*may_keep_spare=*/!within).ok());
    REQUIRE_FALSE(std::filesystem::exists(dir.sub(segment_file_name(first))));
    REQUIRE(log->usage().spare_bytes == 0);
  }
}

TEST_CASE("a segment file whose sound header names another segment held nothing acknowledged",
          "[tensorlog][reuse][recovery]") {
  test::TempDir dir;
  {
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), reusing(), &log).ok());
    std::map<uint64_t, Location> locs;
    put(log.get(), 0, 3, &locs);
    REQUIRE(log->close().ok());
  }
  // Segment 9's file still holding segment 4's header (its rename was
  // durable, its new header not), and segment 8's file holding segment 9's
  // (the other way round).
  for (auto [name, header] : {std::pair<uint64_t, uint64_t>{9, 4}, {8, 9}}) {
    std::string block(3 * kAlign, 'x');
    encode_segment_header(header, block.data());
    std::ofstream(dir.sub(segment_file_name(name)), std::ios::binary).write(block.data(), block.size());
  }
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), reusing(), &log).ok());
  REQUIRE_FALSE(std::filesystem::exists(dir.sub(segment_file_name(9))));
  REQUIRE_FALSE(std::filesystem::exists(dir.sub(segment_file_name(8))));
  for (const SegmentInfo& s : log->segments()) REQUIRE(s.id < 8);
}
