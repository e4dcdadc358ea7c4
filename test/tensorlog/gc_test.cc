#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>

#include "tensorlog/tensor_log.h"
#include "test/tensorlog/fault_fs.h"
#include "test/tensorlog/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

namespace {

// A toy index, like the store's: key -> location, with the data we expect.
struct Index {
  std::map<uint64_t, Location> loc;
  std::map<uint64_t, size_t> size;

  static std::string data(uint64_t key, size_t size) { return test::make_tensor(size, key); }
  static std::string tag(uint64_t key) { return test::make_tag(key); }

  void put(TensorLog* log, uint64_t first, size_t count, size_t size) {
    std::vector<std::string> d, t;
    std::vector<RecordInput> in;
    for (size_t i = 0; i < count; ++i) {
      d.push_back(data(first + i, size));
      t.push_back(tag(first + i));
    }
    for (size_t i = 0; i < count; ++i) in.push_back({t[i], d[i].data(), size});
    std::vector<Location> locs;
    REQUIRE(log->append(in, &locs).ok());
    for (size_t i = 0; i < count; ++i) {
      loc[first + i] = locs[i];
      this->size[first + i] = size;
    }
  }
  // Forgets the key stored at l (the caller marks it dead). False: no key is.
  bool erase_at(const Location& l) {
    const auto it = std::find_if(loc.begin(), loc.end(), [&](const auto& kv) { return kv.second == l; });
    if (it == loc.end()) return false;
    loc.erase(it);
    return true;
  }
  // Applies relocations whose key still points at the old location.
  void apply(const Collection& c) {
    std::map<std::pair<uint64_t, uint64_t>, Location> moved;
    for (const Relocation& r : c.relocations) moved[{r.from.segment, r.from.offset}] = r.to;
    for (auto& [k, l] : loc) {
      auto it = moved.find({l.segment, l.offset});
      if (it != moved.end()) l = it->second;
    }
  }
  Status check(TensorLog* log, uint64_t key) const {
    std::string out(size.at(key), '\0');
    std::string t = tag(key);
    ReadRequest r;
    r.location = loc.at(key);
    r.tag = t;
    r.dst = out.data();
    r.size = out.size();
    Status s = log->read({&r, 1});
    if (s.ok() && out != data(key, out.size())) return Status::corruption("wrong bytes");
    return s;
  }
  void check_all(TensorLog* log) const {
    for (const auto& [k, l] : loc) {
      Status s = check(log, k);
      INFO("key " << k << ": " << s.to_string());
      REQUIRE(s.ok());
    }
  }
};

TensorLogOptions small_segments() {
  TensorLogOptions o;
  o.segment_size = 1 << 20;
  o.sync = SyncMode::kNone;
  o.codec = Codec::kLz4;
  return o;
}

// 40 records in 4 segments, every other one dead (and out of *idx), and
// the collection of those segments.
Collection collect_half_dead(TensorLog* log, Index* idx) {
  for (uint64_t b = 0; b < 4; ++b) idx->put(log, b * 10, 10, 60000);
  std::vector<Location> dead;
  for (uint64_t k = 0; k < 40; k += 2) dead.push_back(idx->loc[k]);
  REQUIRE(log->mark_dead(dead).ok());
  for (uint64_t k = 0; k < 40; k += 2) idx->loc.erase(k);
  Collection c;
  REQUIRE(log->collect({0.9, 8, 0, 1 << 30, {}}, &c).ok());
  REQUIRE(!c.relocations.empty());
  return c;
}

uint64_t live_records(const TensorLog& log) {
  uint64_t live = 0;
  for (const SegmentInfo& s : log.segments()) live += s.live_records;
  return live;
}

}  // namespace

