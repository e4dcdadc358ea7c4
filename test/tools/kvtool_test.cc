// kvtool end to end: a store written through the library, every subcommand
// run as a process, --json outputs parsed and checked against what was
// written; verify against corrupted run files and tensor records; the lock
// of a store that is open; bad arguments.
#include "test/tools/kvtool_fixture.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;
using namespace lsm4kv::test::kvtool_fixture;

TEST_CASE("kvtool info, stats and tree report what was written", "[kvtool]") {
  test::TempDir dir("kvtool");
  const Written w = write_store(dir.path());

  Result r = kvtool("info " + dir.path() + " --json");
  REQUIRE(r.code == 0);
  Json info = r.json();
  CHECK(info["page_tokens"].u() == P);
  CHECK(info["pages"].u() == w.alpha_pages.size() + w.beta_pages.size());
  CHECK(info["bytes"].u() == (w.alpha_pages.size() + w.beta_pages.size()) * kRecordDiskBytes);
  REQUIRE(info["namespaces"].array.size() == 2);
  const Json& a = info["namespaces"][0];
  CHECK(a["name"].string == "alpha");
  CHECK(a["layers"].u() == 2);
  CHECK(a["kv_heads"].u() == 2);
  CHECK(a["head_dim"].u() == 8);
  CHECK(a["dtype"].string == "bf16");
  CHECK(a["pages"].u() == w.alpha_pages.size());
  CHECK(a["bytes"].u() == w.alpha_pages.size() * kRecordDiskBytes);
  const Json& b = info["namespaces"][1];
  CHECK(b["name"].string == "beta");
  CHECK(b["dtype"].string == "f32");
  CHECK(b["pages"].u() == w.beta_pages.size());
  CHECK(info["index"]["T"].u() == 6);
  CHECK(info["index"]["K"][0].u() == 2);
  CHECK(info["index"]["entries"].u() >= w.alpha_pages.size() + w.beta_pages.size());
  CHECK(info["tensor_log"]["segments"].u() >= 2);
  CHECK(info["tensor_log"]["live_bytes"].u() == info["bytes"].u());
  CHECK(info["tuner"]["T"].u() == 6);
  CHECK(info["tuner"]["decisions"].kind == Json::kArray);  // the store ran with the tuner off
  CHECK(info["tuner"]["decisions"].array.empty());
  CHECK(kvtool("info " + dir.path()).code == 0);

  r = kvtool("stats " + dir.path() + " --json");
  REQUIRE(r.code == 0);
  Json st = r.json();
  CHECK(st["state"].string == "closed");
  CHECK(st["pages_put"].u() == w.alpha_pages.size() + w.beta_pages.size());
  CHECK(st["bytes_put"].u() == (w.alpha_pages.size() + w.beta_pages.size()) * P * 128);
  CHECK(st["hit_tokens"].u() == w.alpha[0].size());
  CHECK(st["probe_latency.count"].u() == 1);
  CHECK(st["tuner.decisions"].kind == Json::kNumber);
  CHECK(kvtool("stats " + dir.path()).code == 0);

  r = kvtool("tree " + dir.path() + " --ns alpha --json");
  REQUIRE(r.code == 0);
  Json tree = r.json();
  CHECK(tree["roots"].u() == 4);
  CHECK(tree["pages"].u() == w.alpha_pages.size());
  REQUIRE(tree["depths"].array.size() == w.alpha_depth_pages.size());
  for (const auto& [depth, pages] : w.alpha_depth_pages) {
    INFO("depth " << depth);
    CHECK(tree["depths"][depth - 1]["pages"].u() == pages);
    CHECK(tree["depths"][depth - 1]["bytes"].u() == pages * kRecordDiskBytes);
  }
  CHECK(tree["depths"][1]["max_fanout"].u() == 4);  // root 3's second page has 4 branches
  REQUIRE(!tree["largest"].array.empty());
  const Json& big = tree["largest"][0];  // root 3: 2 shared + (2 + 3 + 4 + 2) pages
  CHECK(big["pages"].u() == 2 + 2 + 3 + 4 + 2);
  // Records hold no token ids since store format 4 (prefix_key.h): no first
  // tokens to show.
  r = kvtool("tree " + dir.path() + " --ns alpha --depth 2 --json");
  REQUIRE(r.code == 0);
  CHECK(r.json()["depths"].array.size() == 2);
  CHECK(kvtool("tree " + dir.path() + " --ns beta").code == 0);
  CHECK(kvtool("tree " + dir.path() + " --ns nosuch").code == 2);
}

