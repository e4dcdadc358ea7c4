// Corruption: damaged run files, WALs and manifests are reported as
// Corruption naming the file (or, for a torn WAL tail, recovered up to the
// last good record) — never a crash, never wrong data.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "base/coding.h"
#include "engine/counters.h"
#include "engine/db.h"
#include "engine/file_names.h"
#include "engine/log_format.h"
#include "engine/version_edit.h"
#include "test/engine/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;
namespace fs = std::filesystem;

namespace {

std::string key(int i) { return "key" + std::to_string(100000 + i); }
std::string value(int i) { return "value-" + std::to_string(i * 7919); }

Options small_options() {
  Options o;
  o.write_buffer_size = 64 << 10;
  o.block_size = 1024;
  o.sync_mode = SyncMode::kNone;  // close() syncs the WAL; the tests only close cleanly
  return o;
}

std::vector<std::string> files_with(const std::string& dir, const std::string& part) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(part) != std::string::npos) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

// Reads everything; returns the first non-OK status. Any value read must be
// the right one.
Status read_all(DB* db, int n) {
  for (int i = 0; i < n; i++) {
    std::string v;
    Status s = db->get({}, key(i), &v);
    if (s.ok()) REQUIRE(v == value(i));
    else if (!s.is_not_found()) return s;
  }
  auto it = db->new_iterator({});
  for (it->seek_to_first(); it->valid(); it->next()) {
    std::string k(it->key());
    int i = std::stoi(k.substr(3)) - 100000;
    REQUIRE(it->value() == value(i));
  }
  return it->status();
}

void expect_corruption_naming(const Status& s, const std::string& file) {
  INFO(s.to_string());
  REQUIRE(s.is_corruption());
  REQUIRE(s.message().find(fs::path(file).filename().string()) != std::string::npos);
}

}  // namespace

TEST_CASE("a damaged run file is Corruption naming it", "[engine][corruption]") {
  test::TempDir base("lsm4kv_corrupt");
  const int n = 3000;
  {
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(small_options(), base.path(), &db).ok());
    for (int i = 0; i < n; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
    REQUIRE(db->compact_all().ok());
  }
  auto runs = files_with(base.path(), ".run");
  REQUIRE(runs.size() == 1);
  const uint64_t size = fs::file_size(runs[0]);
  std::mt19937_64 rng(test::test_seed());
  for (int trial = 0; trial < 40; trial++) {
    test::TempDir copy("lsm4kv_corrupt_copy");
    fs::copy(base.path(), copy.path(), fs::copy_options::recursive);
    REQUIRE(fs::exists(copy.path() + "/" + fs::path(runs[0]).filename().string()));
    std::string run = copy.path() + "/" + fs::path(runs[0]).filename().string();
    uint64_t offset = trial < 30 ? rng() % size : size - 1 - rng() % 64;  // body, then footer
    bool truncate = trial % 10 == 9;
    if (truncate) fs::resize_file(run, offset);
    else flip_byte(run, offset);
    INFO("trial " << trial << (truncate ? " truncate at " : " flip at ") << offset << " of " << size);
    std::unique_ptr<DB> db;
    Status s = DB::open(small_options(), copy.path(), &db);
    if (s.ok()) {
      Status r = read_all(db.get(), n);
      Status v = db->verify();
      expect_corruption_naming(v, run);
      if (!r.ok()) expect_corruption_naming(r, run);
    } else {
      expect_corruption_naming(s, run);
    }
  }
}

