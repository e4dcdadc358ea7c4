// A full disk (BudgetFs: appends past a byte budget fail with NoSpace):
// the DB opens on it and serves every acknowledged write, writes get
// NoSpace while it lasts, and once space is back the DB works again without
// a reopen — both after an open whose rewrite could not be written and after
// a background flush or compaction failed for lack of space.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "engine/db.h"
#include "test/engine/fs_wrappers.h"
#include "test/engine/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;
namespace fs = std::filesystem;

namespace {

std::string key(int i) { return "key" + std::to_string(100000 + i); }
std::string value(int i) { return "value-" + std::to_string(i * 7919) + std::string(30, 'x'); }

Options options(FileSystem* fs) {
  Options o;
  o.fs = fs;
  o.write_buffer_size = 16 << 10;
  o.block_size = 1024;
  o.sync_mode = SyncMode::kNone;  // close() syncs; the test closes cleanly
  return o;
}

void require_all(DB* db, int n) {
  std::string v;
  for (int i = 0; i < n; i++) {
    INFO("key " << i << " of " << n);
    REQUIRE(db->get({}, key(i), &v).ok());
    REQUIRE(v == value(i));
  }
}

// Puts keys from *next on until one fails; that failure must be NoSpace.
void fill_until_no_space(DB* db, int* next) {
  for (int tries = 0; tries < 200000; tries++) {
    Status s = db->put({}, key(*next), value(*next));
    if (!s.ok()) {
      INFO(s.to_string());
      REQUIRE(s.is_no_space());
      return;
    }
    ++*next;
  }
  FAIL("the disk never filled");
}

}  // namespace

TEST_CASE("open on a full disk succeeds, serves every acknowledged write, and heals when space returns",
          "[engine][full_disk]") {
  test::TempDir dir("lsm4kv_full");
  test::BudgetFs disk(FileSystem::posix());
  int acked = 0;
  {
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(options(&disk), dir.path(), &db).ok());
    for (; acked < 1500; acked++) REQUIRE(db->put({}, key(acked), value(acked)).ok());
    REQUIRE(db->flush().ok());
    disk.set_budget(disk.used() + 40000);
    fill_until_no_space(db.get(), &acked);
    // (not asserted here that it lasts: a compaction finishing now frees space)
    require_all(db.get(), acked);  // reads work on a full disk
    db->close().ignore_error();
  }
  REQUIRE(disk.no_space_errors() > 0);
  disk.set_budget(disk.used());  // not one more byte
  const auto before = test::dir_contents(dir.path());
  {
    std::unique_ptr<DB> db;
    Status s = DB::open(options(&disk), dir.path(), &db);
    INFO(s.to_string());
    REQUIRE(s.ok());
    // Recovery could not write its run or manifest: the old files are all
    // there, unchanged.
    auto after = test::dir_contents(dir.path());
    for (const auto& [name, bytes] : before) {
      if (name == "LOCK") continue;
      INFO(name);
      REQUIRE(after.count(name));
      REQUIRE(after[name] == bytes);
    }
    require_all(db.get(), acked);
    REQUIRE(db->put({}, key(acked), value(acked)).is_no_space());
    REQUIRE(db->flush().is_no_space());
    require_all(db.get(), acked);

    disk.set_budget(UINT64_MAX);  // space is back: no reopen needed
    for (int i = 0; i < 2000; i++, acked++) REQUIRE(db->put({}, key(acked), value(acked)).ok());
    REQUIRE(db->flush().ok());
    REQUIRE(db->compact_all().ok());
    require_all(db.get(), acked);
    REQUIRE(db->close().ok());
  }
  std::unique_ptr<DB> db;
  REQUIRE(DB::open(options(FileSystem::posix()), dir.path(), &db).ok());
  require_all(db.get(), acked);
  REQUIRE(db->verify().ok());
}

TEST_CASE("a flush or compaction that fails with NoSpace does not poison the DB", "[engine][full_disk]") {
  test::TempDir dir("lsm4kv_full_bg");
  test::BudgetFs runs_disk(FileSystem::posix(), ".run");  // only runs run out of space
  Options o = options(&runs_disk);
  o.shape = {.size_ratio = 30, .runs_per_level = {20}};  // runs stay apart until compact_all
  std::unique_ptr<DB> db;
  REQUIRE(DB::open(o, dir.path(), &db).ok());
  int acked = 0;
  for (; acked < 1500; acked++) REQUIRE(db->put({}, key(acked), value(acked)).ok());
  REQUIRE(db->flush().ok());

  SECTION("flush") {
    runs_disk.set_budget(runs_disk.used());
    fill_until_no_space(db.get(), &acked);  // the WAL took them until a flush failed
    REQUIRE(db->flush().is_no_space());
    require_all(db.get(), acked);
  }
  SECTION("compaction") {
    runs_disk.set_budget(runs_disk.used());
    REQUIRE(db->compact_all().is_no_space());
    require_all(db.get(), acked);
  }
  REQUIRE(runs_disk.no_space_errors() > 0);
  runs_disk.set_budget(UINT64_MAX);
  for (int i = 0; i < 2000; i++, acked++) REQUIRE(db->put({}, key(acked), value(acked)).ok());
  REQUIRE(db->flush().ok());
  REQUIRE(db->compact_all().ok());
  REQUIRE(db->properties().levels.back().runs.size() == 1);
  REQUIRE(db->properties().levels[0].runs.empty());
  require_all(db.get(), acked);
  REQUIRE(db->close().ok());
  REQUIRE(DB::open(options(FileSystem::posix()), dir.path(), &db).ok());
  require_all(db.get(), acked);
}
