// The store under concurrent readers, a writer that evicts and collects, and
// a full disk: readers only ever see the right bytes or a clean miss, and a
// put that hits ENOSPC fails clearly while reads go on.
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>

#include "kvcache_api/kv_store.h"
#include "test/engine/test_util.h"
#include "test/support/kv_data.h"
#include "test/tensorlog/fault_fs.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 4;
const KvLayout kLayout{2, 1, 8, DType::kF16};  // 64 bytes per token

std::vector<Token> prompt(uint64_t i) {
  std::mt19937_64 rng(i);
  std::vector<Token> t(P * (1 + rng() % 6));
  t[0] = static_cast<Token>(i % 7);  // a handful of shared first pages
  for (size_t k = 1; k < t.size(); k++) t[k] = static_cast<Token>(rng() % 3);
  return t;
}

std::vector<char> kv_of(const std::vector<Token>& t, size_t n) {
  return test::kv_of(t, n, kLayout.bytes_per_token());
}

}  // namespace

TEST_CASE("concurrent probes and gets alongside puts, eviction and GC", "[kvcache][threads]") {
  test::TempDir dir("lsm4kv_conc");
  // Inline and background eviction, by regions and by subtrees.
  const double room = GENERATE(0.0, 0.2);
  const EvictionPolicy policy = GENERATE(EvictionPolicy::kRegion, EvictionPolicy::kSubtreeLru);
  INFO("maintenance room " << room << " eviction " << static_cast<int>(policy));
  StoreOptions o;
  o.dir = dir.path();
  o.page_tokens = P;
  o.sync = SyncMode::kNone;
  o.maintenance_room = room;
  o.eviction = policy;
  o.capacity_bytes = 64 * 4096;
  o.segment_bytes = 32 << 10;
  o.index_write_buffer = 32 << 10;
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(o, &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("t", kLayout, &ns).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> written{0}, good_gets{0};
  std::atomic<int> wrong{0}, unexpected{0};
  std::thread writer([&] {
    for (uint64_t i = 0; i < 600; i++) {
      auto t = prompt(i);
      auto kv = kv_of(t, t.size());
      Status s = store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size()));
      if (!s.ok() && !s.is_no_space()) unexpected++;
      written = i + 1;
      if (i % 50 == 49 && !store->collect_garbage().ok()) unexpected++;
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; r++) {
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(r);
      while (!stop) {
        uint64_t w = written;
        if (w == 0) {
          std::this_thread::yield();
          continue;
        }
        auto t = prompt(rng() % w);
        size_t cached = 0;
        if (!store->probe(ns, t, &cached).ok()) unexpected++;
        if (cached == 0) continue;
        std::vector<char> got(cached * kLayout.bytes_per_token());
        Status s = store->get_batch(ns, t, cached, KvBuffer::host(got.data(), got.size()));
        if (s.ok()) {
          if (got != kv_of(t, cached)) wrong++;
          else good_gets++;
        } else if (!s.is_not_found()) {  // evicted between probe and get: a clean miss
          unexpected++;
        }
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  INFO("good gets " << good_gets);
  REQUIRE(wrong == 0);
  REQUIRE(unexpected == 0);
  REQUIRE(good_gets > 0);
  REQUIRE(store->stats().evictions > 0);
  REQUIRE(store->check_invariants().ok());
}

TEST_CASE("a full disk fails the put clearly and reads go on", "[kvcache]") {
  test::TempDir dir("lsm4kv_full");
  test::FaultFileSystem ffs(FileSystem::posix());
  StoreOptions o;
  o.dir = dir.path();
  o.fs = &ffs;
  o.page_tokens = P;
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(o, &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("t", kLayout, &ns).ok());
  auto a = prompt(1), b = prompt(2);
  auto kva = kv_of(a, a.size()), kvb = kv_of(b, b.size());
  REQUIRE(store->put_batch(ns, a, KvBuffer::host(kva.data(), kva.size())).ok());
  ffs.fail_append(0, Status::no_space("injected ENOSPC"), /*partial=*/true);
  Status s = store->put_batch(ns, b, KvBuffer::host(kvb.data(), kvb.size()));
  INFO(s.to_string());
  REQUIRE(s.is_no_space());
  size_t cached = 0;
  REQUIRE(store->probe(ns, b, &cached).ok());
  REQUIRE(cached == 0);  // nothing of the failed put is visible
  std::vector<char> got(kva.size());
  REQUIRE(store->get_batch(ns, a, a.size(), KvBuffer::host(got.data(), got.size())).ok());
  REQUIRE(got == kva);
  // The disk has room again: puts work.
  REQUIRE(store->put_batch(ns, b, KvBuffer::host(kvb.data(), kvb.size())).ok());
  REQUIRE(store->probe(ns, b, &cached).ok());
  REQUIRE(cached == b.size());
}

TEST_CASE("the store feeds the tuner; a pinned shape is applied and kept", "[kvcache][tuner]") {
  test::TempDir dir("lsm4kv_tuned");
  StoreOptions o;
  o.dir = dir.path();
  o.page_tokens = P;
  o.sync = SyncMode::kNone;
  o.tuner_window_ops = 256;
  o.index_write_buffer = 16 << 10;
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(o, &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("t", kLayout, &ns).ok());
  for (uint64_t i = 0; i < 400; i++) {
    auto t = prompt(i);
    auto kv = kv_of(t, t.size());
    REQUIRE(store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size())).ok());
  }
  StoreStats st = store->stats();
  REQUIRE_FALSE(st.tuner_decisions.empty());  // the window closed and the optimizer ran
  REQUIRE(store->close().ok());

  LsmShape pin;
  pin.size_ratio = 6;
  pin.runs_per_level = {5};
  o.pinned_shape = pin;
  REQUIRE(KvStore::open(o, &store).ok());
  REQUIRE(store->register_namespace("t", kLayout, &ns).ok());
  for (uint64_t i = 400; i < 800; i++) {
    auto t = prompt(i);
    auto kv = kv_of(t, t.size());
    REQUIRE(store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size())).ok());
  }
  REQUIRE(store->stats().index_shape == pin);
}