TEST_CASE("collect rewrites mostly-dead segments; commit deletes them", "[tensorlog][gc]") {
  test::TempDir dir;
  TensorLogOptions o = small_segments();
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  Index idx;
  for (uint64_t b = 0; b < 10; ++b) idx.put(log.get(), b * 10, 10, 60000);
  size_t segments_before = log->segments().size();
  REQUIRE(segments_before > 4);

  // Kill 3 of every 4 keys.
  std::vector<Location> dead;
  for (auto it = idx.loc.begin(); it != idx.loc.end();) {
    if (it->first % 4 != 0) {
      dead.push_back(it->second);
      it = idx.loc.erase(it);
    } else {
      ++it;
    }
  }
  REQUIRE(log->mark_dead(dead).ok());
  REQUIRE(log->mark_dead(dead).ok());  // twice is harmless

  Collection c;
  REQUIRE(log->collect({}, &c).ok());
  REQUIRE(c.id != 0);
  REQUIRE_FALSE(c.segments.empty());
  REQUIRE(c.lost.empty());
  Collection again;
  REQUIRE(log->collect({}, &again).is_busy());  // one collection at a time
  // Before commit both copies are readable.
  idx.check_all(log.get());
  Index moved = idx;
  moved.apply(c);
  moved.check_all(log.get());
  REQUIRE(log->commit_collection(c.id).ok());
  for (uint64_t s : c.segments) REQUIRE_FALSE(::access(dir.sub(segment_file_name(s)).c_str(), F_OK) == 0);
  moved.check_all(log.get());
  // An old location of a moved record is gone.
  for (const auto& [k, l] : idx.loc) {
    if (l.segment == c.segments[0]) {
      REQUIRE(idx.check(log.get(), k).is_not_found());
      break;
    }
  }
  REQUIRE(log->segments().size() < segments_before);
  uint64_t live = 0;
  for (const SegmentInfo& s : log->segments()) live += s.live_records;
  REQUIRE(live == moved.loc.size());

  // Dead accounting survives a reopen.
  log.reset();
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  live = 0;
  for (const SegmentInfo& s : log->segments()) live += s.live_records;
  REQUIRE(live == moved.loc.size());
  moved.check_all(log.get());
}

TEST_CASE("small segments are merged", "[tensorlog][gc]") {
  test::TempDir dir;
  TensorLogOptions o = small_segments();
  Index idx;
  for (uint64_t i = 0; i < 10; ++i) {  // every close seals a small segment
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    idx.put(log.get(), i * 2, 2, 10000);
  }
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  REQUIRE(log->segments().size() == 10);
  Collection c;
  REQUIRE(log->collect({}, &c).ok());
  REQUIRE(c.segments.size() == 10);
  REQUIRE(c.relocations.size() == 20);
  idx.apply(c);
  REQUIRE(log->commit_collection(c.id).ok());
  REQUIRE(log->segments().size() == 1);
  idx.check_all(log.get());
}

TEST_CASE("a crash before commit: the pending collection is committed or aborted",
          "[tensorlog][gc][recovery]") {
  for (bool commit : {true, false}) {
    test::TempDir dir;
    TensorLogOptions o = small_segments();
    Index idx;
    Collection c;
    {
      std::unique_ptr<TensorLog> log;
      REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
      for (uint64_t b = 0; b < 6; ++b) idx.put(log.get(), b * 10, 10, 60000);
      std::vector<Location> dead;
      for (uint64_t k = 0; k < 60; ++k)
        if (k % 2) dead.push_back(idx.loc[k]);
      for (uint64_t k = 0; k < 60; ++k)
        if (k % 2) idx.loc.erase(k);
      REQUIRE(log->mark_dead(dead).ok());
      REQUIRE(log->collect({0.9, 8, 0, 1 << 30, {}}, &c).ok());
      REQUIRE(c.id != 0);
      // "crash": the log goes away without commit
    }
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    auto pending = log->pending_collections();
    REQUIRE(pending.size() == 1);
    REQUIRE(pending[0].relocations.size() == c.relocations.size());
    idx.check_all(log.get());  // old locations still good
    if (commit) {
      idx.apply(pending[0]);
      REQUIRE(log->commit_collection(pending[0].id).ok());
    } else {
      REQUIRE(log->abort_collection(pending[0].id).ok());
    }
    REQUIRE(log->pending_collections().empty());
    idx.check_all(log.get());
    uint64_t live = 0;
    for (const SegmentInfo& s : log->segments()) live += s.live_records;
    REQUIRE(live == idx.loc.size());
  }
}

TEST_CASE("a record that dies during a collection: its copy dies at commit", "[tensorlog][gc]") {
  test::TempDir dir;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), small_segments(), &log).ok());
  Index idx;
  Collection c = collect_half_dead(log.get(), &idx);
  Location victim = c.relocations[0].from;
  REQUIRE(log->mark_dead({&victim, 1}).ok());
  REQUIRE(log->commit_collection(c.id).ok());
  REQUIRE(live_records(*log) == 20 - 1);
}

