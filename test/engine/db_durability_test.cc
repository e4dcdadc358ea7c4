// Durability of the engine's directory: every file it creates (WAL, run,
// manifest) and every rename (CURRENT) is covered by a directory fsync
// before any durable state depends on it, so a power cut that drops
// unsynced directory entries cannot lose a file the store relies on.
#include <catch2/catch.hpp>

#include "engine/db.h"
#include "test/engine/fs_wrappers.h"
#include "test/engine/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;

namespace {

std::string key(int i) { return "key" + std::to_string(100000 + i); }
std::string value(int i) { return "value-" + std::to_string(i * 7919) + std::string(40, 'v'); }

Options audited_options(FileSystem* fs) {
  Options o;
  o.fs = fs;
  o.write_buffer_size = 16 << 10;  // many flushes
  o.block_size = 1024;
  o.sync_mode = SyncMode::kPerBatch;
  o.shape.size_ratio = 3;  // and compactions
  o.shape.runs_per_level = {2, 1};
  return o;
}

}  // namespace

TEST_CASE("every created file and rename is covered by a directory sync before it is relied on",
          "[engine][durability]") {
  test::TempDir dir("lsm4kv_dirsync");
  test::DirSyncAuditFs audit(FileSystem::posix());
  const std::string db_dir = dir.path() + "/db";  // created by open: its parent is synced too
  const int n = 2000;
  {
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(audited_options(&audit), db_dir, &db).ok());
    for (int i = 0; i < n; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
    REQUIRE(db->wait_for_compactions().ok());
    REQUIRE(db->reshape({.size_ratio = 4, .runs_per_level = {1}}).ok());
    REQUIRE(db->compact_all().ok());
    for (int i = n; i < n + 100; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
    REQUIRE(db->close().ok());  // the last 100 stay in the WAL
  }
  {
    std::unique_ptr<DB> db;  // recovery flushes them, writes a new WAL and manifest
    REQUIRE(DB::open(audited_options(&audit), db_dir, &db).ok());
    std::string v;
    for (int i = 0; i < n + 100; i += 97) {
      REQUIRE(db->get({}, key(i), &v).ok());
      REQUIRE(v == value(i));
    }
    REQUIRE(db->put({}, key(0), value(0)).ok());
    REQUIRE(db->close().ok());
  }
  auto violations = audit.violations();
  for (const auto& v : violations) UNSCOPED_INFO(v);
  REQUIRE(violations.empty());
  auto uncovered = audit.uncovered();
  for (const auto& u : uncovered) UNSCOPED_INFO("never covered: " << u);
  REQUIRE(uncovered.empty());
  // The checks ran: WALs acknowledged, runs and WALs named, CURRENT switched.
  REQUIRE(audit.checks() > 20);
  REQUIRE(audit.dir_syncs() > 20);
  WARN("directory syncs: " << audit.dir_syncs() << " for " << audit.files_created()
                           << " files created; " << audit.checks() << " dependencies checked");
}
