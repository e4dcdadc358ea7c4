// Power cuts under the POSIX loss model (test/support/power_loss_fs.h): a
// store with tiny pages, segments and write buffer (so index flushes,
// compactions, segment rotations, GC and eviction all run) takes puts and
// collect_garbage calls until the power goes off after a seeded random
// number of file operations; the store is destroyed, everything not synced
// (file tails, directory entries) is lost as POSIX allows, and the store is
// reopened with the plain POSIX file system:
//   - it reopens (0 failed reopens) and check_invariants() passes;
//   - unbounded (capacity 0): every acknowledged put is cached whole;
//   - always: every page probe reports is returned by get with exactly the
//     bytes that were put (0 wrong bytes).
// With capacity, eviction may remove any acknowledged prompt, so only the
// second check applies there.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "kvcache_api/kv_store.h"
#include "test/engine/test_util.h"
#include "test/support/kv_data.h"
#include "test/support/power_loss_fs.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 4;
const KvLayout kSmall{2, 2, 8, DType::kF16};  // 128 bytes per token: 512-byte pages
// Big prompts (> 4 MiB encoded) go through the tensor log's io_uring path.
const KvLayout kBig{2, 8, 128, DType::kF16};  // 8 KiB per token: 32 KiB pages
constexpr size_t kBigTokens = 520;

struct Config {
  SyncMode sync = SyncMode::kPerBatch;
  int writers = 1;
  uint64_t capacity = 0;
  uint64_t segment_bytes = 32 << 10;
  uint64_t big_every = 0;  // every big_every-th prompt is big (0: none)
  bool reuses_files = false;  // the capacity holds 16 segments: files are reused (kReuseMinSegments)
};

bool is_big(const Config& c, uint64_t i) { return c.big_every != 0 && i % c.big_every == c.big_every - 1; }

// Prompt i of a run: often a prefix of prompt i/2, then fresh tokens.
std::vector<Token> prompt(const Config& c, uint64_t seed, uint64_t i) {
  std::mt19937_64 rng(seed * 1000003 + i);
  std::vector<Token> t;
  if (is_big(c, i)) {
    for (size_t k = 0; k < kBigTokens; k++) t.push_back(static_cast<Token>(rng() % 1000));
    return t;
  }
  if (i > 0 && rng() % 2 && !is_big(c, i / 2)) {
    std::vector<Token> base = prompt(c, seed, i / 2);
    t.assign(base.begin(), base.begin() + static_cast<long>(rng() % (base.size() + 1)));
  }
  size_t extra = P + rng() % (6 * P);
  for (size_t k = 0; k < extra; k++) t.push_back(static_cast<Token>(rng() % 1000));
  return t;
}

StoreOptions options(const Config& c, const std::string& dir, FileSystem* fs) {
  StoreOptions o;
  o.dir = dir;
  o.fs = fs;
  o.page_tokens = P;
  o.sync = c.sync;
  o.capacity_bytes = c.capacity;
  o.segment_bytes = c.big_every ? (1 << 20) : c.segment_bytes;
  o.index_write_buffer = 16 << 10;
  o.tuner = false;  // its reshapes are not what this test is about
  return o;
}

struct Namespaces {
  NamespaceId small = 0, big = 0;
};

Status register_all(KvStore* store, Namespaces* ns) {
  LSM4KV_RETURN_IF_ERROR(store->register_namespace("small", kSmall, &ns->small));
  return store->register_namespace("big", kBig, &ns->big);
}

// What the writers did, shared by the rounds of one store.
struct Progress {
  std::atomic<uint64_t> next{0};  // the next prompt to put
  std::mutex mu;
  std::vector<bool> acked;        // guarded by mu
  void ack(uint64_t i) {
    std::lock_guard<std::mutex> l(mu);
    if (acked.size() <= i) acked.resize(i + 1, false);
    acked[i] = true;
  }
};