TEST_CASE("a collection's copies count as copying, its segments as victims, until they leave the table", "[tensorlog][gc]") {
  test::TempDir dir;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), small_segments(), &log).ok());
  REQUIRE(log->usage().copying_bytes == 0);
  Index idx;
  Collection c = collect_half_dead(log.get(), &idx);
  uint64_t copies = 0;
  for (const Relocation& r : c.relocations) copies += allocated_bytes(r.to);
  REQUIRE(c.copied_bytes == copies);
  REQUIRE(log->usage().copying_bytes == copies);
  // Its victims stand counted, with what they leave: every live record's copy.
  uint64_t victims = 0;
  for (uint64_t s : c.segments) victims += std::filesystem::file_size(dir.sub(segment_file_name(s)));
  REQUIRE(log->usage().victim_bytes == victims);
  REQUIRE(log->usage().victim_planned_bytes == copies);

  // A record that dies before the retirement: its copy dies with it.
  const Location gone = c.relocations[0].from;
  REQUIRE(idx.erase_at(gone));
  REQUIRE(log->mark_dead({&gone, 1}).ok());
  Index moved = idx;
  moved.apply(c);

  // Retired: the old locations stop resolving, nothing on disk changes,
  // abort is refused, and commit finishes the job.
  REQUIRE(log->retire_collection(c.id).ok());
  REQUIRE(log->retire_collection(c.id).ok());  // idempotent
  REQUIRE(log->usage().copying_bytes == 0);
  REQUIRE(log->usage().victim_bytes == 0);
  REQUIRE(log->usage().victim_planned_bytes == 0);
  for (uint64_t s : c.segments) {
    REQUIRE(::access(dir.sub(segment_file_name(s)).c_str(), F_OK) == 0);
    for (const SegmentInfo& i : log->segments()) REQUIRE(i.id != s);
  }
  const auto moved_from = std::find_if(idx.loc.begin(), idx.loc.end(), [&](const auto& kv) {
    return kv.second.segment == c.segments[0];
  });
  REQUIRE(moved_from != idx.loc.end());
  REQUIRE(idx.check(log.get(), moved_from->first).is_not_found());
  REQUIRE_FALSE(log->abort_collection(c.id).ok());
  REQUIRE(log->pending_collections().size() == 1);
  REQUIRE(log->commit_collection(c.id).ok());
  for (uint64_t s : c.segments) REQUIRE_FALSE(::access(dir.sub(segment_file_name(s)).c_str(), F_OK) == 0);
  moved.check_all(log.get());
  REQUIRE(live_records(*log) == moved.loc.size());
}

TEST_CASE("an aborted collection's copies stop counting as copying, its victims as victims", "[tensorlog][gc]") {
  test::TempDir dir;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), small_segments(), &log).ok());
  Index idx;
  Collection c = collect_half_dead(log.get(), &idx);
  REQUIRE(log->usage().copying_bytes > 0);
  REQUIRE(log->usage().victim_bytes > 0);
  REQUIRE(log->abort_collection(c.id).ok());
  REQUIRE(log->usage().copying_bytes == 0);
  REQUIRE(log->usage().victim_bytes == 0);
  REQUIRE(log->usage().victim_planned_bytes == 0);
}

