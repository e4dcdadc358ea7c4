// Power cuts under the POSIX loss model (test/support/power_loss_fs.h): a DB
// with a tiny write buffer (so flushes and compactions run) takes synced
// batches from one or more writer threads until the power goes off after a
// seeded random number of file operations; the DB is destroyed, the
// unsynced tails and undirsynced directory entries are lost, and the DB is
// reopened with the plain POSIX file system. Every acknowledged batch must be
// there, and no batch half applied.
//
// Batch i of writer w puts w/i/0..3 = i, deletes w/(i-1)/1 and range-deletes
// [w/(i-1)/2, w/(i-1)/4); so once batch N is the newest applied, writer w
// holds exactly w/i/0 for i < N and w/N/0..3.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "engine/db.h"
#include "test/engine/test_util.h"
#include "test/support/power_loss_fs.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;

namespace {

std::string key(int writer, int64_t batch, int j) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "w%02d/%010lld/%d", writer, static_cast<long long>(batch), j);
  return buf;
}

Options cut_options(SyncMode mode, FileSystem* fs) {
  Options o;
  o.fs = fs;
  o.write_buffer_size = 8 << 10;
  o.block_size = 1024;
  o.sync_mode = mode;
  o.shape.size_ratio = 3;
  o.shape.runs_per_level = {2, 1};
  return o;
}

struct Writer {
  int64_t next = 0;    // the first batch of the next round
  int64_t acked = -1;  // the newest acknowledged batch
};

// Writes batches from w->next on until a write fails; returns the failure.
Status write_until_failure(DB* db, int id, Writer* w) {
  for (int64_t i = w->next;; i++) {
    WriteBatch b;
    for (int j = 0; j < 4; j++) b.put(key(id, i, j), std::to_string(i));
    if (i > 0) {
      b.delete_key(key(id, i - 1, 1));
      b.delete_range(key(id, i - 1, 2), key(id, i - 1, 4));
    }
    Status s = db->write({}, &b);
    if (!s.ok()) return s;
    w->acked = i;
  }
}

// Checks the reopened DB against the writers' acknowledgements in one scan,
// sets each writer's next batch, and returns the number of keys.
uint64_t check(DB* db, std::vector<Writer>* writers) {
  std::map<int, std::vector<std::pair<int64_t, int>>> seen;  // writer -> (batch, j)
  auto it = db->new_iterator({});
  for (it->seek_to_first(); it->valid(); it->next()) {
    std::string k(it->key());
    int w = 0, j = 0;
    long long i = 0;
    INFO("key " << k);
    REQUIRE(std::sscanf(k.c_str(), "w%d/%lld/%d", &w, &i, &j) == 3);
    REQUIRE(it->value() == std::to_string(i));
    seen[w].push_back({i, j});
  }
  REQUIRE(it->status().ok());
  uint64_t keys = 0;
  for (size_t id = 0; id < writers->size(); id++) {
    Writer& w = (*writers)[id];
    const auto& entries = seen[static_cast<int>(id)];
    int64_t newest = -1;
    for (const auto& e : entries) newest = std::max(newest, e.first);
    INFO("writer " << id << " acked " << w.acked << " newest " << newest);
    REQUIRE(newest >= w.acked);        // nothing acknowledged was lost
    REQUIRE(newest <= w.acked + 1);    // at most the batch in flight
    // Exactly the state after batch `newest`: nothing half applied.
    for (const auto& [i, j] : entries) {
      INFO("batch " << i << " key " << j);
      REQUIRE((j == 0 || i == newest));
    }
    REQUIRE(entries.size() == static_cast<size_t>(newest < 0 ? 0 : newest + 4));
    if (newest >= 0) {
      // The same through point lookups (Bloom filters, fence pointers).
      std::string v;
      REQUIRE(db->get({}, key(static_cast<int>(id), newest, 3), &v).ok());
      REQUIRE(db->get({}, key(static_cast<int>(id), newest / 2, 1), &v).is_not_found() ==
              (newest / 2 != newest));
    }
    w.next = newest + 1;
    w.acked = newest;
    keys += entries.size();
  }
  return keys;
}

struct Totals {
  int cuts = 0, cut_in_open = 0;
  uint64_t ops = 0, batches = 0, keys = 0;
  test::PowerLossReport loss;
};

