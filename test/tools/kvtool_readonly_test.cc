// kvtool's inspection commands (info, stats, tree, probe, get, verify) never
// write to the store directory: on a store damaged four ways (a zeroed
// MANIFEST, a flipped byte in a run file, unflushed WAL data with a torn
// WAL tail, a torn segment tail) every file's name and bytes are the same
// after each command as before it, and each command shows the damage
// rather than repairing or hiding it.
#include <unistd.h>

#include "tensorlog/tensor_log.h"
#include "test/engine/test_util.h"
#include "test/tools/kvtool_fixture.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;
using namespace lsm4kv::test::kvtool_fixture;

namespace {

struct Outcome {
  std::map<std::string, Result> by_command;  // "info", "stats", ...
  const Result& operator[](const std::string& c) const { return by_command.at(c); }
};

// Runs every inspection command on dir and checks that none changed a file.
// The token file and get's output live outside the store.
Outcome inspect_without_writing(const std::string& dir, const std::string& ns,
                                const std::vector<std::vector<Token>>& prompts) {
  static test::TempDir scratch("kvtool_ro");
  const std::string tokens = scratch.path() + "/tokens.txt", out = scratch.path() + "/kv.bin";
  std::string lines;
  for (const auto& p : prompts) lines += tokens_line(p) + "\n";
  write_text(tokens, lines);
  const std::vector<std::pair<std::string, std::string>> commands = {
      {"info", "info " + dir + " --json"},
      {"stats", "stats " + dir + " --json"},
      {"tree", "tree " + dir + " --ns " + ns + " --json"},
      {"probe", "probe " + dir + " --ns " + ns + " --tokens " + tokens + " --json"},
      {"get", "get " + dir + " --ns " + ns + " --tokens " + tokens + " --out " + out + " --json"},
      {"verify", "verify " + dir + " --json"},
      {"info text", "info " + dir},
      {"verify text", "verify " + dir},
  };
  Outcome o;
  for (const auto& [name, args] : commands) {
    const auto before = test::dir_contents(dir);
    Result r = kvtool(args);
    INFO("kvtool " << args << " -> " << r.code << "\nstdout: " << r.out << "\nstderr: " << r.err);
    const auto after = test::dir_contents(dir);
    CHECK(after.size() == before.size());
    for (const auto& [path, bytes] : before) {
      INFO(path);
      auto it = after.find(path);
      REQUIRE(it != after.end());
      CHECK(it->second == bytes);
    }
    o.by_command[name] = r;
  }
  return o;
}

bool mentions(const Result& r, const std::string& what) {
  return r.out.find(what) != std::string::npos || r.err.find(what) != std::string::npos;
}

std::string current_manifest(const std::string& dir) {
  std::string name = slurp(dir + "/index/CURRENT");
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

}  // namespace

TEST_CASE("kvtool inspection writes nothing to a clean store", "[kvtool][read_only]") {
  test::TempDir dir("kvtool");
  const Written w = write_store(dir.path());
  Outcome o = inspect_without_writing(dir.path(), "alpha", w.alpha);
  for (const char* c : {"info", "stats", "tree", "probe", "get", "verify"}) {
    INFO(c);
    CHECK(o[c].code == 0);
  }
  CHECK(o["info"].json()["pages"].u() == w.alpha_pages.size() + w.beta_pages.size());
  CHECK(o["verify"].json()["clean"].boolean);
}

TEST_CASE("kvtool inspection of a zeroed MANIFEST", "[kvtool][read_only]") {
  test::TempDir dir("kvtool");
  const Written w = write_store(dir.path());
  const std::string manifest = current_manifest(dir.path());
  REQUIRE(manifest.starts_with("MANIFEST"));
  const std::string path = dir.path() + "/index/" + manifest;
  const uint64_t size = fs::file_size(path);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << std::string(size, '\0');
  const size_t runs = files_ending(dir.path() + "/index", ".run").size();
  REQUIRE(runs >= 1);

  Outcome o = inspect_without_writing(dir.path(), "alpha", w.alpha);
  // The run files the manifest named are all still there.
  CHECK(files_ending(dir.path() + "/index", ".run").size() == runs);
  CHECK(o["verify"].code == 1);
  CHECK(mentions(o["verify"], manifest));
  // Commands that open the index refuse, naming the manifest; none shows a
  // store that silently lost its run files.
  for (const char* c : {"info", "tree", "probe", "get"}) {
    INFO(c);
    CHECK(o[c].code == 1);
    CHECK(mentions(o[c], manifest));
  }
  CHECK(o["stats"].code == 0);  // reads only the stats file
}

TEST_CASE("kvtool inspection of a run file with a flipped byte", "[kvtool][read_only]") {
  test::TempDir dir("kvtool");
  const Written w = write_store(dir.path());
  auto runs = files_ending(dir.path() + "/index", ".run");
  REQUIRE(!runs.empty());
  for (const std::string& run : runs) flip_byte(run, 20);  // inside data block 0 of each
  const std::string name = fs::path(runs.back()).filename().string();

  Outcome o = inspect_without_writing(dir.path(), "alpha", w.alpha);
  CHECK(o["verify"].code == 1);
  CHECK(mentions(o["verify"], name));
  // info and tree read every entry: they stop at the damaged block, naming its file.
  for (const char* c : {"info", "tree"}) {
    INFO(c);
    CHECK(o[c].code == 1);
    CHECK(mentions(o[c], ".run"));
  }
}

TEST_CASE("kvtool inspection of unflushed WAL data with a torn tail", "[kvtool][read_only]") {
  test::TempDir dir("kvtool");
  // A write buffer larger than everything put: the index is all in the WAL.
  StoreOptions so = options(dir.path());
  so.index_write_buffer = 4 << 20;
  std::vector<std::vector<Token>> prompts;
  {
    std::unique_ptr<KvStore> store;
    REQUIRE(KvStore::open(so, &store).ok());
    NamespaceId a;
    REQUIRE(store->register_namespace("alpha", kLayoutA, &a).ok());
    for (int i = 0; i < 6; i++) {
      std::vector<Token> p;
      for (size_t t = 0; t < 3 * P; t++) p.push_back(100 * i + static_cast<Token>(t));
      auto kv = test::kv_of(p, p.size(), kLayoutA.bytes_per_token());
      REQUIRE(store->put_batch(a, p, KvBuffer::host(kv.data(), kv.size())).ok());
      prompts.push_back(p);
    }
    REQUIRE(store->close().ok());
  }
  REQUIRE(files_ending(dir.path() + "/index", ".run").empty());
  auto wals = files_ending(dir.path() + "/index", ".wal");
  REQUIRE(wals.size() == 1);
  // Tear the last record (the last put's index batch) in the middle.
  REQUIRE(::truncate(wals[0].c_str(), static_cast<off_t>(fs::file_size(wals[0]) - 20)) == 0);

  Outcome o = inspect_without_writing(dir.path(), "alpha", prompts);
  REQUIRE(o["info"].code == 0);
  // The WAL is replayed in memory: every acknowledged put but the torn one.
  CHECK(o["info"].json()["pages"].u() == 5 * 3);
  REQUIRE(o["probe"].code == 0);
  const Json probe = o["probe"].json();
  for (size_t i = 0; i < 5; i++) CHECK(probe["results"][i]["cached"].u() == 3 * P);
  CHECK(probe["results"][5]["cached"].u() == 0);
  CHECK(o["get"].code == 0);
  REQUIRE(o["verify"].code == 0);
  CHECK(o["verify"].json()["entries"].u() == 5 * 3);
  CHECK(o["verify"].json()["wal_files"].u() == 1);
  // Still no run file: nothing was flushed.
  CHECK(files_ending(dir.path() + "/index", ".run").empty());
}

TEST_CASE("kvtool inspection of a torn segment tail", "[kvtool][read_only]") {
  test::TempDir dir("kvtool");
  const Written w = write_store(dir.path());
  // Cut the newest record (the last page of the last put, beta[1]) in half:
  // the seal goes with it, so its segment is unsealed with a torn tail.
  tensorlog::Location last;
  {
    tensorlog::TensorLogOptions to;
    std::unique_ptr<tensorlog::TensorLog> log;
    REQUIRE(tensorlog::TensorLog::open(dir.path() + "/tensors", to, &log).ok());
    for (const auto& l : log->live_records()) last = std::max(last, l);
    REQUIRE(log->close().ok());
  }
  const std::string segment = dir.path() + "/tensors/" + tensorlog::segment_file_name(last.segment);
  REQUIRE(::truncate(segment.c_str(), static_cast<off_t>(last.offset + last.length / 2)) == 0);

  Outcome o = inspect_without_writing(dir.path(), "beta", w.beta);
  REQUIRE(o["info"].code == 0);
  uint64_t torn = 0;
  const Json info = o["info"].json();  // outlives the loop over its parts
  for (const Json& s : info["tensor_log"]["segment_list"].array) torn += s["torn_bytes"].u();
  CHECK(torn == last.length / 2);
  CHECK(mentions(o["info text"], "torn tail"));
  CHECK(o["verify"].code == 1);
  CHECK(mentions(o["verify"], "torn tail"));
  CHECK(mentions(o["verify"], tensorlog::segment_file_name(last.segment)));
  // The index still names the page in the torn record: probe counts it, get
  // fails on it (the damage is shown, not papered over).
  CHECK(o["probe"].code == 0);
  CHECK(o["get"].code == 1);
}
