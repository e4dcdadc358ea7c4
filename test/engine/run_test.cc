// Sorted runs: build/open round trips against a std::map model, the size of
// prefix-compressed entries, counters, tombstone-only runs, and damaged
// files (flipped bytes, truncation) that must fail cleanly with the path.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "base/file_system.h"
#include "engine/run_builder.h"
#include "engine/sorted_run.h"
#include "test/engine/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;

namespace {

struct Val {
  EntryType type;
  SequenceNumber seq;
  std::string value;
};
using Model = std::map<std::string, Val>;

// A fresh directory under /tmp, removed with its files at the end.
class TempDir {
 public:
  std::string file(const std::string& name) const { return dir_.path() + "/" + name; }

 private:
  test::TempDir dir_{"lsm4kv_run_test"};
};

void append_fp(std::string* k, uint64_t fp) {
  uint64_t be = __builtin_bswap64(fp);
  k->append(reinterpret_cast<const char*>(&be), 8);
}

// Chained 8-byte fingerprints under a namespace id: a few branches per level,
// so keys share long prefixes; the last fingerprint is random.
std::string chain_key(std::mt19937_64& rng) {
  std::string k("ns\0\0\0\0\0\x07", 8);
  int depth = 2 + static_cast<int>(rng() % 10);
  for (int i = 0; i < depth - 1; i++) append_fp(&k, rng() % 4);
  append_fp(&k, rng());
  return k;
}

Model random_model(std::mt19937_64& rng, size_t n) {
  Model m;
  while (m.size() < n) {
    EntryType t = rng() % 5 == 0 ? EntryType::kDelete : EntryType::kPut;
    std::string v = t == EntryType::kPut ? std::string(rng() % 30, char('a' + rng() % 26)) : "";
    m[chain_key(rng)] = {t, rng() % (1ull << (1 + rng() % 40)), v};
  }
  return m;
}

RunMeta build_run(const std::string& path, const Model& m, const RunBuildOptions& o,
                  FragmentedTombstones tombstones = {}) {
  std::unique_ptr<WritableFile> file;
  REQUIRE(FileSystem::posix()->new_writable(path, &file).ok());
  RunBuilder b(o, std::move(file));
  for (const auto& [k, v] : m) REQUIRE(b.add(k, v.type, v.seq, v.value).ok());
  REQUIRE(b.entries() == m.size());
  b.set_range_tombstones(std::move(tombstones));
  RunMeta meta;
  REQUIRE(b.finish(&meta).ok());
  return meta;
}

std::shared_ptr<SortedRun> open_run(const std::string& path, BlockCache* cache = nullptr,
                                    EngineCounters* counters = nullptr) {
  std::shared_ptr<SortedRun> run;
  Status s = SortedRun::open(FileSystem::posix(), path, 7, cache, counters, &run);
  INFO(s.to_string());
  REQUIRE(s.ok());
  return run;
}

// The iterator sits where the model iterator does (end() = invalid).
void check_same(const InternalIterator& it, const Model& m, Model::const_iterator want) {
  REQUIRE(it.status().ok());
  if (want == m.end()) {
    REQUIRE(!it.valid());
    return;
  }
  REQUIRE(it.valid());
  REQUIRE(it.key() == want->first);
  REQUIRE(it.type() == want->second.type);
  REQUIRE(it.seq() == want->second.seq);
  REQUIRE(it.value() == want->second.value);
}

// A target near the model's keys: a key, a key plus a byte, a prefix of a
// key, or a random key.
std::string random_target(std::mt19937_64& rng, const std::vector<std::string>& keys) {
  const std::string& k = keys[rng() % keys.size()];
  switch (rng() % 4) {
    case 0: return k;
    case 1: return k + char(rng());
    case 2: return k.substr(0, rng() % k.size());
    default: return chain_key(rng);
  }
}

void random_walk(const SortedRun& run, const Model& m, std::mt19937_64& rng, int ops) {
  std::vector<std::string> keys;
  for (const auto& kv : m) keys.push_back(kv.first);
  auto it = run.new_iterator(ReadOptions());
  auto want = m.end();
  for (int op = 0; op < ops; op++) {
    std::string t = random_target(rng, keys);
    switch (rng() % 4) {
      case 0:
        it->seek(t);
        want = m.lower_bound(t);
        break;
      case 1:
        it->seek_for_prev(t);
        want = m.upper_bound(t);
        want = want == m.begin() ? m.end() : std::prev(want);
        break;
      case 2:
        it->seek_to_first();
        want = m.begin();
        break;
      default:
        it->seek_to_last();
        want = std::prev(m.end());
    }
    check_same(*it, m, want);
    bool forward = rng() % 2 == 0;
    for (int steps = static_cast<int>(rng() % 300); steps > 0 && want != m.end(); steps--) {
      if (forward) {
        it->next();
        ++want;
      } else {
        it->prev();
        want = want == m.begin() ? m.end() : std::prev(want);
      }
      check_same(*it, m, want);
    }
  }
}

}  // namespace

