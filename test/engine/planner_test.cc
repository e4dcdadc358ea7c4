// The compaction planner is a pure function: its decisions for leveling,
// tiering, mixed K and lazy reshapes are checked directly.
#include <catch2/catch.hpp>

#include <random>

#include "engine/compaction_planner.h"
#include "engine/log_format.h"
#include "engine/memtable.h"
#include "engine/write_batch.h"
#include "test/engine/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;

namespace {
constexpr uint64_t M = 1000;
Shape shape(int t, std::vector<int> k) {
  Shape s;
  s.size_ratio = t;
  s.runs_per_level = std::move(k);
  return s;
}
std::vector<RunSummary> runs(std::initializer_list<uint64_t> sizes, uint64_t first_number) {
  std::vector<RunSummary> out;
  for (uint64_t b : sizes) out.push_back({first_number++, b});
  return out;
}
}  // namespace

TEST_CASE("planner: level 0 drains into level 1, merging under leveling", "[engine][planner]") {
  LevelSummaries levels = {runs({M}, 10), runs({3 * M}, 20)};
  auto t = plan_compaction(levels, shape(10, {1}), M, 16);
  REQUIRE(t);
  REQUIRE(t->input_level == 0);
  REQUIRE(t->output_level == 1);
  REQUIRE(t->merge_output_level);
  REQUIRE(t->inputs.size() == 2);
  REQUIRE_FALSE(t->trivial_move);
  REQUIRE(t->bottommost);
}

TEST_CASE("planner: tiering moves runs without rewriting until the level is full", "[engine][planner]") {
  LevelSummaries levels = {runs({M}, 10), runs({M, M}, 20)};
  auto t = plan_compaction(levels, shape(4, {3}), M, 16);
  REQUIRE(t);
  REQUIRE(t->trivial_move);
  REQUIRE_FALSE(t->merge_output_level);
  // Level 1 full (4 runs of M = M·T): everything goes to level 2 in one merge.
  levels = {{}, runs({M, M, M, M}, 20)};
  t = plan_compaction(levels, shape(4, {3}), M, 16);
  REQUIRE(t);
  REQUIRE(t->input_level == 1);
  REQUIRE(t->output_level == 2);
  REQUIRE(t->inputs.size() == 4);
  REQUIRE(t->bottommost);
  // Below capacity: nothing to do.
  levels = {{}, runs({M, M, M}, 20)};
  REQUIRE_FALSE(plan_compaction(levels, shape(4, {3}), M, 16));
}

TEST_CASE("planner: lazy reshape — a smaller K is honoured at the next compaction into the level",
          "[engine][planner]") {
  LevelSummaries levels = {{}, runs({M, M, M}, 20)};
  // Lowering K to 1 does not trigger work by itself...
  REQUIRE_FALSE(plan_compaction(levels, shape(4, {1}), M, 16));
  // ...but the next arrival merges all of level 1.
  levels[0] = runs({M}, 10);
  auto t = plan_compaction(levels, shape(4, {1}), M, 16);
  REQUIRE(t);
  REQUIRE(t->merge_output_level);
  REQUIRE(t->inputs.size() == 4);
  // Raising K leaves existing runs alone: the arrival is a move.
  t = plan_compaction(levels, shape(8, {7}), M, 16);
  REQUIRE(t->trivial_move);
  // A new T changes capacity: at T = 2 level 1 (3M >= 2M) overflows.
  levels[0].clear();
  t = plan_compaction(levels, shape(2, {3}), M, 16);
  REQUIRE(t);
  REQUIRE(t->input_level == 1);
}

TEST_CASE("planner: not bottommost when older runs stay in the output level", "[engine][planner]") {
  LevelSummaries levels = {runs({M}, 10), runs({M}, 20), runs({50 * M}, 30)};
  auto t = plan_compaction(levels, shape(10, {3, 1}), M, 16);
  REQUIRE(t->trivial_move);
  REQUIRE_FALSE(t->bottommost);
  auto full = plan_full_compaction(levels);
  REQUIRE(full);
  REQUIRE(full->inputs.size() == 3);
  REQUIRE(full->output_level == 2);
  REQUIRE(full->bottommost);
  REQUIRE_FALSE(plan_full_compaction(LevelSummaries{{}, {}}));
}