// One cut: open under the model, write until the power goes off, lose, reopen.
void one_cut(const std::string& root, SyncMode mode, std::vector<Writer>* writers, uint64_t seed,
             uint64_t cut_ops, Totals* t) {
  const std::string dir = root + "/db";
  test::PowerLossFileSystem fs(FileSystem::posix(), root + "/graveyard");
  fs.cut_after(cut_ops);
  std::vector<int64_t> before;
  for (const Writer& w : *writers) before.push_back(w.acked);
  {
    std::unique_ptr<DB> db;
    Status s = DB::open(cut_options(mode, &fs), dir, &db);
    if (!s.ok()) {
      INFO(s.to_string());
      REQUIRE(fs.is_cut());  // the cut came during open
      t->cut_in_open++;
    } else {
      std::vector<Status> failures(writers->size());
      std::vector<std::thread> threads;
      for (size_t id = 0; id < writers->size(); id++)
        threads.emplace_back([&, id] {
          failures[id] = write_until_failure(db.get(), static_cast<int>(id), &(*writers)[id]);
        });
      for (std::thread& th : threads) th.join();
      for (const Status& f : failures) {
        INFO(f.to_string());
        REQUIRE(fs.is_cut());  // a write fails only because the power is off
      }
    }
    // The DB goes away with the power off: it must not crash or hang.
  }
  REQUIRE(fs.is_cut());
  t->ops += fs.ops();
  test::PowerLossReport loss;
  REQUIRE(fs.apply_loss(seed, &loss).ok());
  t->loss.files_cut += loss.files_cut;
  t->loss.files_torn += loss.files_torn;
  t->loss.bytes_lost += loss.bytes_lost;
  t->loss.entries_undone += loss.entries_undone;

  std::unique_ptr<DB> db;
  Status s = DB::open(cut_options(mode, FileSystem::posix()), dir, &db);
  INFO("reopen after the cut: " << s.to_string());
  REQUIRE(s.ok());
  t->keys = check(db.get(), writers);
  REQUIRE(db->close().ok());
  for (size_t id = 0; id < writers->size(); id++)
    t->batches += static_cast<uint64_t>((*writers)[id].acked - before[id]);
  t->cuts++;
}

// cuts cuts in all, a fresh DB every cuts_per_db; the cut falls within the
// first max_ops file operations of each open.
void run_cuts(SyncMode mode, int writers, int cuts, int cuts_per_db, uint64_t max_ops) {
  const uint64_t seed = test::test_seed();
  std::mt19937_64 rng(seed);
  Totals t;
  for (int c = 0; c < cuts;) {
    test::TempDir root("lsm4kv_db_power");
    std::vector<Writer> ws(static_cast<size_t>(writers));
    for (int k = 0; k < cuts_per_db && c < cuts; k++, c++) {
      uint64_t cut_ops = 1 + rng() % max_ops, loss_seed = rng();
      INFO("seed " << seed << " cut " << c << " after " << cut_ops << " ops, loss seed " << loss_seed);
      one_cut(root.path(), mode, &ws, loss_seed, cut_ops, &t);
    }
  }
  WARN("DB power cuts (" << writers << " writer(s)): " << t.cuts << " cuts (" << t.cut_in_open
       << " during open), " << t.ops << " file operations, " << t.batches
       << " acknowledged batches; lost: " << t.loss.files_cut << " tails dropped, "
       << t.loss.files_torn << " torn, " << t.loss.bytes_lost << " bytes, "
       << t.loss.entries_undone << " directory entries undone");
  // The workload made progress: the test did not pass by writing nothing.
  REQUIRE(t.batches >= static_cast<uint64_t>(cuts));
}

}  // namespace

TEST_CASE("power cuts never lose an acknowledged batch nor leave half of one", "[engine][power]") {
  run_cuts(SyncMode::kPerBatch, 1, static_cast<int>(test::env_or("LSM4KV_POWER_CUTS", 60)), 15,
           400);
}

TEST_CASE("power cuts under group commit, three writers", "[engine][power]") {
  run_cuts(SyncMode::kGroupCommit, 3, static_cast<int>(test::env_or("LSM4KV_POWER_CUTS", 60)), 15,
           400);
}

// Unsynced writes, then sync_wal: every write before a sync_wal that
// returned OK survives the cut, across memtable switches (the tiny write
// buffer switches WALs every few batches, and the WAL left behind must be
// synced for a later sync to cover it).
TEST_CASE("sync_wal makes the unsynced writes before it durable, across WAL switches", "[engine][power]") {
  const uint64_t seed = test::test_seed();
  std::mt19937_64 rng(seed);
  const int cuts = static_cast<int>(test::env_or("LSM4KV_POWER_CUTS", 60));
  int64_t synced_total = 0;
  for (int c = 0; c < cuts; c++) {
    test::TempDir root("lsm4kv_db_sync_wal");
    const std::string dir = root.path() + "/db";
    const uint64_t cut_ops = 1 + rng() % 400, loss_seed = rng();
    INFO("seed " << seed << " cut " << c << " after " << cut_ops << " ops, loss seed " << loss_seed);
    int64_t synced = -1;  // the newest write a sync_wal covered
    {
      test::PowerLossFileSystem fs(FileSystem::posix(), root.path() + "/graveyard");
      fs.cut_after(cut_ops);
      std::unique_ptr<DB> db;
      if (DB::open(cut_options(SyncMode::kNone, &fs), dir, &db).ok()) {
        for (int64_t i = 0;; i++) {
          if (!db->put({}, key(0, i, 0), std::string(100, 'v')).ok()) break;
          if (rng() % 16 != 0) continue;
          if (!db->sync_wal().ok()) break;
          synced = i;
        }
      }
      REQUIRE(fs.is_cut());
      db.reset();
      REQUIRE(fs.apply_loss(loss_seed).ok());
    }
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(cut_options(SyncMode::kNone, FileSystem::posix()), dir, &db).ok());
    for (int64_t i = 0; i <= synced; i++) {
      std::string v;
      INFO("write " << i << " of " << synced << " synced");
      REQUIRE(db->get({}, key(0, i, 0), &v).ok());
    }
    synced_total += synced + 1;
    REQUIRE(db->close().ok());
  }
  REQUIRE(synced_total >= cuts);  // the workload made progress
}