TEST_CASE("run: round trip of 200k prefix-sharing keys against a model", "[run]") {
  TempDir dir;
  std::mt19937_64 rng(1);
  Model m = random_model(rng, 200000);
  RunBuildOptions o;
  RunMeta meta = build_run(dir.file("000001.run"), m, o);
  uint64_t size = 0;
  REQUIRE(FileSystem::posix()->file_size(dir.file("000001.run"), &size).ok());
  CHECK(meta.file_size == size);
  CHECK(meta.entries == m.size());
  CHECK(meta.smallest == m.begin()->first);
  CHECK(meta.largest == m.rbegin()->first);

  BlockCache cache(4 << 20);
  EngineCounters counters;
  auto run = open_run(dir.file("000001.run"), &cache, &counters);
  CHECK(run->entries() == m.size());
  CHECK(run->smallest() == meta.smallest);
  CHECK(run->largest() == meta.largest);
  CHECK(run->min_seq() == meta.min_seq);
  CHECK(run->max_seq() == meta.max_seq);
  CHECK(run->file_number() == 7);
  CHECK(run->num_blocks() > 100);
  CHECK(run->bloom_bits_per_key() == 10);
  CHECK(run->bloom_memory_bytes() >= m.size() * 10 / 8);
  REQUIRE(run->verify().ok());

  auto it = run->new_iterator(ReadOptions());
  auto want = m.begin();
  for (it->seek_to_first(); it->valid(); it->next(), ++want) check_same(*it, m, want);
  REQUIRE(want == m.end());
  auto rwant = m.rbegin();
  for (it->seek_to_last(); it->valid(); it->prev(), ++rwant) check_same(*it, m, std::prev(rwant.base()));
  REQUIRE(rwant == m.rend());
  random_walk(*run, m, rng, 3000);

  // Point lookups: hits return the stored entry, misses find nothing.
  uint64_t before_probes = counters.runs_probed;
  RunLookup r;
  int hits = 0;
  for (const auto& [k, v] : m) {
    if (rng() % 10 != 0) continue;
    REQUIRE(run->get(k, ReadOptions(), &r).ok());
    REQUIRE(r.found);
    REQUIRE(r.type == v.type);
    REQUIRE(r.seq == v.seq);
    REQUIRE(r.value == v.value);
    hits++;
  }
  CHECK(counters.runs_probed - before_probes == static_cast<uint64_t>(hits));
  uint64_t fp_before = counters.bloom_false_positives, neg_before = counters.bloom_negatives;
  const int kMisses = 20000;
  for (int i = 0; i < kMisses; i++) {
    std::string k = random_target(rng, {m.begin()->first}) + "miss";
    REQUIRE(run->get(k, ReadOptions(), &r).ok());
    REQUIRE(!r.found);
  }
  uint64_t fp = counters.bloom_false_positives - fp_before;
  CHECK(counters.bloom_negatives - neg_before + fp == kMisses);
  CHECK(fp < kMisses / 50);  // ~0.8% expected
  CHECK(counters.block_cache_hits > 0);
  CHECK(counters.blocks_read > 0);
  CHECK(cache.usage() <= cache.capacity());
}

TEST_CASE("run: bytes per entry stay close to the unshared bytes", "[run]") {
  TempDir dir;
  // Keys of 8·depth bytes; consecutive keys share all but the last fingerprint.
  for (int depth : {4, 8, 32}) {
    Model m;
    std::mt19937_64 rng(depth);
    std::string prefix = "ns000001";
    for (int i = 3; i < depth; i++) append_fp(&prefix, rng());
    for (uint64_t i = 0; i < 50000; i++) {
      std::string k = prefix;
      append_fp(&k, i / 1000);  // a new parent every 1000 children
      append_fp(&k, rng());
      m[k] = {EntryType::kPut, i, std::string(16, 'v')};
    }
    REQUIRE(m.begin()->first.size() == 8u * depth);
    RunMeta meta = build_run(dir.file("size.run"), m, RunBuildOptions());
    double per_entry = static_cast<double>(meta.file_size) / static_cast<double>(m.size());
    // 8 unshared + 16 value bytes. Overhead: 3 header varints (4 once keys
    // pass 127 bytes), a 3-byte tag, 1.25 bytes of Bloom filter, 0.25 of
    // restart array, and per 4 KiB block its base key, fence and trailer.
    INFO("depth " << depth << ": " << per_entry << " bytes per entry");
    CHECK(per_entry < 8 + 16 + 9 + 8.0 * depth / 100);
    auto run = open_run(dir.file("size.run"));
    CHECK(run->fence_memory_bytes() <= run->num_blocks() * (2 * 8 * depth + 32));
    REQUIRE(run->verify().ok());
    // A bottom-level run: sequence numbers zeroed, no filter.
    for (auto& kv : m) kv.second.seq = 0;
    RunBuildOptions bottom;
    bottom.bloom_bits_per_key = 0;
    meta = build_run(dir.file("size.run"), m, bottom);
    per_entry = static_cast<double>(meta.file_size) / static_cast<double>(m.size());
    INFO("bottom level: " << per_entry << " bytes per entry");
    CHECK(per_entry < 8 + 16 + 5.5 + 8.0 * depth / 100);
  }
}

