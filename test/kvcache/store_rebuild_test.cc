// The index rebuilt from the tensor log (StoreOptions::on_corruption =
// kRebuild, KvStore::repair) after the index is deleted or damaged, with
// damaged, missing and duplicate records; the refusal of a store of the old
// format; and a get that meets a damaged record (the page and its subtree
// leave the index, the next put restores them).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "base/coding.h"
#include "engine/db.h"
#include "kvcache_api/kv_store.h"
#include "kvcache_api/test_hooks.h"
#include "kvcache_api/prefix_key.h"
#include "kvcache_api/store_config.h"
#include "tensorlog/tensor_log.h"
#include "test/engine/test_util.h"
#include "test/support/file_damage.h"
#include "test/support/kv_data.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;
namespace fs = std::filesystem;

namespace {

constexpr uint32_t P = 4;
const KvLayout kLayout{2, 2, 8, DType::kF16};  // 128 bytes per token
constexpr uint64_t kSegmentBytes = 64 << 10;
const size_t kBpt = kLayout.bytes_per_token();

StoreOptions options(const std::string& dir, OnCorruption on = OnCorruption::kFail) {
  StoreOptions o;
  o.dir = dir;
  o.page_tokens = P;
  o.segment_bytes = kSegmentBytes;
  o.sync = SyncMode::kNone;
  o.tuner = false;
  o.index_write_buffer = 4 << 10;  // several run files
  o.on_corruption = on;
  return o;
}

// 24 roots; root r has r % 3 + 1 branches of 1..3 pages below a shared
// first 2 pages: prompts share prefixes as a serving workload's do.
struct Corpus {
  std::vector<std::vector<Token>> prompts;
  std::set<std::vector<Token>> pages;  // every stored page prefix
  // Stored pages at or below the prefix (whole pages of tokens).
  size_t subtree(const std::vector<Token>& prefix) const {
    size_t n = 0;
    for (const auto& p : pages)
      if (p.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), p.begin())) n++;
    return n;
  }
};

Corpus corpus() {
  Corpus c;
  for (int r = 0; r < 24; r++) {
    for (int b = 0; b <= r % 3; b++) {
      std::vector<Token> p;
      for (size_t t = 0; t < 2 * P; t++) p.push_back(1000 * (r + 1) + static_cast<Token>(t));
      for (size_t t = 0; t < (1 + b) * P; t++) p.push_back(50000 + 100 * b + static_cast<Token>(t));
      for (size_t n = P; n <= p.size(); n += P) c.pages.insert(std::vector<Token>(p.begin(), p.begin() + n));
      c.prompts.push_back(std::move(p));
    }
  }
  return c;
}

std::vector<Token> prefix(const std::vector<Token>& p, size_t pages) {
  return std::vector<Token>(p.begin(), p.begin() + pages * P);
}

NamespaceId put_all(KvStore* store, const std::vector<std::vector<Token>>& prompts) {
  NamespaceId ns;
  REQUIRE(store->register_namespace("rebuild", kLayout, &ns).ok());
  for (const auto& p : prompts) {
    auto kv = test::kv_of(p, p.size(), kBpt);
    REQUIRE(store->put_batch(ns, p, KvBuffer::host(kv.data(), kv.size())).ok());
  }
  return ns;
}

void write_store(const std::string& dir, const Corpus& c) {
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir), &store).ok());
  put_all(store.get(), c.prompts);
  // Run files, not only the WAL (a background flush may not have run yet).
  REQUIRE(kvcache::testing::index_of(store.get())->flush().ok());
  REQUIRE(store->close().ok());
}

// What a store answers for every prompt: the cached prefix and its bytes.
struct Answers {
  std::vector<size_t> cached;
  std::vector<std::vector<char>> kv;
  bool operator==(const Answers&) const = default;
};