TEST_CASE("kvtool probe and get read back what was written", "[kvtool]") {
  test::TempDir dir("kvtool");
  const Written w = write_store(dir.path());
  std::vector<Token> diverging = w.alpha[2];  // its first 3 pages are stored
  diverging[3 * P + 1] = 99;
  std::vector<Token> unknown(3 * P, 123456);
  const std::string file = dir.path() + "/tokens.txt";
  write_text(file, tokens_line(w.alpha[5]) + "\n\n" + tokens_line(diverging) + "\n" + tokens_line(unknown) + "\n");

  Result r = kvtool("probe " + dir.path() + " --ns alpha --tokens " + file + " --json");
  REQUIRE(r.code == 0);
  Json j = r.json();
  REQUIRE(j["results"].array.size() == 3);
  CHECK(j["results"][0]["line"].u() == 1);
  CHECK(j["results"][0]["cached"].u() == w.alpha[5].size());
  CHECK(j["results"][1]["line"].u() == 3);
  CHECK(j["results"][1]["cached"].u() == 3 * P);
  CHECK(j["results"][2]["cached"].u() == 0);
  CHECK(kvtool("probe " + dir.path() + " --ns alpha --tokens " + file).code == 0);

  const std::string out = dir.path() + "/kv.bin";
  r = kvtool("get " + dir.path() + " --ns alpha --tokens " + file + " --out " + out + " --json");
  REQUIRE(r.code == 0);
  j = r.json();
  std::string expected;
  for (auto [p, n] : {std::pair{w.alpha[5], w.alpha[5].size()}, {diverging, size_t{3 * P}}}) {
    auto kv = test::kv_of(p, n, kLayoutA.bytes_per_token());
    expected.append(kv.data(), kv.size());
  }
  CHECK(j["bytes"].u() == expected.size());
  CHECK(j["results"][1]["offset"].u() == w.alpha[5].size() * kLayoutA.bytes_per_token());
  CHECK(slurp(out) == expected);

  // Bad token files and namespaces are usage errors.
  write_text(file, "1 2 3\n4 five 6\n");
  r = kvtool("probe " + dir.path() + " --ns alpha --tokens " + file);
  CHECK(r.code == 2);
  CHECK(r.err.find("tokens.txt:2") != std::string::npos);
  write_text(file, "\n\n");
  CHECK(kvtool("probe " + dir.path() + " --ns alpha --tokens " + file).code == 2);
  CHECK(kvtool("probe " + dir.path() + " --ns alpha --tokens " + dir.path() + "/missing.txt").code == 2);
  write_text(file, "1 2 3 4 5 6 7 8\n");
  CHECK(kvtool("probe " + dir.path() + " --ns gamma --tokens " + file).code == 2);
}

TEST_CASE("kvtool verify finds corrupted run files and tensor records", "[kvtool]") {
  test::TempDir dir("kvtool");
  write_store(dir.path());
  Result r = kvtool("verify " + dir.path() + " --json");
  REQUIRE(r.code == 0);
  Json j = r.json();
  CHECK(j["clean"].boolean);
  CHECK(j["records"].u() == j["entries"].u());
  CHECK(j["records"].u() > 0);
  CHECK(j["run_files"].u() >= 1);
  CHECK(j["manifests"].u() == 1);
  CHECK(kvtool("verify " + dir.path()).code == 0);

  SECTION("a tensor record") {
    // The first record of the oldest segment starts at 4096; its payload
    // follows the 32-byte header and the tag.
    auto segments = files_ending(dir.path() + "/tensors", ".tlog");
    REQUIRE(!segments.empty());
    flip_byte(segments.front(), 4096 + 32 + kvcache::kTagBytes + 100);
    r = kvtool("verify " + dir.path() + " --json");
    CHECK(r.code == 1);
    j = r.json();
    CHECK(!j["clean"].boolean);
    REQUIRE(j["problems"].array.size() == 1);
    CHECK(j["problems"][0].string.find("tensor record at segment") != std::string::npos);
    r = kvtool("verify " + dir.path());
    CHECK(r.code == 1);
    CHECK(r.out.find("checksum") != std::string::npos);
  }
  SECTION("a tensor record's tag, with a checksum that passes") {
    // The first record's tag claims page 1; the checksum is recomputed, so
    // only the tag check can tell.
    auto segments = files_ending(dir.path() + "/tensors", ".tlog");
    std::string data = slurp(segments.front());
    char* rec = data.data() + 4096;
    tensorlog::RecordHeader h;
    REQUIRE(h.decode(rec, "test").ok());
    encode_fixed32(rec + tensorlog::kRecordHeaderSize + 2, 1);  // u16 ns | u32 page index
    uint64_t id = 0;
    REQUIRE(tensorlog::parse_segment_file_name(std::filesystem::path(segments.front()).filename().string(), &id));
    h.checksum = tensorlog::bound_checksum(rec, h.record_length(), id);
    h.encode(rec);
    std::ofstream(segments.front(), std::ios::binary | std::ios::trunc).write(data.data(), static_cast<std::streamsize>(data.size()));
    r = kvtool("verify " + dir.path() + " --json");
    CHECK(r.code == 1);
    j = r.json();
    REQUIRE(!j["problems"].array.empty());
    CHECK(j["problems"][0].string.find("tag names namespace 1 page 1") != std::string::npos);
  }
  SECTION("a run file") {
    auto runs = files_ending(dir.path() + "/index", ".run");
    REQUIRE(!runs.empty());
    flip_byte(runs.back(), 20);  // inside data block 0
    r = kvtool("verify " + dir.path() + " --json");
    CHECK(r.code == 1);
    j = r.json();
    CHECK(!j["clean"].boolean);
    bool named = false;
    for (const Json& p : j["problems"].array) named |= p.string.find(fs::path(runs.back()).filename().string()) != std::string::npos;
    CHECK(named);
  }
}