TEST_CASE("planner: applying a task to the summaries, as log-and-apply does", "[engine][planner]") {
  // Leveling: level 0's run merges with level 1's; the output goes in front
  // of what stays in level 1 (nothing here) and every input leaves.
  LevelSummaries levels = {runs({M}, 10), runs({3 * M}, 20), runs({50 * M}, 30)};
  auto t = plan_compaction(levels, shape(10, {1}), M, 16);
  REQUIRE(t);
  apply_compaction(&levels, *t, RunSummary{40, 4 * M});
  CHECK(levels[0].empty());
  REQUIRE(levels[1].size() == 1);
  CHECK(levels[1][0].file_number == 40);
  CHECK(levels[2].size() == 1);
  // Tiering: a trivial move takes the run itself, newest first in level 1.
  levels = {runs({M}, 10), runs({M, M}, 20)};
  t = plan_compaction(levels, shape(4, {3}), M, 16);
  REQUIRE(t->trivial_move);
  apply_compaction(&levels, *t, std::nullopt);
  CHECK(levels[0].empty());
  REQUIRE(levels[1].size() == 3);
  CHECK(levels[1][0].file_number == 10);
  // An output level past the summaries' end is added; an empty merge output
  // (everything dropped) only removes the inputs.
  levels = {{}, runs({4 * M, 4 * M}, 20)};
  t = plan_compaction(levels, shape(4, {3}), M, 16);
  REQUIRE(t->output_level == 2);
  apply_compaction(&levels, *t, RunSummary{50, 8 * M});
  REQUIRE(levels.size() == 3);
  CHECK(levels[1].empty());
  CHECK(levels[2][0].file_number == 50);
  apply_compaction(&levels, *plan_full_compaction(levels), std::nullopt);
  CHECK(levels[2].empty());
}

TEST_CASE("memtable: snapshots see only their versions", "[engine][memtable]") {
  MemTable m;
  m.add(1, EntryType::kPut, "a", "a1");
  m.add(2, EntryType::kPut, "b", "b2");
  m.add(3, EntryType::kPut, "a", "a3");
  m.add(4, EntryType::kDelete, "b", "");
  m.add_range_tombstone(5, "a", "b");
  MemLookup l;
  m.get("a", 2, &l);
  REQUIRE((l.found && l.value == "a1"));
  m.get("a", 10, &l);
  REQUIRE((l.found && l.value == "a3" && l.seq == 3));
  m.get("b", 3, &l);
  REQUIRE((l.found && l.type == EntryType::kPut));
  m.get("b", 4, &l);
  REQUIRE((l.found && l.type == EntryType::kDelete));
  REQUIRE(m.max_covering_tombstone("a", 10) == 5);
  REQUIRE(m.max_covering_tombstone("a", 4) == 0);
  auto it = m.new_iterator(2);
  it->seek_to_last();
  REQUIRE((it->valid() && it->key() == "b" && it->value() == "b2"));
  it->prev();
  REQUIRE((it->valid() && it->key() == "a" && it->value() == "a1"));
  it->seek_for_prev("az");
  REQUIRE((it->valid() && it->key() == "a"));
  it->seek("a0");
  REQUIRE((it->valid() && it->key() == "b"));
}

TEST_CASE("memtable: range tombstones are cut once and seen per snapshot", "[engine][memtable]") {
  MemTable m;
  REQUIRE(m.fragmented_tombstones(100)->empty());
  m.add_range_tombstone(5, "b", "d");
  m.add_range_tombstone(7, "c", "f");
  auto at7 = m.fragmented_tombstones(7);
  REQUIRE(m.fragmented_tombstones(9) == at7);  // shared until a tombstone is added
  REQUIRE(at7->max_covering_seq("c") == 7);
  REQUIRE(at7->max_covering_seq("b") == 5);
  REQUIRE(at7->max_covering_seq("f") == 0);
  // A snapshot between the two sees only the first, and does not replace the
  // newer cut.
  auto at6 = m.fragmented_tombstones(6);
  REQUIRE(at6->max_covering_seq("c") == 5);
  REQUIRE(at6->max_covering_seq("e") == 0);
  REQUIRE(m.fragmented_tombstones(7) == at7);
  m.add_range_tombstone(9, "a", "z");
  auto at9 = m.fragmented_tombstones(9);
  REQUIRE(at9 != at7);
  REQUIRE(at9->max_covering_seq("x") == 9);
  REQUIRE(at7->max_covering_seq("x") == 0);  // a reader's cut never changes
  REQUIRE(m.max_covering_tombstone("e", 8) == 7);
  REQUIRE(m.max_covering_tombstone("e", 4) == 0);
  // Out of sequence order (never from the DB) is still answered per snapshot.
  m.add_range_tombstone(3, "m", "n");
  REQUIRE(m.max_covering_tombstone("m", 4) == 3);
  REQUIRE(m.max_covering_tombstone("m", 2) == 0);
  REQUIRE(m.max_covering_tombstone("m", 20) == 9);
  REQUIRE(m.max_covering_tombstone("c", 6) == 5);
}

TEST_CASE("range tombstones: laying one over a cut equals cutting all from scratch",
          "[engine][memtable]") {
  std::mt19937_64 rng(7);
  auto key = [&] { return std::string(1, static_cast<char>('a' + rng() % 12)) + (rng() % 2 ? "m" : ""); };
  for (int round = 0; round < 300; ++round) {
    std::vector<RangeTombstone> all;
    FragmentedTombstones incremental;
    for (int i = 0; i < 12; ++i) {
      RangeTombstone t{key(), key(), 1 + rng() % 20};  // empty and reversed ranges too
      all.push_back(t);
      incremental = incremental.with(t);
      FragmentedTombstones scratch(all);
      INFO("round " << round << " tombstone " << i << ": [" << t.begin << ", " << t.end << ") @"
                    << t.seq);
      REQUIRE(incremental == scratch);
    }
  }
}