Answers answers(KvStore* store, const Corpus& c) {
  NamespaceId ns;
  REQUIRE(store->register_namespace("rebuild", kLayout, &ns).ok());
  Answers a;
  for (const auto& p : c.prompts) {
    size_t cached = 0;
    REQUIRE(store->probe(ns, p, &cached).ok());
    std::vector<char> kv(cached * kBpt);
    if (cached > 0) {
      Status s = store->get_batch(ns, p, cached, KvBuffer::host(kv.data(), kv.size()));
      INFO(s.to_string());
      REQUIRE(s.ok());
    }
    a.cached.push_back(cached);
    a.kv.push_back(std::move(kv));
  }
  return a;
}

// Every prompt whole, with the bytes it was put with.
Answers original(const Corpus& c) {
  Answers a;
  for (const auto& p : c.prompts) {
    a.cached.push_back(p.size());
    a.kv.push_back(test::kv_of(p, p.size(), kBpt));
  }
  return a;
}

tensorlog::Location location_of(KvStore* store, const std::vector<Token>& page_prefix) {
  const size_t pages = page_prefix.size() / P;
  auto keys = prompt_keys(1, page_prefix, P, pages, StoreOptions{}.key_window_pages, {}).all_keys();
  std::string v;
  REQUIRE(kvcache::testing::index_of(store)->get({}, keys.back(), &v).ok());
  PageEntry e;
  REQUIRE(e.decode_from(v));
  return e.location;
}

tensorlog::Location location_in(const std::string& dir, const std::vector<Token>& page_prefix) {
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir), &store).ok());
  auto loc = location_of(store.get(), page_prefix);
  REQUIRE(store->close().ok());
  return loc;
}

using test::flip_byte;

// Flips the last payload byte of the record at loc.
void damage_record(const std::string& dir, const tensorlog::Location& loc) {
  flip_byte(dir + "/tensors/" + tensorlog::segment_file_name(loc.segment), loc.offset + loc.length - 1);
}

std::vector<std::string> index_files(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir + "/index")) {
    const std::string name = e.path().filename().string();
    if (name.find(suffix) != std::string::npos) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<tensorlog::TensorLog> open_log(const std::string& dir) {
  tensorlog::TensorLogOptions to;
  to.segment_size = kSegmentBytes;
  std::unique_ptr<tensorlog::TensorLog> log;
  REQUIRE(tensorlog::TensorLog::open(dir + "/tensors", to, &log).ok());
  return log;
}

// Opens with kRebuild; the rebuild's report through *report.
std::unique_ptr<KvStore> open_rebuilding(const std::string& dir, RepairReport* report) {
  std::unique_ptr<KvStore> store;
  Status s = KvStore::open(options(dir, OnCorruption::kRebuild), &store);
  INFO(s.to_string());
  REQUIRE(s.ok());
  const StoreStats st = store->stats();
  REQUIRE(st.index_rebuilt);
  *report = st.rebuild;
  return store;
}

void check_rebuilt_equal(const std::string& dir, const Corpus& c) {
  RepairReport r;
  auto store = open_rebuilding(dir, &r);
  CHECK(r.pages_kept == c.pages.size());
  CHECK(r.records_scanned == c.pages.size());
  CHECK(r.pages_dropped == 0);
  CHECK(r.damaged_records == 0);
  CHECK(r.duplicates == 0);
  CHECK(answers(store.get(), c) == original(c));
  Status inv = store->check_invariants();
  INFO(inv.to_string());
  CHECK(inv.ok());
  REQUIRE(store->close().ok());
  // The rebuilt index is durable: a plain open finds it as it was.
  REQUIRE(KvStore::open(options(dir), &store).ok());
  CHECK_FALSE(store->stats().index_rebuilt);
  CHECK(answers(store.get(), c) == original(c));
}

}  // namespace