TEST_CASE("kvtool maintenance: reshape, compact, evict, gc", "[kvtool]") {
  test::TempDir dir("kvtool");
  const Written w = write_store(dir.path());
  Result r = kvtool("reshape " + dir.path() + " --T 4 --K 3,1 --json");
  REQUIRE(r.code == 0);
  Json j = r.json();
  CHECK(j["before"]["T"].u() == 6);
  CHECK(j["after"]["T"].u() == 4);
  CHECK(j["after"]["K"][0].u() == 3);
  CHECK(j["after"]["K"][1].u() == 1);
  r = kvtool("info " + dir.path() + " --json");
  REQUIRE(r.code == 0);
  CHECK(r.json()["index"]["T"].u() == 4);

  r = kvtool("compact " + dir.path() + " --json");
  REQUIRE(r.code == 0);
  j = r.json();
  uint64_t runs = 0;
  for (const Json& n : j["after"]["runs_per_level"].array) runs += n.u();
  CHECK(runs == 1);

  const uint64_t target = 10 * kRecordDiskBytes;
  r = kvtool("evict " + dir.path() + " --to-bytes " + std::to_string(target) + " --json");
  REQUIRE(r.code == 0);
  j = r.json();
  CHECK(j["before"]["stored_bytes"].u() == (w.alpha_pages.size() + w.beta_pages.size()) * kRecordDiskBytes);
  CHECK(j["after"]["stored_bytes"].u() <= target);
  CHECK(j["pages_evicted"].u() > 0);
  CHECK(kvtool("gc " + dir.path() + " --json").code == 0);
  CHECK(kvtool("evict " + dir.path() + " --to-bytes 0K").code == 0);
  r = kvtool("verify " + dir.path() + " --json");
  CHECK(r.code == 0);
  CHECK(r.json()["entries"].u() == 0);
}

