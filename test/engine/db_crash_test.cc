// Crash test: a child process writes synced batches (with a tiny write buffer,
// so flushes and compactions run under it) and reports each acknowledged
// batch through a pipe; the parent SIGKILLs it at a random moment, reopens,
// and checks that every acknowledged batch is there and no batch is half
// applied. Batch i puts k<i>/0..3 = i and range-deletes k<i-1>/2..k<i-1>/3,
// so the expected state after the newest applied batch M is exact.
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>

#include "engine/db.h"
#include "test/engine/test_util.h"
#include "test/support/kill_child.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;

namespace {

std::string key(uint64_t batch, int j) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "k%010llu/%d", static_cast<unsigned long long>(batch), j);
  return buf;
}

Options crash_options(SyncMode mode) {
  Options o;
  o.write_buffer_size = 16 << 10;
  o.block_size = 1024;
  o.sync_mode = mode;
  o.shape.size_ratio = 3;
  o.shape.runs_per_level = {2, 1};
  return o;
}

[[noreturn]] void child_main(const std::string& dir, int ack_fd, uint64_t start, SyncMode mode) {
  std::unique_ptr<DB> db;
  if (!DB::open(crash_options(mode), dir, &db).ok()) _exit(3);
  for (uint64_t i = start;; i++) {
    WriteBatch b;
    for (int j = 0; j < 4; j++) b.put(key(i, j), std::to_string(i));
    if (i > 0) b.delete_range(key(i - 1, 2), key(i - 1, 4));
    if (!db->write({}, &b).ok()) _exit(4);
    if (!test::acknowledge(ack_fd, i)) _exit(5);
  }
}

// Checks the state after reopen; returns the newest applied batch (or -1).
int64_t check_state(DB* db, int64_t last_acked, uint64_t seed) {
  // The newest applied batch: scan from the end.
  auto it = db->new_iterator({});
  it->seek_to_last();
  REQUIRE(it->status().ok());
  int64_t newest = -1;
  if (it->valid()) newest = std::stoll(std::string(it->value()));
  INFO("seed " << seed << " last acked " << last_acked << " newest " << newest);
  REQUIRE(newest >= last_acked);
  uint64_t expected_keys = 0;
  for (int64_t i = 0; i <= newest; i++) {
    for (int j = 0; j < 4; j++) {
      std::string v;
      Status s = db->get({}, key(i, j), &v);
      bool present = j < 2 || i == newest;
      if (present) {
        INFO("batch " << i << " key " << j);
        REQUIRE(s.ok());
        REQUIRE(v == std::to_string(i));
        expected_keys++;
      } else {
        INFO("batch " << i << " key " << j);
        REQUIRE(s.is_not_found());
      }
    }
  }
  uint64_t n = 0;
  for (it->seek_to_first(); it->valid(); it->next()) n++;
  REQUIRE(it->status().ok());
  REQUIRE(n == expected_keys);  // nothing from a half-applied later batch
  return newest;
}

void run_kills(SyncMode mode, int kills) {
  const uint64_t seed = test::test_seed();
  std::mt19937_64 rng(seed);
  test::TempDir dir("lsm4kv_crash");
  int64_t newest = -1;
  for (int k = 0; k < kills; k++) {
    INFO("kill " << k << " seed " << seed);
    const int64_t last_acked = test::run_and_kill(
        [&](int ack_fd) { child_main(dir.path(), ack_fd, static_cast<uint64_t>(newest + 1), mode); },
        1 + static_cast<int>(rng() % 8), static_cast<useconds_t>(rng() % 5000), newest);
    std::unique_ptr<DB> db;
    Status s = DB::open(crash_options(mode), dir.path(), &db);
    INFO(s.to_string());
    REQUIRE(s.ok());
    newest = check_state(db.get(), last_acked, seed);
    REQUIRE(db->close().ok());
  }
  // Each child acknowledged at least one batch before its kill.
  WARN("crash test (" << kills << " kills): " << newest + 1 << " batches applied");
  REQUIRE(newest + 1 >= kills);
}

}  // namespace

TEST_CASE("SIGKILL never loses an acknowledged synced batch nor leaves half of one", "[engine][crash]") {
  run_kills(SyncMode::kPerBatch, static_cast<int>(test::env_or("LSM4KV_CRASH_KILLS", 50)));
}

TEST_CASE("SIGKILL under group commit", "[engine][crash]") {
  run_kills(SyncMode::kGroupCommit, 20);
}