TEST_CASE("a deleted index fails open, and is rebuilt equal to the original with kRebuild", "[kvcache][rebuild]") {
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  write_store(dir.path(), c);
  fs::remove_all(dir.path() + "/index");
  std::unique_ptr<KvStore> store;
  Status s = KvStore::open(options(dir.path()), &store);
  INFO(s.to_string());
  REQUIRE(s.is_corruption());
  CHECK(s.message().find("index was lost") != std::string::npos);
  CHECK(s.message().find("kvtool repair") != std::string::npos);
  check_rebuilt_equal(dir.path(), c);
}

TEST_CASE("an index of 2- and 3-page windows is rebuilt from the tags equal to the original", "[kvcache][rebuild]") {
  // Prompts of 3..5 pages cross windows: a window's first key needs the
  // digest before it and every other key the fingerprints of its window,
  // all taken from the records' tags (they hold no tokens). With windows of
  // 3 the branches start mid-window (page 2), below a sibling whose subtree
  // starts the next window.
  const uint32_t window = GENERATE(2u, 3u);
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  {
    StoreOptions o = options(dir.path());
    o.key_window_pages = window;
    std::unique_ptr<KvStore> store;
    REQUIRE(KvStore::open(o, &store).ok());
    put_all(store.get(), c.prompts);
    REQUIRE(store->close().ok());
  }
  fs::remove_all(dir.path() + "/index");
  check_rebuilt_equal(dir.path(), c);  // the window comes from CONFIG
}

TEST_CASE("an index with a zeroed MANIFEST is rebuilt equal to the original", "[kvcache][rebuild]") {
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  write_store(dir.path(), c);
  auto manifests = index_files(dir.path(), "MANIFEST");
  REQUIRE(manifests.size() == 1);
  const auto size = fs::file_size(manifests[0]);
  std::ofstream(manifests[0], std::ios::binary | std::ios::trunc) << std::string(size, '\0');
  std::unique_ptr<KvStore> store;
  Status s = KvStore::open(options(dir.path()), &store);
  INFO(s.to_string());
  REQUIRE(s.is_corruption());
  CHECK(s.message().find(fs::path(manifests[0]).filename().string()) != std::string::npos);
  check_rebuilt_equal(dir.path(), c);
}

TEST_CASE("an index with flipped bytes in a run file fails open, and is rebuilt equal to the original",
          "[kvcache][rebuild]") {
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  write_store(dir.path(), c);
  auto runs = index_files(dir.path(), ".run");
  REQUIRE(!runs.empty());
  for (const auto& r : runs) flip_byte(r, 40);  // inside the first data block
  std::unique_ptr<KvStore> store;
  Status s = KvStore::open(options(dir.path()), &store);
  INFO(s.to_string());
  REQUIRE(s.is_corruption());
  store.reset();
  check_rebuilt_equal(dir.path(), c);
  CHECK(fs::exists(dir.path() + "/index.damaged/" + fs::path(runs[0]).filename().string()));
}

TEST_CASE("repair skips a damaged record and drops its page's subtree, keeping the rest", "[kvcache][rebuild]") {
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  write_store(dir.path(), c);
  // Page 1 of root 0: the second page of the prefix its prompts share.
  const auto damaged = prefix(c.prompts[0], 2);
  damage_record(dir.path(), location_in(dir.path(), damaged));
  RepairReport r;
  Status s = KvStore::repair(options(dir.path()), &r);
  INFO(s.to_string());
  REQUIRE(s.ok());
  const size_t lost = c.subtree(damaged);
  REQUIRE(lost >= 2);
  CHECK(r.records_scanned == c.pages.size());
  CHECK(r.damaged_records == 1);
  CHECK(r.pages_dropped == lost - 1);
  CHECK(r.pages_kept == c.pages.size() - lost);
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].find("checksum") != std::string::npos);

  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  Answers want = original(c);
  for (size_t i = 0; i < c.prompts.size(); i++) {
    if (std::equal(damaged.begin(), damaged.end(), c.prompts[i].begin())) {
      want.cached[i] = P;
      want.kv[i].resize(P * kBpt);
    }
  }
  CHECK(answers(store.get(), c) == want);
  Status inv = store->check_invariants();
  INFO(inv.to_string());
  CHECK(inv.ok());
}

