// Options::read_only: an open that writes nothing in the directory, for
// inspection tools. Every file is hashed (name and bytes) before and after
// a read-only session on a store with unflushed WAL data and a torn WAL
// tail; they must be equal.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "engine/db.h"
#include "test/engine/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;
namespace fs = std::filesystem;

namespace {

std::string key(int i) { return "key" + std::to_string(100000 + i); }
std::string value(int i) { return "value-" + std::to_string(i * 7919); }

Options options(bool read_only) {
  Options o;
  o.write_buffer_size = 64 << 10;
  o.block_size = 1024;
  o.sync_mode = SyncMode::kNone;
  o.read_only = read_only;
  return o;
}

std::string the_wal(const std::string& dir) {
  std::string wal;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".wal") wal = e.path();
  return wal;
}

}  // namespace

TEST_CASE("a read-only open writes nothing, reads everything, refuses writes", "[engine][read_only]") {
  test::TempDir dir("lsm4kv_ro");
  const int flushed = 3000, in_wal = 200;
  {
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(options(false), dir.path(), &db).ok());
    for (int i = 0; i < flushed; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
    REQUIRE(db->flush().ok());
    REQUIRE(db->wait_for_compactions().ok());
    for (int i = flushed; i < flushed + in_wal; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
    REQUIRE(db->close().ok());
  }
  // Tear the WAL's last record: the last write is lost, as after a crash.
  const std::string wal = the_wal(dir.path());
  REQUIRE(!wal.empty());
  fs::resize_file(wal, fs::file_size(wal) - 5);
  const int present = flushed + in_wal - 1;
  SECTION("with LOCK present") {}
  SECTION("with LOCK absent: none is created") { fs::remove(dir.path() + "/LOCK"); }

  const auto before = test::dir_contents(dir.path());
  {
    std::unique_ptr<DB> db;
    Status s = DB::open(options(true), dir.path(), &db);
    INFO(s.to_string());
    REQUIRE(s.ok());
    std::string v;
    for (int i = 0; i < present; i++) {
      REQUIRE(db->get({}, key(i), &v).ok());
      REQUIRE(v == value(i));
    }
    REQUIRE(db->get({}, key(present), &v).is_not_found());
    auto it = db->new_iterator({});
    int n = 0;
    for (it->seek_to_first(); it->valid(); it->next()) n++;
    REQUIRE(it->status().ok());
    REQUIRE(n == present);
    REQUIRE(db->verify().ok());
    REQUIRE(db->properties().last_sequence >= static_cast<uint64_t>(present));
    REQUIRE(db->wait_for_compactions().ok());

    WriteBatch b;
    b.put("x", "y");
    for (Status w : {db->put({}, "x", "y"), db->delete_key({}, key(0)),
                     db->delete_range({}, key(0), key(5)), db->write({}, &b), db->flush(),
                     db->compact_all(), db->reshape({.size_ratio = 4, .runs_per_level = {2}})}) {
      INFO(w.to_string());
      REQUIRE(w.is_invalid_argument());
      REQUIRE(w.message().find("read-only") != std::string::npos);
    }
    REQUIRE(db->close().ok());
  }
  REQUIRE(test::dir_contents(dir.path()) == before);

  // And the store is intact for a normal open afterwards.
  std::unique_ptr<DB> db;
  REQUIRE(DB::open(options(false), dir.path(), &db).ok());
  std::string v;
  REQUIRE(db->get({}, key(present - 1), &v).ok());
}

TEST_CASE("a read-only open sees a live writer's lock and never creates a DB", "[engine][read_only]") {
  test::TempDir dir("lsm4kv_ro_lock");
  std::unique_ptr<DB> writer;
  REQUIRE(DB::open(options(false), dir.path(), &writer).ok());
  std::unique_ptr<DB> reader;
  REQUIRE(DB::open(options(true), dir.path(), &reader).is_busy());
  writer.reset();
  REQUIRE(DB::open(options(true), dir.path(), &reader).ok());

  test::TempDir empty("lsm4kv_ro_empty");
  std::unique_ptr<DB> none;
  REQUIRE(DB::open(options(true), empty.path(), &none).is_invalid_argument());
  REQUIRE(fs::is_empty(empty.path()));
  const std::string missing = empty.path() + "/not_there";
  REQUIRE(!DB::open(options(true), missing, &none).ok());
  REQUIRE(!fs::exists(missing));
}