TEST_CASE("WAL: damage in the middle is Corruption, a torn tail recovers the good prefix",
          "[engine][corruption]") {
  test::TempDir dir("lsm4kv_wal");
  const int n = 200;
  {
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(small_options(), dir.path(), &db).ok());
    for (int i = 0; i < n; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
  }  // closed without a flush: everything is in the WAL
  auto wals = files_with(dir.path(), ".wal");
  REQUIRE(wals.size() == 1);
  const uint64_t size = fs::file_size(wals[0]);
  const uint64_t record = size / n;  // records are all the same size here

  SECTION("flipped byte in an early record") {
    flip_byte(wals[0], record * 10 + 20);
    std::unique_ptr<DB> db;
    expect_corruption_naming(DB::open(small_options(), dir.path(), &db), wals[0]);
  }
  SECTION("truncated mid-record: recovery up to the last good record") {
    fs::resize_file(wals[0], size - record / 2);
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(small_options(), dir.path(), &db).ok());
    std::string v;
    for (int i = 0; i < n - 1; i++) {
      REQUIRE(db->get({}, key(i), &v).ok());
      REQUIRE(v == value(i));
    }
    REQUIRE(db->get({}, key(n - 1), &v).is_not_found());
  }
  SECTION("flipped byte in the last record: treated as a torn tail") {
    flip_byte(wals[0], size - 3);
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(small_options(), dir.path(), &db).ok());
    std::string v;
    REQUIRE(db->get({}, key(n - 2), &v).ok());
    REQUIRE(db->get({}, key(n - 1), &v).is_not_found());
  }
}

TEST_CASE("a damaged manifest or CURRENT is Corruption naming the file", "[engine][corruption]") {
  test::TempDir dir("lsm4kv_manifest");
  {
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(small_options(), dir.path(), &db).ok());
    for (int i = 0; i < 3000; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
    REQUIRE(db->flush().ok());
    REQUIRE(db->wait_for_compactions().ok());
  }
  auto manifests = files_with(dir.path(), "MANIFEST-");
  REQUIRE(manifests.size() == 1);
  const uint64_t size = fs::file_size(manifests[0]);
  SECTION("flipped byte") {
    flip_byte(manifests[0], 20);
    std::unique_ptr<DB> db;
    expect_corruption_naming(DB::open(small_options(), dir.path(), &db), manifests[0]);
  }
  SECTION("flipped last byte") {
    flip_byte(manifests[0], size - 1);
    std::unique_ptr<DB> db;
    expect_corruption_naming(DB::open(small_options(), dir.path(), &db), manifests[0]);
  }
  SECTION("CURRENT names a missing manifest") {
    fs::remove(manifests[0]);
    std::unique_ptr<DB> db;
    expect_corruption_naming(DB::open(small_options(), dir.path(), &db), "CURRENT");
  }
}

TEST_CASE("bad arguments and a second open are clear errors", "[engine]") {
  test::TempDir dir("lsm4kv_args");
  std::unique_ptr<DB> db;
  REQUIRE(DB::open(small_options(), dir.path(), &db).ok());
  std::unique_ptr<DB> second;
  REQUIRE(DB::open(small_options(), dir.path(), &second).is_busy());
  REQUIRE(db->delete_range({}, "b", "a").is_invalid_argument());
  Shape bad;
  bad.size_ratio = 1;
  REQUIRE(db->reshape(bad).is_invalid_argument());
  bad.size_ratio = 4;
  bad.runs_per_level = {0};
  REQUIRE(db->reshape(bad).is_invalid_argument());
  std::vector<std::string_view> unsorted = {"b", "a"};
  std::vector<std::string> values;
  std::vector<Status> statuses;
  REQUIRE(db->multi_get({}, unsorted, &values, &statuses).is_invalid_argument());
  Options o = small_options();
  o.create_if_missing = false;
  test::TempDir empty("lsm4kv_empty");
  std::unique_ptr<DB> none;
  REQUIRE(DB::open(o, empty.path(), &none).is_invalid_argument());
}