TEST_CASE("a segment whose seal and one record are damaged keeps every other record", "[kvcache][rebuild]") {
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  write_store(dir.path(), c);
  // A leaf page in the middle of segment 1 (the last page of a prompt).
  std::vector<std::pair<tensorlog::Location, size_t>> in_first;
  {
    std::unique_ptr<KvStore> store;
    REQUIRE(KvStore::open(options(dir.path()), &store).ok());
    for (size_t i = 0; i < c.prompts.size(); i++) {
      auto loc = location_of(store.get(), c.prompts[i]);
      if (loc.segment == 1) in_first.push_back({loc, i});
    }
  }
  REQUIRE(in_first.size() >= 3);
  std::sort(in_first.begin(), in_first.end());
  const auto [loc, prompt] = in_first[in_first.size() / 2];
  damage_record(dir.path(), loc);
  // The footer too: the segment is recovered by scanning its records.
  const std::string segment = dir.path() + "/tensors/" + tensorlog::segment_file_name(1);
  flip_byte(segment, fs::file_size(segment) - tensorlog::kAlign + 3);
  fs::remove_all(dir.path() + "/index");
  RepairReport r;
  auto store = open_rebuilding(dir.path(), &r);
  CHECK(r.records_scanned == c.pages.size() - 1);  // the scan at open left the damaged one out
  CHECK(r.pages_kept == c.pages.size() - 1);
  CHECK(r.pages_dropped == 0);
  Answers want = original(c);
  want.cached[prompt] -= P;
  want.kv[prompt].resize(want.cached[prompt] * kBpt);
  CHECK(answers(store.get(), c) == want);
  CHECK(store->check_invariants().ok());
}

TEST_CASE("a page whose parent's record is gone is dropped with its descendants", "[kvcache][rebuild]") {
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  write_store(dir.path(), c);
  // Root 2 has three branches; the middle page of its longest one (page 3 of 5).
  const std::vector<Token>& longest = c.prompts[5];
  REQUIRE(longest.size() == 5 * P);
  const auto gone = prefix(longest, 4);
  const tensorlog::Location loc = location_in(dir.path(), gone);
  {
    auto log = open_log(dir.path());
    REQUIRE(log->mark_dead(std::vector<tensorlog::Location>{loc}).ok());
    REQUIRE(log->close().ok());
  }
  fs::remove_all(dir.path() + "/index");
  RepairReport r;
  auto store = open_rebuilding(dir.path(), &r);
  CHECK(r.records_scanned == c.pages.size() - 1);
  CHECK(r.damaged_records == 0);
  CHECK(r.pages_dropped == c.subtree(gone) - 1);
  CHECK(r.pages_kept == c.pages.size() - c.subtree(gone));
  Answers want = original(c);
  want.cached[5] = 3 * P;
  want.kv[5].resize(3 * P * kBpt);
  CHECK(answers(store.get(), c) == want);
  CHECK(store->check_invariants().ok());
}