Status write_until_failure(const Config& c, uint64_t seed, KvStore* store, const Namespaces& ns,
                           Progress* p, uint64_t* puts) {
  for (uint64_t k = 1;; k++) {
    uint64_t i = p->next.fetch_add(1);
    auto t = prompt(c, seed, i);
    const KvLayout& layout = is_big(c, i) ? kBig : kSmall;
    auto kv = test::kv_of(t, t.size(), layout.bytes_per_token());
    Status s = store->put_batch(is_big(c, i) ? ns.big : ns.small, t, KvBuffer::host(kv.data(), kv.size()));
    if (s.is_no_space() && c.capacity != 0) continue;  // its own prefix tree fills the capacity: not acked
    LSM4KV_RETURN_IF_ERROR(s);
    p->ack(i);
    (*puts)++;
    if (k % 16 == 0) LSM4KV_RETURN_IF_ERROR(store->collect_garbage());
  }
}

struct Totals {
  int cuts = 0, cut_in_open = 0;
  uint64_t ops = 0, puts = 0, pages_checked = 0, acked_checked = 0, reused_files = 0;
  test::PowerLossReport loss;
};

// The reopened store against what was acknowledged.
void check(const Config& c, uint64_t seed, KvStore* store, const Namespaces& ns, Progress* p,
           Totals* t) {
  Status inv = store->check_invariants();
  INFO(inv.to_string());
  REQUIRE(inv.ok());
  uint64_t end = p->next.load();
  for (uint64_t i = 0; i < end; i++) {
    auto tokens = prompt(c, seed, i);
    const KvLayout& layout = is_big(c, i) ? kBig : kSmall;
    NamespaceId id = is_big(c, i) ? ns.big : ns.small;
    size_t cached = 0;
    REQUIRE(store->probe(id, tokens, &cached).ok());
    bool acked = i < p->acked.size() && p->acked[i];
    INFO("prompt " << i << " of " << tokens.size() << " tokens, acked " << acked << ", cached "
                   << cached);
    if (c.capacity == 0 && acked) {
      REQUIRE(cached == tokens.size() / P * P);
      t->acked_checked++;
    }
    if (cached == 0) continue;
    std::vector<char> got(cached * layout.bytes_per_token());
    Status s = store->get_batch(id, tokens, cached, KvBuffer::host(got.data(), got.size()));
    INFO(s.to_string());
    REQUIRE(s.ok());
    REQUIRE(got == test::kv_of(tokens, cached, layout.bytes_per_token()));
    t->pages_checked += cached / P;
  }
}

void one_cut(const Config& c, const std::string& root, uint64_t seed, uint64_t loss_seed,
             uint64_t cut_ops, Progress* p, Totals* t) {
  const std::string dir = root + "/store";
  test::PowerLossFileSystem fs(FileSystem::posix(), root + "/graveyard");
  fs.cut_after(cut_ops);
  {
    std::unique_ptr<KvStore> store;
    Namespaces ns;
    Status s = KvStore::open(options(c, dir, &fs), &store);
    if (s.ok()) s = register_all(store.get(), &ns);
    if (!s.ok()) {
      INFO(s.to_string());
      REQUIRE(fs.is_cut());  // the cut came during open
      t->cut_in_open++;
    } else {
      std::vector<Status> failures(static_cast<size_t>(c.writers));
      std::vector<uint64_t> puts(static_cast<size_t>(c.writers), 0);
      std::vector<std::thread> threads;
      for (size_t w = 0; w < failures.size(); w++)
        threads.emplace_back([&, w] {
          failures[w] = write_until_failure(c, seed, store.get(), ns, p, &puts[w]);
        });
      for (std::thread& th : threads) th.join();
      for (size_t w = 0; w < failures.size(); w++) {
        INFO(failures[w].to_string());
        REQUIRE(fs.is_cut());  // a put fails only because the power is off
        t->puts += puts[w];
      }
    }
    // Destroyed with the power off (close fails): must not crash or hang.
  }
  t->ops += fs.ops();
  t->reused_files += fs.reused_files();
  test::PowerLossReport loss;
  REQUIRE(fs.apply_loss(loss_seed, &loss).ok());
  t->loss.files_cut += loss.files_cut;
  t->loss.files_torn += loss.files_torn;
  t->loss.bytes_lost += loss.bytes_lost;
  t->loss.entries_undone += loss.entries_undone;
  t->loss.reused_reverted += loss.reused_reverted;

  std::unique_ptr<KvStore> store;
  Status s = KvStore::open(options(c, dir, FileSystem::posix()), &store);
  INFO("reopen after the cut: " << s.to_string());
  REQUIRE(s.ok());
  Namespaces ns;
  REQUIRE(register_all(store.get(), &ns).ok());
  check(c, seed, store.get(), ns, p, t);
  REQUIRE(store->close().ok());
  t->cuts++;
}