TEST_CASE("GC while readers run", "[tensorlog][gc][concurrency]") {
  test::TempDir dir;
  TensorLogOptions o = small_segments();
  o.max_readers = 4;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  Index idx;
  for (uint64_t b = 0; b < 8; ++b) idx.put(log.get(), b * 8, 8, 50000);
  std::shared_mutex mu;  // the store's lock: commit excludes readers of locations
  std::atomic<bool> stop{false}, writer_waiting{false};
  std::atomic<uint64_t> reads{0}, errors{0};
  std::string first_error;
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      while (!stop) {
        while (writer_waiting) std::this_thread::yield();  // glibc rwlocks prefer readers
        std::shared_lock<std::shared_mutex> l(mu);
        auto it = idx.loc.begin();
        std::advance(it, static_cast<long>(rng() % idx.loc.size()));
        Status s = idx.check(log.get(), it->first);
        if (!s.ok() && errors++ == 0) first_error = s.to_string();
        ++reads;
      }
    });
  }
  uint64_t next_key = 1000;
  int collections = 0;
  for (int round = 0; round < 8; ++round) {
    // Overwrite half the keys: new records, old ones dead.
    std::vector<Location> dead;
    {
      writer_waiting = true;
      std::unique_lock<std::shared_mutex> l(mu);
      writer_waiting = false;
      std::vector<uint64_t> keys;
      for (const auto& [k, loc] : idx.loc)
        if ((k + round) % 2) keys.push_back(k);
      for (uint64_t k : keys) {
        dead.push_back(idx.loc[k]);
        idx.loc.erase(k);
      }
      idx.put(log.get(), next_key, keys.size(), 50000);
      next_key += keys.size();
    }
    REQUIRE(log->mark_dead(dead).ok());
    Collection c;
    REQUIRE(log->collect({0.6, 4, 0, 1 << 30, {}}, &c).ok());  // copying runs beside readers
    if (c.id == 0) continue;
    writer_waiting = true;
    std::unique_lock<std::shared_mutex> l(mu);
    writer_waiting = false;
    idx.apply(c);
    ++collections;
    REQUIRE(log->commit_collection(c.id).ok());
  }
  while (reads < 50) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  INFO(first_error);
  REQUIRE(errors == 0);
  REQUIRE(collections > 0);
  idx.check_all(log.get());
}

// Region eviction keeps records by their reads since written (tensor_log.h,
// mark_read): a clean restart keeps them (read_counts.h), a copy starts at
// zero, and a damaged READS file restores nothing.
TEST_CASE("read counts survive a clean restart; copies start unread", "[tensorlog][gc]") {
  test::TempDir dir;
  TensorLogOptions o = small_segments();
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  Index idx;
  idx.put(log.get(), 0, 800, 3000);  // past the first segment: it is sealed
  for (int k = 0; k < 5; k++) log->mark_read({&idx.loc[0], 1});  // saturates at kMaxReads
  log->mark_read({&idx.loc[1], 1});
  log->mark_read({&idx.loc[2], 1});
  log->mark_read({&idx.loc[2], 1});
  REQUIRE(log->mark_dead({&idx.loc[2], 1}).ok());  // dead: not saved
  auto reads_of = [&](TensorLog* l) {
    std::vector<uint32_t> r;
    for (uint64_t k = 0; k < 4; k++) r.push_back(l->reads(idx.loc[k]));
    return r;
  };
  REQUIRE(reads_of(log.get()) == std::vector<uint32_t>{RecordTable::kMaxReads, 1, 2, 0});
  REQUIRE(log->close().ok());
  log.reset();
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  REQUIRE(reads_of(log.get()) == std::vector<uint32_t>{RecordTable::kMaxReads, 1, 0, 0});
  REQUIRE_FALSE(std::filesystem::exists(dir.path() + "/READS"));  // applied once

  // The first segment, collected by name: its records' copies are unread.
  CollectOptions co;
  co.segments = {idx.loc[0].segment};
  Collection c;
  REQUIRE(log->collect(co, &c).ok());
  REQUIRE(!c.relocations.empty());
  idx.apply(c);
  REQUIRE(log->commit_collection(c.id).ok());
  REQUIRE(log->reads(idx.loc[0]) == 0);
  REQUIRE(idx.check(log.get(), 0).ok());

  // A damaged file restores nothing, and opens all the same.
  log->mark_read({&idx.loc[5], 1});
  REQUIRE(log->close().ok());
  log.reset();
  {
    std::string data;
    REQUIRE(read_file(FileSystem::posix(), dir.path() + "/READS", &data).ok());
    data[data.size() - 1] ^= 1;
    REQUIRE(write_file_atomic(FileSystem::posix(), dir.path(), "READS", data).ok());
  }
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  REQUIRE(log->reads(idx.loc[5]) == 0);
  REQUIRE(log->close().ok());
}