TEST_CASE("duplicate records left by a collection: the newest copy of each page wins", "[kvcache][rebuild]") {
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  write_store(dir.path(), c);
  // A collection copied every record and lost its journal: both copies of
  // every page are live records.
  size_t relocated = 0;
  uint64_t newest_old_segment = 0;
  {
    auto log = open_log(dir.path());
    for (const auto& s : log->segments()) newest_old_segment = std::max(newest_old_segment, s.id);
    tensorlog::CollectOptions co;
    co.live_ratio_threshold = 2.0;  // every sealed segment
    tensorlog::Collection col;
    REQUIRE(log->collect(co, &col).ok());
    relocated = col.relocations.size();
    REQUIRE(log->close().ok());
    for (const auto& e : fs::directory_iterator(dir.path() + "/tensors"))
      if (e.path().filename().string().ends_with(".pending")) fs::remove(e.path());
  }
  REQUIRE(relocated >= c.pages.size() / 2);
  fs::remove_all(dir.path() + "/index");
  RepairReport r;
  auto store = open_rebuilding(dir.path(), &r);
  CHECK(r.duplicates == relocated);
  CHECK(r.records_scanned == c.pages.size() + relocated);
  CHECK(r.pages_kept == c.pages.size());
  CHECK(r.pages_dropped == 0);
  // Every relocated page is read from its copy, in a segment newer than all
  // the old ones.
  size_t in_copies = 0;
  for (const auto& page : c.pages)
    if (location_of(store.get(), page).segment > newest_old_segment) in_copies++;
  CHECK(in_copies == relocated);
  CHECK(answers(store.get(), c) == original(c));
  Status inv = store->check_invariants();  // the older copies are reported dead
  INFO(inv.to_string());
  CHECK(inv.ok());
}

TEST_CASE("a store of an old format (unchained tags, unbounded keys, token ids in tags) is refused with its "
          "format version",
          "[kvcache][rebuild]") {
  const uint32_t version = GENERATE(1u, 2u, 3u);
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  write_store(dir.path(), c);
  {
    // What formats 1 and 2 left: a "cfg" record without a key window (and
    // without a version in 1); no CONFIG of this format. Format 3: the same
    // cfg record and CONFIG as format 4 but for the version (its tags held
    // token ids).
    std::unique_ptr<engine::DB> db;
    REQUIRE(engine::DB::open(engine::Options{}, dir.path() + "/index", &db).ok());
    std::string v;
    put_varint32(&v, P);
    if (version >= 2) put_varint32(&v, version);
    if (version == 3) put_varint32(&v, 8);
    REQUIRE(db->put({}, meta_key("cfg"), v).ok());
    REQUIRE(db->close().ok());
    if (version < 3) {
      fs::remove(dir.path() + "/" + kConfigFile);
    } else {
      StoreConfig cfg;
      REQUIRE(read_config_file(FileSystem::posix(), dir.path(), &cfg).ok());
      cfg.format_version = 3;
      REQUIRE(write_config_file(FileSystem::posix(), dir.path(), cfg).ok());
    }
  }
  for (OnCorruption on : {OnCorruption::kFail, OnCorruption::kRebuild}) {
    std::unique_ptr<KvStore> store;
    Status s = KvStore::open(options(dir.path(), on), &store);
    INFO(s.to_string());
    REQUIRE(s.is_invalid_argument());
    CHECK(s.message().find("format version " + std::to_string(version)) != std::string::npos);
    CHECK(s.message().find("delete the directory") != std::string::npos);
  }
  RepairReport r;
  CHECK(KvStore::repair(options(dir.path()), &r).is_invalid_argument());
}

TEST_CASE("rebuild needs CONFIG or the index: with both damaged open fails naming both", "[kvcache][rebuild]") {
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  write_store(dir.path(), c);
  const std::string config = dir.path() + "/" + kConfigFile;
  // CONFIG alone damaged: the index is fine, and open writes CONFIG anew.
  flip_byte(config, 5);
  StoreConfig cfg;
  REQUIRE(read_config_file(FileSystem::posix(), dir.path(), &cfg).is_corruption());
  {
    std::unique_ptr<KvStore> store;
    REQUIRE(KvStore::open(options(dir.path()), &store).ok());
    REQUIRE(read_config_file(FileSystem::posix(), dir.path(), &cfg).ok());
    CHECK(cfg.page_tokens == P);
    REQUIRE(cfg.namespaces.size() == 1);
    CHECK(cfg.namespaces[0].name == "rebuild");
    CHECK(cfg.namespaces[0].layout == kLayout);
  }
  flip_byte(config, 5);
  fs::remove_all(dir.path() + "/index");
  std::unique_ptr<KvStore> store;
  Status s = KvStore::open(options(dir.path(), OnCorruption::kRebuild), &store);
  INFO(s.to_string());
  REQUIRE(s.is_corruption());
  CHECK(s.message().find("index") != std::string::npos);
  CHECK(s.message().find("CONFIG") != std::string::npos);
  RepairReport r;
  CHECK(KvStore::repair(options(dir.path()), &r).is_corruption());
}