TEST_CASE("run: tombstone-only and empty runs", "[run]") {
  TempDir dir;
  FragmentedTombstones t({{"b", "d", 5}, {"c", "f", 9}});
  RunMeta meta = build_run(dir.file("t.run"), {}, RunBuildOptions(), t);
  CHECK(meta.entries == 0);
  CHECK(meta.tombstone_fragments == t.size());
  CHECK(meta.min_seq == 5);
  CHECK(meta.max_seq == 9);
  auto run = open_run(dir.file("t.run"));
  CHECK(run->range_tombstones().max_covering_seq("e") == 9);
  CHECK(run->range_tombstones().max_covering_seq("b") == 5);
  CHECK(run->num_blocks() == 0);
  CHECK(run->smallest().empty());
  RunLookup r;
  REQUIRE(run->get("c", ReadOptions(), &r).ok());
  CHECK(!r.found);
  auto it = run->new_iterator(ReadOptions());
  it->seek_to_first();
  CHECK(!it->valid());
  it->seek_for_prev("z");
  CHECK(!it->valid());
  CHECK(it->status().ok());
  REQUIRE(run->verify().ok());

  build_run(dir.file("empty.run"), {}, RunBuildOptions());
  auto empty = open_run(dir.file("empty.run"));
  CHECK(empty->entries() == 0);
  CHECK(empty->range_tombstones().empty());
}

TEST_CASE("run: builder checks its input", "[run]") {
  TempDir dir;
  std::unique_ptr<WritableFile> file;
  REQUIRE(FileSystem::posix()->new_writable(dir.file("x.run"), &file).ok());
  RunBuilder b(RunBuildOptions(), std::move(file));
  REQUIRE(b.add("b", EntryType::kPut, 1, "x").ok());
  CHECK(b.add("b", EntryType::kPut, 2, "x").is_invalid_argument());
  CHECK(b.add("a", EntryType::kPut, 2, "x").is_invalid_argument());
}

TEST_CASE("run: no filter, no cache, tiny blocks, verify_cached", "[run]") {
  TempDir dir;
  std::mt19937_64 rng(3);
  Model m = random_model(rng, 5000);
  RunBuildOptions o;
  o.block_size = 64;
  o.restart_interval = 1;
  o.bloom_bits_per_key = 0;
  build_run(dir.file("a.run"), m, o);
  EngineCounters counters;
  auto run = open_run(dir.file("a.run"), nullptr, &counters);
  CHECK(run->bloom_memory_bytes() == 0);
  random_walk(*run, m, rng, 500);
  RunLookup r;
  for (const auto& [k, v] : m) {
    REQUIRE(run->get(k + "x", ReadOptions(), &r).ok());
    REQUIRE((!r.found || m.count(k + "x")));
  }
  CHECK(counters.bloom_checked == 0);

  BlockCache cache(1 << 20);
  auto cached = open_run(dir.file("a.run"), &cache, &counters);
  ReadOptions verify;
  verify.verify_cached = true;
  for (int pass = 0; pass < 2; pass++) {
    for (const auto& [k, v] : m) {
      REQUIRE(cached->get(k, verify, &r).ok());
      REQUIRE(r.value == v.value);
    }
  }
  CHECK(counters.block_cache_hits >= m.size());
}