// move_records (region eviction's preparation): a collection of chosen
// records whose segment stays.
namespace {

// Keys 0..29 over two segments or more; moves the even keys of 0..9 (in the
// first, which is sealed).
Collection move_evens_of_first(TensorLog* log, Index* idx) {
  for (uint64_t b = 0; b < 3; ++b) idx->put(log, b * 10, 10, 60000);
  REQUIRE(idx->loc[0].segment != idx->loc[29].segment);
  REQUIRE(idx->loc[0].segment == idx->loc[9].segment);
  std::vector<Location> chosen;
  for (uint64_t k = 0; k < 10; k += 2) chosen.push_back(idx->loc[k]);
  Collection c;
  REQUIRE(log->move_records(chosen, &c).ok());
  REQUIRE(c.id != 0);
  REQUIRE(c.segments.empty());
  REQUIRE(c.relocations.size() == 5);
  return c;
}

uint64_t live_records_of(const TensorLog& log, uint64_t segment) {
  for (const SegmentInfo& s : log.segments())
    if (s.id == segment) return s.live_records;
  return 0;
}

}  // namespace

TEST_CASE("move_records copies chosen records; their segment stays, and the originals are dead at commit",
          "[tensorlog][gc][move]") {
  test::TempDir dir;
  TensorLogOptions o = small_segments();
  Index idx;
  {
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    Collection c = move_evens_of_first(log.get(), &idx);
    const uint64_t first = idx.loc[0].segment;
    const uint64_t before = live_records_of(*log, first);
    REQUIRE(before >= 10);
    REQUIRE(log->usage().copying_bytes == c.copied_bytes);
    idx.check_all(log.get());
    idx.apply(c);
    REQUIRE(log->commit_collection(c.id).ok());
    REQUIRE(log->pending_collections().empty());
    REQUIRE(log->usage().copying_bytes == 0);
    REQUIRE(::access(dir.sub(segment_file_name(first)).c_str(), F_OK) == 0);
    REQUIRE(live_records_of(*log, first) == before - 5);
    REQUIRE(live_records(*log) == 30);
    idx.check_all(log.get());
    for (const Relocation& r : c.relocations) REQUIRE(r.to.segment != first);
    // The segment's collection now copies only what was left in it.
    Collection rest;
    CollectOptions co;
    co.segments = {first};
    REQUIRE(log->collect(co, &rest).ok());
    REQUIRE(rest.relocations.size() == before - 5);
    idx.apply(rest);
    REQUIRE(log->commit_collection(rest.id).ok());
    idx.check_all(log.get());
    REQUIRE(live_records(*log) == 30);
  }
  // The marks reach DEAD.log: a reopen counts the same live records.
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  REQUIRE(live_records(*log) == 30);
  idx.check_all(log.get());
}

TEST_CASE("a collection's copy is synced at its end and at its segments' seals, not chunk by chunk",
          "[tensorlog][gc][move]") {
  // Chunks are read while the one before is appended; odd record sizes
  // leave each chunk's tail mid-block, and small segments make the copy
  // roll (a chunk laid out for a tail it does not get).
  for (uint64_t segment_size : {uint64_t{32} << 20, uint64_t{4} << 20}) {
    INFO("segment size " << segment_size);
    test::TempDir dir;
    test::FaultFileSystem fs(FileSystem::posix());
    TensorLogOptions o;
    o.fs = &fs;
    o.sync = SyncMode::kPerBatch;  // puts are synced batch by batch
    o.segment_size = segment_size;
    Index idx;
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    for (uint64_t b = 0; b < 40; ++b) idx.put(log.get(), b, 1, (1 << 20) - 1000 + b * 37);
    std::vector<Location> chosen;  // the sealed segments' records: ~20 MiB, three copy chunks
    for (const auto& [k, l] : idx.loc)
      if (chosen.size() < 20 && l.segment != idx.loc.rbegin()->second.segment) chosen.push_back(l);
    REQUIRE(chosen.size() >= 18);
    const int before = fs.segment_syncs();
    Collection c;
    REQUIRE(log->move_records(chosen, &c).ok());
    REQUIRE(c.relocations.size() == chosen.size());
    REQUIRE(c.lost.empty());
    std::set<uint64_t> to_segments;
    for (const Relocation& r : c.relocations) to_segments.insert(r.to.segment);
    // One sync for the copy; a segment it filled was synced before its seal.
    CHECK(fs.segment_syncs() == before + static_cast<int>(to_segments.size()));
    if (segment_size == (uint64_t{32} << 20)) CHECK(to_segments.size() == 1);
    idx.apply(c);
    REQUIRE(log->commit_collection(c.id).ok());
    idx.check_all(log.get());
    // Durable as it was acknowledged: a reopen reads the copies.
    log.reset();
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    idx.check_all(log.get());
  }
}