TEST_CASE("a get that meets a damaged record drops its page and subtree; a put restores them",
          "[kvcache][rebuild][corruption]") {
  test::TempDir dir("lsm4kv_rebuild");
  const Corpus c = corpus();
  write_store(dir.path(), c);
  const auto damaged = prefix(c.prompts[1], 2);  // root 1: two branches below it
  const size_t lost = c.subtree(damaged);
  damage_record(dir.path(), location_in(dir.path(), damaged));

  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("rebuild", kLayout, &ns).ok());
  const auto& p = c.prompts[1];
  size_t cached = 0;
  REQUIRE(store->probe(ns, p, &cached).ok());
  REQUIRE(cached == p.size());  // the index does not know yet
  std::vector<char> kv(p.size() * kBpt);
  Status s = store->get_batch(ns, p, p.size(), KvBuffer::host(kv.data(), kv.size()));
  INFO(s.to_string());
  REQUIRE(s.is_not_found());
  CHECK(s.message().find("damaged") != std::string::npos);
  CHECK(store->stats().corrupt_pages_dropped == lost);
  CHECK(store->stats().collisions == 0);
  REQUIRE(store->probe(ns, p, &cached).ok());
  CHECK(cached == P);
  Status inv = store->check_invariants();
  INFO(inv.to_string());
  CHECK(inv.ok());

  put_all(store.get(), c.prompts);
  CHECK(answers(store.get(), c) == original(c));
  CHECK(store->check_invariants().ok());
  REQUIRE(store->close().ok());
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  CHECK(answers(store.get(), c) == original(c));
}

// Not run by default: the time of a rebuild of ~100k small pages.
//   build/test/kvcache/kvcache_test "[.rebuild-bench]"
// LSM4KV_REBUILD_PROMPTS prompts of 32 pages (P = 4, 512-byte payloads),
// in groups of 25 sharing their first 4 pages.
TEST_CASE("rebuild of ~100k small pages", "[.rebuild-bench]") {
  test::TempDir dir("lsm4kv_rebuild_bench");
  const size_t prompts = test::env_or("LSM4KV_REBUILD_PROMPTS", 3600);
  StoreOptions o = options(dir.path());
  o.index_write_buffer = 8 << 20;
  o.segment_bytes = 64 << 20;
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(o, &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("rebuild", kLayout, &ns).ok());
  std::vector<Token> p(32 * P);
  std::vector<char> kv(p.size() * kBpt, 7);
  for (size_t i = 0; i < prompts; i++) {
    for (size_t t = 0; t < p.size(); t++)
      p[t] = static_cast<Token>(t < 4 * P ? (i / 25) * 1000 + t : i * 1000 + t);
    REQUIRE(store->put_batch(ns, p, KvBuffer::host(kv.data(), kv.size())).ok());
  }
  const uint64_t pages = store->stats().pages_put;
  REQUIRE(store->close().ok());
  const auto t0 = std::chrono::steady_clock::now();
  RepairReport r;
  REQUIRE(KvStore::repair(o, &r).ok());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.pages_kept == pages);
  std::printf("rebuild: %llu pages (%llu records scanned) in %.3f s: %.0f pages/s\n",
              static_cast<unsigned long long>(r.pages_kept), static_cast<unsigned long long>(r.records_scanned), s,
              static_cast<double>(r.pages_kept) / s);
}