TEST_CASE("run: concurrent readers share a run and a cache", "[run]") {
  TempDir dir;
  std::mt19937_64 rng(4);
  Model m = random_model(rng, 20000);
  build_run(dir.file("c.run"), m, RunBuildOptions());
  BlockCache cache(256 << 10, 2);
  EngineCounters counters;
  auto run = open_run(dir.file("c.run"), &cache, &counters);
  std::vector<std::string> keys;
  for (const auto& kv : m) keys.push_back(kv.first);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; t++) {
    threads.emplace_back([&, t] {
      std::mt19937_64 r(t);
      RunLookup out;
      for (int i = 0; i < 5000; i++) {
        const std::string& k = keys[r() % keys.size()];
        if (!run->get(k, ReadOptions(), &out).ok() || out.value != m.at(k).value) wrong++;
        if (i % 100 == 0) {
          auto it = run->new_iterator(ReadOptions());
          it->seek(k);
          for (int s = 0; s < 50 && it->valid(); s++) it->next();
          if (!it->status().ok()) wrong++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
  // An iterator keeps its run alive.
  auto it = run->new_iterator(ReadOptions());
  run.reset();
  it->seek_to_first();
  CHECK(it->valid());
}

// ---- Damaged files ----

namespace {

void write_bytes(const std::string& path, const std::string& data) {
  std::unique_ptr<WritableFile> f;
  REQUIRE(FileSystem::posix()->new_writable(path, &f).ok());
  REQUIRE(f->append(data).ok());
  REQUIRE(f->close().ok());
}

bool names_path(const Status& s, const std::string& path) {
  return s.is_corruption() && s.message().find(path) != std::string::npos;
}

// Opens the damaged file and reads all of it. Returns whether the damage was
// detected; fails the test on a wrong value or an error that is not a
// Corruption naming the path.
bool damage_detected(const std::string& path, const Model& m) {
  std::shared_ptr<SortedRun> run;
  Status s = SortedRun::open(FileSystem::posix(), path, 1, nullptr, nullptr, &run);
  if (!s.ok()) {
    INFO(s.to_string());
    REQUIRE(names_path(s, path));
    return true;
  }
  bool detected = false;
  RunLookup r;
  for (const auto& [k, v] : m) {
    s = run->get(k, ReadOptions(), &r);
    if (!s.ok()) {
      REQUIRE(names_path(s, path));
      detected = true;
      continue;
    }
    REQUIRE(r.found);  // never a wrong answer
    REQUIRE(r.value == v.value);
    REQUIRE(r.seq == v.seq);
  }
  auto it = run->new_iterator(ReadOptions());
  auto want = m.begin();
  for (it->seek_to_first(); it->valid(); it->next(), ++want) {
    REQUIRE(want != m.end());
    REQUIRE(it->key() == want->first);
    REQUIRE(it->value() == want->second.value);
  }
  if (!it->status().ok()) {
    REQUIRE(names_path(it->status(), path));
    detected = true;
  } else {
    REQUIRE(want == m.end());
  }
  s = run->verify();
  if (!s.ok()) REQUIRE(names_path(s, path));
  REQUIRE(detected == !s.ok());
  return detected;
}

}  // namespace

TEST_CASE("run: a flipped byte anywhere is detected, never a wrong value", "[run][corruption]") {
  TempDir dir;
  std::mt19937_64 rng(5);
  Model m = random_model(rng, 2000);
  RunBuildOptions o;
  o.block_size = 1024;
  build_run(dir.file("good.run"), m, o);
  std::string good;
  REQUIRE(read_file(FileSystem::posix(), dir.file("good.run"), &good).ok());
  auto run = open_run(dir.file("good.run"));
  uint64_t tail_start = run->fences().handle(run->num_blocks() - 1).end_with_trailer();
  // Every byte of the tail blocks and footer, and a sample of the data blocks.
  std::vector<size_t> positions;
  for (size_t p = tail_start; p < good.size(); p += 1 + (p % 3)) positions.push_back(p);
  for (int i = 0; i < 300; i++) positions.push_back(rng() % tail_start);
  std::string bad_path = dir.file("bad.run");
  int detected = 0;
  for (size_t p : positions) {
    std::string bad = good;
    bad[p] = static_cast<char>(bad[p] ^ (1 + rng() % 255));
    write_bytes(bad_path, bad);
    INFO("flipped byte at " << p << " of " << good.size());
    detected += damage_detected(bad_path, m);
  }
  // Every byte is under a checksum.
  CHECK(detected == static_cast<int>(positions.size()));
}

TEST_CASE("run: truncated files fail to open with the path", "[run][corruption]") {
  TempDir dir;
  std::mt19937_64 rng(6);
  Model m = random_model(rng, 1000);
  build_run(dir.file("good.run"), m, RunBuildOptions());
  std::string good;
  REQUIRE(read_file(FileSystem::posix(), dir.file("good.run"), &good).ok());
  std::string bad_path = dir.file("short.run");
  std::vector<size_t> lengths = {0, 1, kFooterSize - 1, kFooterSize, good.size() - kFooterSize,
                                 good.size() - 1};
  for (int i = 0; i < 100; i++) lengths.push_back(rng() % good.size());
  for (size_t len : lengths) {
    write_bytes(bad_path, good.substr(0, len));
    std::shared_ptr<SortedRun> run;
    Status s = SortedRun::open(FileSystem::posix(), bad_path, 1, nullptr, nullptr, &run);
    INFO("length " << len << ": " << s.to_string());
    CHECK(names_path(s, bad_path));
  }
}