TEST_CASE("move_records: a crash before commit leaves it pending, to commit or abort", "[tensorlog][gc][move][recovery]") {
  for (bool commit : {true, false}) {
    test::TempDir dir;
    TensorLogOptions o = small_segments();
    Index idx;
    Collection c;
    uint64_t first = 0, before = 0;
    {
      std::unique_ptr<TensorLog> log;
      REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
      c = move_evens_of_first(log.get(), &idx);
      first = idx.loc[0].segment;
      before = live_records_of(*log, first);
    }
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    auto pending = log->pending_collections();
    REQUIRE(pending.size() == 1);
    REQUIRE(pending[0].segments.empty());
    REQUIRE(pending[0].relocations.size() == c.relocations.size());
    idx.check_all(log.get());
    if (commit) {
      idx.apply(pending[0]);
      REQUIRE(log->commit_collection(pending[0].id).ok());
      REQUIRE(live_records_of(*log, first) == before - 5);
    } else {
      REQUIRE(log->abort_collection(pending[0].id).ok());
      REQUIRE(live_records_of(*log, first) == before);
    }
    REQUIRE(log->pending_collections().empty());
    idx.check_all(log.get());
    REQUIRE(live_records(*log) == 30);
  }
}

TEST_CASE("move_records: a record that dies during the move loses its copy, not its neighbours",
          "[tensorlog][gc][move]") {
  test::TempDir dir;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), small_segments(), &log).ok());
  Index idx;
  Collection c = move_evens_of_first(log.get(), &idx);
  const uint64_t first = idx.loc[0].segment;
  const uint64_t before = live_records_of(*log, first);
  Location gone = idx.loc[2];
  idx.loc.erase(2);
  REQUIRE(log->mark_dead({&gone, 1}).ok());
  idx.apply(c);
  REQUIRE(log->commit_collection(c.id).ok());
  REQUIRE(live_records(*log) == 29);
  REQUIRE(live_records_of(*log, first) == before - 5);
  idx.check_all(log.get());
}

TEST_CASE("move_records skips dead records and refuses the active segment or a pending collection",
          "[tensorlog][gc][move]") {
  test::TempDir dir;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), small_segments(), &log).ok());
  Index idx;
  for (uint64_t b = 0; b < 3; ++b) idx.put(log.get(), b * 10, 10, 60000);
  Location dead = idx.loc[1];
  REQUIRE(log->mark_dead({&dead, 1}).ok());
  Collection none;
  REQUIRE(log->move_records({&dead, 1}, &none).ok());
  REQUIRE(none.id == 0);
  Location active = idx.loc[29];
  Status s = log->move_records({&active, 1}, &none);
  REQUIRE(s.is_invalid_argument());
  Location live = idx.loc[0];
  Collection c;
  REQUIRE(log->move_records({&live, 1}, &c).ok());
  REQUIRE(c.relocations.size() == 1);
  Location other = idx.loc[3];
  REQUIRE(log->move_records({&other, 1}, &none).is_busy());
  REQUIRE(log->abort_collection(c.id).ok());
  idx.check_all(log.get());
}

// A before_reclaim hook that counts its calls and returns what the test sets.
struct ReclaimHook {
  int calls = 0;
  Status result;
  void attach(TensorLog* log) {
    log->set_before_reclaim([this] {
      calls++;
      return result;
    });
  }
};