TEST_CASE("record log: round trip and torn tails", "[engine][log]") {
  test::TempDir dir("lsm4kv_log");
  FileSystem* fs = FileSystem::posix();
  std::string path = dir.path() + "/000001.wal";
  {
    std::unique_ptr<WritableFile> f;
    REQUIRE(fs->new_writable(path, &f).ok());
    LogWriter w(std::move(f));
    for (int i = 0; i < 10; i++) REQUIRE(w.add_record(std::string(100 + i, 'a' + i)).ok());
    REQUIRE(w.sync().ok());
  }
  auto count = [&](LogReader::TailMode mode, Status* st) {
    std::unique_ptr<LogReader> r;
    REQUIRE(LogReader::open(fs, path, mode, &r).ok());
    int n = 0;
    for (;;) {
      std::string_view rec;
      bool done;
      *st = r->next(&rec, &done);
      if (!st->ok() || done) return n;
      REQUIRE(rec == std::string(100 + n, 'a' + n));
      n++;
    }
  };
  Status s;
  REQUIRE(count(LogReader::TailMode::kStrict, &s) == 10);
  uint64_t size;
  REQUIRE(fs->file_size(path, &size).ok());
  REQUIRE(fs->truncate(path, size - 50).ok());
  REQUIRE(count(LogReader::TailMode::kStrict, &s) == 9);
  REQUIRE(s.ok());
  // Zeros past the end (a file extended but never written) are a torn tail too.
  {
    std::unique_ptr<WritableFile> f;
    REQUIRE(fs->new_appendable(path, &f).ok());
    REQUIRE(f->append(std::string(4096, '\0')).ok());
  }
  REQUIRE(count(LogReader::TailMode::kTolerateDamagedLast, &s) == 9);
  REQUIRE(s.ok());
  // A manifest never tolerates a damaged complete record.
  count(LogReader::TailMode::kStrict, &s);
  REQUIRE(s.is_corruption());
}

TEST_CASE("record log: a header that crosses into a lost sector is a torn tail", "[engine][log]") {
  // Found by the power-cut test: the synced tail ended 5 bytes before a
  // sector boundary, the next record's header crossed it, and that sector
  // was lost while a later one was kept.
  test::TempDir dir("lsm4kv_log_sector");
  FileSystem* fs = FileSystem::posix();
  const std::string path = dir.path() + "/000001.wal";
  {
    std::unique_ptr<WritableFile> f;
    REQUIRE(fs->new_writable(path, &f).ok());
    LogWriter w(std::move(f));
    REQUIRE(w.add_record(std::string(507 - kLogHeaderSize, 'a')).ok());  // the next header at 507
    REQUIRE(w.add_record(std::string(600, 'b')).ok());
    REQUIRE(w.add_record(std::string(900, 'c')).ok());
    REQUIRE(w.sync().ok());
  }
  std::string data;
  REQUIRE(read_file(fs, path, &data).ok());
  std::fill(data.begin() + 512, data.begin() + 1024, '\0');  // sector 1 lost, sectors 2.. kept
  {
    std::unique_ptr<WritableFile> f;
    REQUIRE(fs->new_writable(path, &f).ok());
    REQUIRE(f->append(data).ok());
    REQUIRE(f->close().ok());
  }
  std::unique_ptr<LogReader> r;
  REQUIRE(LogReader::open(fs, path, LogReader::TailMode::kTolerateDamagedLast, &r).ok());
  std::string_view rec;
  bool done = false;
  REQUIRE(r->next(&rec, &done).ok());
  REQUIRE(rec == std::string(507 - kLogHeaderSize, 'a'));
  Status s = r->next(&rec, &done);
  INFO(s.to_string());
  REQUIRE(s.ok());
  REQUIRE(done);
}

TEST_CASE("write batch: encoding round trip and malformed input", "[engine][batch]") {
  WriteBatch b;
  b.put("k1", "v1");
  b.delete_key("k2");
  b.delete_range("a", "z");
  b.set_sequence(100);
  struct Rec : WriteBatch::Handler {
    std::string log;
    void put(SequenceNumber s, std::string_view k, std::string_view v) override {
      log += "P" + std::to_string(s) + std::string(k) + std::string(v) + ";";
    }
    void delete_key(SequenceNumber s, std::string_view k) override {
      log += "D" + std::to_string(s) + std::string(k) + ";";
    }
    void delete_range(SequenceNumber s, std::string_view a, std::string_view z) override {
      log += "R" + std::to_string(s) + std::string(a) + std::string(z) + ";";
    }
  } rec;
  REQUIRE(b.for_each(&rec).ok());
  REQUIRE(rec.log == "P100k1v1;D101k2;R102az;");
  WriteBatch bad;
  REQUIRE(WriteBatch::from_rep(b.rep().substr(0, b.rep().size() - 1), &bad).ok());
  REQUIRE(bad.for_each(&rec).is_corruption());
  REQUIRE(WriteBatch::from_rep("short", &bad).is_corruption());
}