// ------------------------------------------------ open never silently discards

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A DB with runs in two levels and 100 writes still in the WAL.
void populate(const std::string& dir) {
  std::unique_ptr<DB> db;
  REQUIRE(DB::open(small_options(), dir, &db).ok());
  for (int i = 0; i < 3000; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
  REQUIRE(db->compact_all().ok());
  for (int i = 3000; i < 4000; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
  REQUIRE(db->flush().ok());
  for (int i = 4000; i < 4100; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
  REQUIRE(db->close().ok());
}

}  // namespace

TEST_CASE("open refuses a damaged or missing CURRENT, manifest or run, naming it, and deletes nothing",
          "[engine][corruption][discard]") {
  test::TempDir dir("lsm4kv_discard");
  populate(dir.path());
  const std::string manifest = files_with(dir.path(), "MANIFEST-").at(0);
  const std::string current = dir.path() + "/CURRENT";
  const auto runs = files_with(dir.path(), ".run");
  REQUIRE(!runs.empty());
  std::string blamed;

  SECTION("zeroed manifest") {
    write_bytes(manifest, std::string(fs::file_size(manifest), '\0'));
    blamed = manifest;
  }
  SECTION("empty manifest") {
    fs::resize_file(manifest, 0);
    blamed = manifest;
  }
  SECTION("manifest that does not start with a snapshot") {
    // Keep only the records after the first (the snapshot): deltas alone.
    std::unique_ptr<LogReader> reader;
    REQUIRE(LogReader::open(FileSystem::posix(), manifest, LogReader::TailMode::kStrict, &reader).ok());
    std::vector<std::string> records;
    for (;;) {
      std::string_view rec;
      bool done;
      REQUIRE(reader->next(&rec, &done).ok());
      if (done) break;
      records.emplace_back(rec);
    }
    REQUIRE(records.size() >= 2);
    std::unique_ptr<WritableFile> f;
    REQUIRE(FileSystem::posix()->new_writable(manifest, &f).ok());
    LogWriter w(std::move(f));
    for (size_t i = 1; i < records.size(); i++) REQUIRE(w.add_record(records[i]).ok());
    REQUIRE(w.close().ok());
    blamed = manifest;
  }
  SECTION("deleted CURRENT") {
    fs::remove(current);
    blamed = current;
  }
  SECTION("truncated CURRENT") {
    fs::resize_file(current, fs::file_size(current) / 2);
    blamed = current;
  }
  SECTION("CURRENT names a manifest that is not there") {
    write_bytes(current, "MANIFEST-999999\n");
    blamed = current;
  }
  SECTION("a run the manifest names is deleted") {
    fs::remove(runs[0]);
    blamed = runs[0];
  }
  SECTION("a run the manifest names lost its footer") {
    fs::resize_file(runs[0], fs::file_size(runs[0]) - 10);
    blamed = runs[0];
  }
  const auto before = test::dir_contents(dir.path());
  for (bool read_only : {false, true}) {
    INFO((read_only ? "read-only" : "read-write") << " open, blaming " << blamed);
    Options o = small_options();
    o.read_only = read_only;
    std::unique_ptr<DB> db;
    expect_corruption_naming(DB::open(o, dir.path(), &db), blamed);
    REQUIRE(test::dir_contents(dir.path()) == before);  // nothing deleted, nothing written
  }
}

TEST_CASE("a creation cut off before CURRENT is a new DB, not corruption", "[engine][corruption][discard]") {
  test::TempDir dir("lsm4kv_newdb");
  // What a power cut between the first manifest and CURRENT leaves.
  {
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(small_options(), dir.path(), &db).ok());
  }
  for (const auto& f : fs::directory_iterator(dir.path())) fs::remove(f.path());
  write_bytes(dir.path() + "/MANIFEST-000001", "");
  std::unique_ptr<DB> db;
  REQUIRE(DB::open(small_options(), dir.path(), &db).ok());
  REQUIRE(db->put({}, "a", "b").ok());
}

// ------------------------------------------------ manifest edits the engine cannot hold

namespace {

// A DB with one flushed run, closed; *manifest and *run_number say where.
void one_run_db(const std::string& dir, std::string* manifest, uint64_t* run_number) {
  {
    std::unique_ptr<DB> db;
    REQUIRE(DB::open(small_options(), dir, &db).ok());
    for (int i = 0; i < 100; i++) REQUIRE(db->put({}, key(i), value(i)).ok());
    REQUIRE(db->flush().ok());
  }
  auto manifests = files_with(dir, "MANIFEST-");
  auto runs = files_with(dir, ".run");
  REQUIRE(manifests.size() == 1);
  REQUIRE(runs.size() == 1);
  *manifest = manifests[0];
  REQUIRE(parse_file_name(fs::path(runs[0]).filename().string(), run_number) == FileKind::kRun);
}

// Appends one record (a well-formed log record: the damage is in the edit).
void append_manifest_record(const std::string& manifest, std::string_view payload) {
  std::unique_ptr<WritableFile> f;
  REQUIRE(FileSystem::posix()->new_appendable(manifest, &f).ok());
  LogWriter w(std::move(f));
  REQUIRE(w.add_record(payload).ok());
  REQUIRE(w.close().ok());
}

}  // namespace

// Found by test/fuzz/db_recover_fuzz: the decoder took levels up to 63 while
// a Version holds kMaxLevels (16), and recovery pushed the run into
// levels[r.level], past the end of the vector.
TEST_CASE("a manifest edit naming a level the engine does not have is Corruption", "[engine][corruption]") {
  for (int level : {kMaxLevels, 63, 64}) {
    VersionEdit e;
    e.added.push_back({level, 7, 4096, 10, 1, 9});
    std::string enc;
    e.encode_to(&enc);
    VersionEdit d;
    REQUIRE(d.decode_from(enc).is_corruption());
    VersionEdit r;
    r.removed.emplace_back(level, 7);
    enc.clear();
    r.encode_to(&enc);
    REQUIRE(d.decode_from(enc).is_corruption());
  }
  VersionEdit ok;
  ok.added.push_back({kMaxLevels - 1, 7, 4096, 10, 1, 9});
  std::string enc;
  ok.encode_to(&enc);
  VersionEdit d;
  REQUIRE(d.decode_from(enc).ok());

  test::TempDir dir("lsm4kv_manifest_level");
  std::string manifest;
  uint64_t run = 0;
  one_run_db(dir.path(), &manifest, &run);
  VersionEdit e;
  e.added.push_back({20, run, fs::file_size(dir.path() + "/" + run_name(run)), 100, 1, 100});
  enc.clear();
  e.encode_to(&enc);
  append_manifest_record(manifest, enc);
  std::unique_ptr<DB> db;
  expect_corruption_naming(DB::open(small_options(), dir.path(), &db), manifest);
}

// Found by test/fuzz/db_recover_fuzz: recovery looked every listed run up
// with map::at, so a run removed from another level than the one that lists
// it threw std::out_of_range out of DB::open (std::terminate).
TEST_CASE("a manifest that removes or re-adds a run at another level is Corruption", "[engine][corruption]") {
  for (bool re_add : {false, true}) {
    INFO("re_add " << re_add);
    test::TempDir dir("lsm4kv_manifest_move");
    std::string manifest;
    uint64_t run = 0;
    one_run_db(dir.path(), &manifest, &run);
    VersionEdit e;
    if (re_add) e.added.push_back({kMaxLevels - 1, run, fs::file_size(dir.path() + "/" + run_name(run)), 100, 1, 100});
    else e.removed.emplace_back(kMaxLevels - 1, run);  // the run lies at a lower level
    std::string enc;
    e.encode_to(&enc);
    append_manifest_record(manifest, enc);
    std::unique_ptr<DB> db;
    expect_corruption_naming(DB::open(small_options(), dir.path(), &db), manifest);
  }
}

// Found by test/fuzz/db_recover_fuzz: T or K above INT32_MAX passed the
// decoder's range checks and became negative ints; the compaction planner
// then converted a negative capacity to uint64 (undefined behaviour).
TEST_CASE("a manifest shape with T or K beyond int is Corruption", "[engine][corruption]") {
  for (uint32_t t : {2u, 0x7fffffffu, 0x80000000u, 0xffffffffu}) {
    for (uint32_t k : {1u, 0x7fffffffu, 0x80000000u, 0xffffffffu}) {
      INFO("T " << t << " K " << k);
      std::string enc;
      put_varint32(&enc, 4);  // kShape
      put_varint32(&enc, t);
      put_varint32(&enc, 1);
      put_varint32(&enc, k);
      VersionEdit e;
      const bool in_range = t <= 0x7fffffffu && k <= 0x7fffffffu;
      REQUIRE(e.decode_from(enc).ok() == in_range);
      if (in_range) REQUIRE(e.shape->size_ratio >= 2);
    }
  }
  test::TempDir dir("lsm4kv_manifest_shape");
  std::string manifest;
  uint64_t run = 0;
  one_run_db(dir.path(), &manifest, &run);
  std::string enc;
  put_varint32(&enc, 4);
  put_varint32(&enc, 0xfffffff0u);
  put_varint32(&enc, 1);
  put_varint32(&enc, 1);
  append_manifest_record(manifest, enc);
  std::unique_ptr<DB> db;
  expect_corruption_naming(DB::open(small_options(), dir.path(), &db), manifest);
}