void run_cuts(const Config& c, int cuts, int cuts_per_store, uint64_t max_ops) {
  const uint64_t seed = test::test_seed();
  std::mt19937_64 rng(seed);
  Totals t;
  for (int k = 0; k < cuts;) {
    test::TempDir root("lsm4kv_store_power");
    Progress p;
    for (int j = 0; j < cuts_per_store && k < cuts; j++, k++) {
      uint64_t cut_ops = 1 + rng() % max_ops, loss_seed = rng();
      INFO("seed " << seed << " cut " << k << " after " << cut_ops << " ops, loss seed "
                   << loss_seed);
      one_cut(c, root.path(), seed, loss_seed, cut_ops, &p, &t);
    }
  }
  WARN("store power cuts (capacity " << c.capacity << ", " << c.writers << " writer(s)): "
       << t.cuts << " cuts (" << t.cut_in_open << " during open), " << t.ops
       << " file operations, " << t.puts << " acknowledged puts, " << t.acked_checked
       << " acked prompts checked whole, " << t.pages_checked << " pages read back; lost: "
       << t.loss.files_cut << " tails dropped, " << t.loss.files_torn << " torn, "
       << t.loss.bytes_lost << " bytes, " << t.loss.entries_undone
       << " directory entries undone; " << t.reused_files << " segment files reused, "
       << t.loss.reused_reverted << " of their sectors given old bytes back");
  // The workload made progress: the test did not pass by writing nothing.
  REQUIRE(t.puts >= static_cast<uint64_t>(cuts));
  if (c.reuses_files) REQUIRE(t.reused_files > 0);
}

int cuts(int def) { return static_cast<int>(test::env_or("LSM4KV_POWER_CUTS", static_cast<uint64_t>(def))); }

}  // namespace

TEST_CASE("power cuts during puts: every acknowledged put survives, byte for byte", "[kvcache][power]") {
  Config c;
  c.big_every = 24;  // and a few big puts, written through io_uring
  run_cuts(c, cuts(25), 10, 300);
}

TEST_CASE("power cuts under group commit, two writers", "[kvcache][power]") {
  Config c;
  c.sync = SyncMode::kGroupCommit;
  c.writers = 2;
  run_cuts(c, cuts(20), 10, 300);
}

TEST_CASE("power cuts during puts, eviction and GC: nothing wrong is returned", "[kvcache][power]") {
  Config c;
  c.capacity = uint64_t{64} * 4096;
  run_cuts(c, cuts(20), 10, 300);
  c.sync = SyncMode::kGroupCommit;
  c.writers = 2;
  run_cuts(c, cuts(15), 10, 300);
}

TEST_CASE("power cuts while segment files are reused: nothing wrong is returned", "[kvcache][power]") {
  // 16 segments of 32 KiB: collected files are written over in place, and a
  // cut leaves each sector written since its sync new or old.
  Config c;
  c.capacity = 16 * c.segment_bytes;
  c.reuses_files = true;
  run_cuts(c, cuts(20), 10, 600);
}
