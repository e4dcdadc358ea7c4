// Kill -9 during puts, evictions and GC, then reopen: every acknowledged
// synced put is readable (when nothing may evict it) and nothing wrong is
// ever returned; the store's invariants hold after every restart.
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>

#include "kvcache_api/kv_store.h"
#include "test/engine/test_util.h"
#include "test/support/kill_child.h"
#include "test/support/kv_data.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 4;
const KvLayout kLayout{2, 2, 8, DType::kF16};  // 128 bytes per token

// Prompt i: a prefix of prompt i/2, then fresh tokens; the same in every process.
std::vector<Token> prompt(uint64_t seed, uint64_t i) {
  std::mt19937_64 rng(seed * 1000003 + i);
  std::vector<Token> t;
  if (i > 0 && rng() % 2) {
    std::vector<Token> base = prompt(seed, i / 2);
    t.assign(base.begin(), base.begin() + static_cast<long>(rng() % (base.size() + 1)));
  }
  size_t extra = P + rng() % (6 * P);
  for (size_t k = 0; k < extra; k++) t.push_back(static_cast<Token>(rng() % 1000));
  return t;
}

std::vector<char> kv_of(const std::vector<Token>& t, size_t n) {
  return test::kv_of(t, n, kLayout.bytes_per_token());
}

// The background's share (maintenance_room) and the eviction policy a run
// uses; the room makes the kills land in background eviction and GC too.
struct Maintenance {
  double room = 0;
  EvictionPolicy policy = StoreOptions{}.eviction;
};

StoreOptions crash_options(const std::string& dir, uint64_t capacity, const Maintenance& m = {}) {
  StoreOptions o;
  o.maintenance_room = m.room;
  o.eviction = m.policy;
  o.dir = dir;
  o.page_tokens = P;
  o.sync = SyncMode::kPerBatch;
  o.capacity_bytes = capacity;
  o.segment_bytes = 32 << 10;
  o.index_write_buffer = 16 << 10;
  return o;
}

// A child's error: says what failed (its stderr is the test's), then exits
// with the step's code.
[[noreturn]] void child_fails(int code, const Status& s) {
  std::fprintf(stderr, "crash test child: exit %d: %s\n", code, s.to_string().c_str());
  _exit(code);
}

[[noreturn]] void child(const std::string& dir, uint64_t capacity, const Maintenance& m, uint64_t seed,
                        uint64_t start, int ack_fd) {
  std::unique_ptr<KvStore> store;
  NamespaceId ns;
  if (Status s = KvStore::open(crash_options(dir, capacity, m), &store); !s.ok()) child_fails(3, s);
  if (Status s = store->register_namespace("crash", kLayout, &ns); !s.ok()) child_fails(3, s);
  for (uint64_t i = start;; i++) {
    auto t = prompt(seed, i);
    auto kv = kv_of(t, t.size());
    Status s = store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size()));
    if (s.is_no_space()) continue;  // its prefix tree alone fills the capacity: refused, not acked
    if (!s.ok()) child_fails(4, s);
    if (i % 16 == 15) {
      if (Status c = store->collect_garbage(); !c.ok()) child_fails(5, c);
    }
    if (m.room > 0) {
      // Reads mark pages hit: region eviction then copies them forward.
      auto old = prompt(seed, i / 2);
      size_t cached = 0;
      if (Status p = store->probe(ns, old, &cached); !p.ok()) child_fails(7, p);
      std::vector<char> got(cached * kLayout.bytes_per_token());
      if (cached > 0) {
        Status g = store->get_batch(ns, old, cached, KvBuffer::host(got.data(), got.size()));
        if (!g.ok() && !g.is_not_found()) child_fails(8, g);  // NotFound: evicted since the probe
        if (g.ok() && got != kv_of(old, cached)) _exit(9);
      }
    }
    if (!test::acknowledge(ack_fd, i)) _exit(6);
  }
}

void run(uint64_t capacity, int kills, const Maintenance& m = {}) {
  const uint64_t seed = test::test_seed();
  INFO("seed " << seed << " capacity " << capacity << " maintenance room " << m.room << " eviction "
               << static_cast<int>(m.policy));
  std::mt19937_64 rng(seed);
  test::TempDir dir("lsm4kv_store_crash");
  int64_t acked = -1;
  for (int k = 0; k < kills; k++) {
    INFO("kill " << k);
    acked = test::run_and_kill(
        [&](int ack_fd) { child(dir.path(), capacity, m, seed, static_cast<uint64_t>(acked + 1), ack_fd); },
        1 + static_cast<int>(rng() % 4), static_cast<useconds_t>(rng() % 20000), acked);

    std::unique_ptr<KvStore> store;
    Status s = KvStore::open(crash_options(dir.path(), capacity, m), &store);
    INFO(s.to_string());
    REQUIRE(s.ok());
    NamespaceId ns;
    REQUIRE(store->register_namespace("crash", kLayout, &ns).ok());
    Status inv = store->check_invariants();
    INFO(inv.to_string());
    REQUIRE(inv.ok());
    // Every prompt up to the last acknowledged one (and the one in flight).
    for (int64_t j = 0; j <= acked + 1; j++) {
      auto t = prompt(seed, static_cast<uint64_t>(j));
      size_t cached = 0;
      REQUIRE(store->probe(ns, t, &cached).ok());
      if (capacity == 0 && j <= acked) REQUIRE(cached == t.size() / P * P);
      if (cached == 0) continue;
      std::vector<char> got(cached * kLayout.bytes_per_token());
      s = store->get_batch(ns, t, cached, KvBuffer::host(got.data(), got.size()));
      INFO("prompt " << j << ": " << s.to_string());
      REQUIRE(s.ok());
      REQUIRE(got == kv_of(t, cached));
    }
    REQUIRE(store->close().ok());
  }
  WARN("store crash test (capacity " << capacity << ", " << kills << " kills): " << acked + 1
                                     << " puts acknowledged");
  REQUIRE(acked + 1 >= kills);  // each child acknowledged at least one put before its kill
}

}  // namespace

TEST_CASE("kill -9 during puts: every acknowledged put is readable", "[kvcache][crash]") {
  run(0, 30);
}

TEST_CASE("kill -9 during puts, eviction and GC: nothing wrong is returned", "[kvcache][crash]") {
  run(uint64_t{64} * 4096, 25);
}

TEST_CASE("kill -9 during background eviction and GC: nothing wrong is returned", "[kvcache][crash]") {
  const EvictionPolicy policy = GENERATE(EvictionPolicy::kRegion, EvictionPolicy::kSubtreeLru);
  run(uint64_t{64} * 4096, 25, {0.2, policy});
}

TEST_CASE("kill -9 while segment files are reused: nothing wrong is returned", "[kvcache][crash]") {
  // 16 segments of 32 KiB: region eviction keeps collected segments' files
  // for new ones (kReuseMinSegments), so kills land between a spare's
  // commit, its rename and the sync of its new header.
  run(uint64_t{128} * 4096, 25, {0.2, EvictionPolicy::kRegion});
}