// The store writes evictions and relocations to its index unsynced: their
// dead marks wait (defer_dead), and no file goes before the log's
// before_reclaim hook has made those writes durable.
TEST_CASE("defer_dead: dead in memory at once; DEAD.log and file deletions wait for before_reclaim",
          "[tensorlog][gc][defer]") {
  test::TempDir dir;
  TensorLogOptions o = small_segments();
  Index idx;
  ReclaimHook hook;
  auto hooked = [&](std::unique_ptr<TensorLog>* log) {
    REQUIRE(TensorLog::open(dir.path(), o, log).ok());
    hook.attach(log->get());
  };
  uint64_t first = 0;
  {
    std::unique_ptr<TensorLog> log;
    hooked(&log);
    for (uint64_t b = 0; b < 4; ++b) idx.put(log.get(), b * 10, 10, 60000);
    first = idx.loc[0].segment;
    std::vector<Location> dead;
    for (auto it = idx.loc.begin(); it != idx.loc.end();) {
      if (it->second.segment != first) break;
      dead.push_back(it->second);
      it = idx.loc.erase(it);
    }
    REQUIRE(dead.size() >= 5);
    log->defer_dead(dead);
    REQUIRE(live_records_of(*log, first) == 0);  // in memory at once
    CollectOptions co;
    co.live_ratio_threshold = 1e-12;  // all-dead segments only
    co.small_segment_count = SIZE_MAX;
    Collection c;
    REQUIRE(log->collect(co, &c).ok());
    REQUIRE(c.segments == std::vector<uint64_t>{first});
    REQUIRE(c.relocations.empty());
    // The hook fails (the index could not be synced): the file stays.
    hook.result = Status::io_error("index sync failed");
    REQUIRE(log->commit_collection(c.id).is_io_error());
    REQUIRE(hook.calls == 1);
    REQUIRE(::access(dir.sub(segment_file_name(first)).c_str(), F_OK) == 0);
    hook.result = Status::OK();
    REQUIRE(log->commit_collection(c.id).ok());
    REQUIRE(hook.calls == 2);
    REQUIRE_FALSE(::access(dir.sub(segment_file_name(first)).c_str(), F_OK) == 0);
    idx.check_all(log.get());
    // A deferred mark that no commit or settle_dead wrote: a crash (or a
    // close) before them keeps the record live, as the caller's reference
    // may be back.
    log->defer_dead(std::span<const Location>(&idx.loc.at(39), 1));
    REQUIRE(live_records(*log) == idx.loc.size() - 1);
  }
  {
    std::unique_ptr<TensorLog> log;
    hooked(&log);
    REQUIRE(live_records(*log) == idx.loc.size());
    idx.check_all(log.get());
    log->defer_dead(std::span<const Location>(&idx.loc.at(39), 1));
    idx.loc.erase(39);
    REQUIRE(log->settle_dead().ok());
    REQUIRE(hook.calls == 3);
  }
  std::unique_ptr<TensorLog> log;
  hooked(&log);
  REQUIRE(live_records(*log) == idx.loc.size());  // settled: in DEAD.log
  idx.check_all(log.get());
}

TEST_CASE("settle_collection: a commit's syncs and marks ahead of it; the commit then only deletes",
          "[tensorlog][gc][defer]") {
  test::TempDir dir;
  TensorLogOptions o = small_segments();
  Index idx;
  ReclaimHook hook;
  const std::string dead_log = dir.sub("DEAD.log");
  auto dead_log_bytes = [&] {
    std::error_code ec;
    const auto n = std::filesystem::file_size(dead_log, ec);
    return ec ? uint64_t{0} : static_cast<uint64_t>(n);
  };
  {
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    hook.attach(log.get());
    Collection c = collect_half_dead(log.get(), &idx);
    // A record that dies during the collection: its copy is a retired mark.
    const Relocation died = c.relocations[0];
    REQUIRE(log->mark_dead({&died.from, 1}).ok());
    REQUIRE(idx.erase_at(died.from));
    idx.apply(c);
    const uint64_t marks_before = dead_log_bytes();

    // The hook fails: nothing reaches DEAD.log, and a retry settles.
    hook.result = Status::io_error("index sync failed");
    REQUIRE(log->settle_collection(c.id).is_io_error());
    REQUIRE(dead_log_bytes() == marks_before);
    hook.result = Status::OK();
    REQUIRE(log->settle_collection(c.id).ok());
    REQUIRE(hook.calls == 2);
    const uint64_t settled = dead_log_bytes();
    REQUIRE(settled > marks_before);  // the copy's mark, durable before any file goes
    for (uint64_t s : c.segments) REQUIRE(::access(dir.sub(segment_file_name(s)).c_str(), F_OK) == 0);
    REQUIRE(live_records(*log) == idx.loc.size());

    // The commit syncs the index again (writes may have come since), but
    // does not write the settled marks twice.
    REQUIRE(log->commit_collection(c.id).ok());
    REQUIRE(hook.calls == 3);
    REQUIRE(dead_log_bytes() == settled);
    for (uint64_t s : c.segments) REQUIRE_FALSE(::access(dir.sub(segment_file_name(s)).c_str(), F_OK) == 0);
    idx.check_all(log.get());
  }
  // The settled mark survives: a reopen counts the same live records.
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  REQUIRE(live_records(*log) == idx.loc.size());
  idx.check_all(log.get());
}
