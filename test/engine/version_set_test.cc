// engine::apply, the one rule by which an edit changes a version (recovery,
// log_and_apply and verify_dir all use it), and engine::verify_dir.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "engine/db.h"
#include "engine/verify_dir.h"
#include "engine/version_set.h"
#include "test/engine/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;

namespace {

RunRecord run(int level, uint64_t number) { return {level, number, 100 * number, number, number, number}; }

std::vector<uint64_t> numbers(const std::vector<RunRecord>& runs) {
  std::vector<uint64_t> out;
  for (const RunRecord& r : runs) out.push_back(r.file_number);
  return out;
}

}  // namespace

TEST_CASE("apply removes, then adds each run at the front of its level", "[engine][version_set]") {
  VersionState s;
  VersionEdit e;
  e.added = {run(0, 5), run(0, 6), run(1, 3)};
  e.next_file_number = 7;
  e.last_sequence = 40;
  e.log_number = 4;
  REQUIRE(apply(s, e, &s).ok());
  CHECK(numbers(s.runs()) == std::vector<uint64_t>{6, 5, 3});
  CHECK(s.next_file_number == 7);
  CHECK(s.log_number == 4);

  // A trivial move: the run leaves level 0 and lands in level 1, newest first.
  VersionEdit move;
  move.removed = {{0, 5}};
  move.added = {run(1, 5)};
  move.next_file_number = 3;  // the counters only grow
  move.last_sequence = 10;
  VersionState next;
  REQUIRE(apply(s, move, &next).ok());
  CHECK(numbers(next.levels[0]) == std::vector<uint64_t>{6});
  CHECK(numbers(next.levels[1]) == std::vector<uint64_t>{5, 3});
  CHECK(next.next_file_number == 7);
  CHECK(next.last_sequence == 40);
  CHECK(numbers(s.runs()) == std::vector<uint64_t>{6, 5, 3});  // pure: the base is untouched

  // The snapshot of a state rebuilds it from nothing.
  VersionState rebuilt;
  REQUIRE(apply(VersionState{}, snapshot_of(next), &rebuilt).ok());
  CHECK(numbers(rebuilt.runs()) == numbers(next.runs()));
  CHECK(rebuilt.log_number == next.log_number);
}

TEST_CASE("apply refuses edits that do not fit the version, changing nothing", "[engine][version_set]") {
  VersionState s;
  VersionEdit e;
  e.added = {run(0, 5)};
  REQUIRE(apply(s, e, &s).ok());
  VersionEdit bad_remove;
  bad_remove.removed = {{1, 5}};  // live, but at level 0
  VersionEdit twice;
  twice.added = {run(2, 5)};
  VersionEdit deep;
  deep.added = {run(kMaxLevels, 9)};
  for (const VersionEdit* b : {&bad_remove, &twice, &deep}) {
    VersionState out = s;
    Status st = apply(s, *b, &out);
    CHECK(st.is_corruption());
    CHECK(numbers(out.runs()) == std::vector<uint64_t>{5});
  }
}

TEST_CASE("verify_dir finds nothing wrong in a healthy DB", "[engine][version_set]") {
  test::TempDir dir("lsm4kv_verify_dir");
  {
    Options o;
    o.write_buffer_size = 64 << 10;
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(o, dir.path(), &db).ok());
    for (int i = 0; i < 2000; i++) REQUIRE(db->put({}, "key" + std::to_string(i), std::string(100, 'v')).ok());
    REQUIRE(db->flush().ok());
    REQUIRE(db->close().ok());
  }
  DirCounts counts;
  std::vector<std::string> problems;
  verify_dir(FileSystem::posix(), dir.path(), &counts, &problems);
  CHECK(problems.empty());
  CHECK(counts.manifests == 1);
  CHECK(counts.run_files >= 1);
  CHECK(counts.wal_files >= 1);
}