TEST_CASE("kvtool honours the lock of a store another process has open", "[kvtool]") {
  test::TempDir dir("kvtool");
  write_store(dir.path());
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId a;
  REQUIRE(store->register_namespace("alpha", kLayoutA, &a).ok());
  std::vector<Token> p(2 * P, 5);
  size_t cached = 0;
  REQUIRE(store->probe(a, p, &cached).ok());
  REQUIRE(admin::persist_stats(*store).ok());

  // Read-only commands that need the store say why they cannot; stats works.
  for (const char* cmd : {"info", "verify", "tree --ns alpha"}) {
    Result r = kvtool(std::string(cmd) + " " + dir.path());
    CHECK(r.code == 1);
    CHECK(r.err.find("open in another process") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  Result r = kvtool("stats " + dir.path() + " --json");
  REQUIRE(r.code == 0);
  Json j = r.json();
  CHECK(j["state"].string == "running");
  CHECK(j["miss_tokens"].u() == 2 * P);
  // Writing commands refuse.
  for (const char* cmd : {"compact", "gc", "reshape --T 3 --K 1", "evict --to-bytes 0"}) {
    r = kvtool(std::string(cmd) + " " + dir.path());
    CHECK(r.code == 1);
    CHECK(r.err.find("refusing") != std::string::npos);
  }
  REQUIRE(store->close().ok());
  store.reset();  // the tensor log's lock goes with the object
  CHECK(kvtool("compact " + dir.path()).code == 0);
}

TEST_CASE("kvtool rejects bad arguments with status 2", "[kvtool]") {
  test::TempDir dir("kvtool");
  write_store(dir.path());
  test::TempDir empty("kvtool_empty");
  CHECK(kvtool("").code == 2);
  CHECK(kvtool("frobnicate " + dir.path()).code == 2);
  CHECK(kvtool("info").code == 2);
  CHECK(kvtool("info " + dir.path() + " --bogus").code == 2);
  CHECK(kvtool("info " + dir.path() + "/missing").code == 2);
  CHECK(kvtool("info " + empty.path()).code == 2);
  CHECK(kvtool("verify " + empty.path()).code == 2);
  CHECK(kvtool("stats " + empty.path()).code == 2);
  CHECK(kvtool("compact " + empty.path()).code == 2);
  CHECK(kvtool("tree " + dir.path()).code == 2);  // --ns is required
  CHECK(kvtool("tree " + dir.path() + " --ns alpha --depth 0").code == 2);
  CHECK(kvtool("reshape " + dir.path() + " --T 1 --K 1").code == 2);
  CHECK(kvtool("reshape " + dir.path() + " --T 4 --K 0").code == 2);
  CHECK(kvtool("reshape " + dir.path() + " --T x --K 1").code == 2);
  CHECK(kvtool("evict " + dir.path() + " --to-bytes lots").code == 2);
  CHECK(kvtool("evict " + dir.path() + " --to-bytes -5").code == 2);
  CHECK(kvtool("get " + dir.path() + " --ns alpha --tokens x").code == 2);  // --out missing
  Result r = kvtool("info " + empty.path());
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find("not an lsm4kv store") != std::string::npos);
  // An empty directory stays empty: nothing was created in it.
  CHECK(fs::is_empty(empty.path()));
  CHECK(kvtool("--help").code == 0);
  CHECK(kvtool("verify --help").code == 0);
  // The store still verifies after all this.
  CHECK(kvtool("verify " + dir.path()).code == 0);
}

TEST_CASE("kvtool repair rebuilds the index from the tensor log and reports what it lost", "[kvtool][repair]") {
  test::TempDir dir("kvtool");
  const Written w = write_store(dir.path());
  const uint64_t pages = w.alpha_pages.size() + w.beta_pages.size();

  // The whole index gone: everything comes back (exit 0).
  fs::remove_all(dir.path() + "/index");
  Result r = kvtool("repair " + dir.path() + " --json");
  REQUIRE(r.code == 0);
  Json j = r.json();
  CHECK(j["operation"].string == "repair");
  CHECK(j["records_scanned"].u() == pages);
  CHECK(j["pages_kept"].u() == pages);
  CHECK(j["pages_dropped"].u() == 0);
  CHECK(j["damaged_records"].u() == 0);
  CHECK(j["duplicates"].u() == 0);
  CHECK(j["problems"].array.empty());
  CHECK(kvtool("verify " + dir.path()).code == 0);

  // The first record of the oldest segment (alpha's first prompt, page 0)
  // damaged: it and its subtree are lost (exit 1), the rest kept.
  auto segments = files_ending(dir.path() + "/tensors", ".tlog");
  REQUIRE(!segments.empty());
  flip_byte(segments.front(), 4096 + 32 + kvcache::kTagBytes + 100);
  const std::vector<Token> root(w.alpha[0].begin(), w.alpha[0].begin() + P);
  uint64_t subtree = 0;
  for (const auto& p : w.alpha_pages) subtree += std::equal(root.begin(), root.end(), p.begin());
  REQUIRE(subtree >= 2);
  r = kvtool("repair " + dir.path() + " --json");
  CHECK(r.code == 1);
  j = r.json();
  CHECK(j["damaged_records"].u() == 1);
  CHECK(j["pages_dropped"].u() == subtree - 1);
  CHECK(j["pages_kept"].u() == pages - subtree);
  REQUIRE(j["problems"].array.size() == 1);
  CHECK(j["problems"][0].string.find("checksum") != std::string::npos);
  CHECK(kvtool("verify " + dir.path()).code == 0);  // the damaged record is no longer referenced

  // Text; nothing more lost.
  r = kvtool("repair " + dir.path());
  CHECK(r.code == 0);
  CHECK(r.out.find("pages kept") != std::string::npos);
  CHECK(r.out.find(std::to_string(pages - subtree)) != std::string::npos);

  CHECK(kvtool("repair " + dir.path() + "/nothing-here").code == 2);
}
