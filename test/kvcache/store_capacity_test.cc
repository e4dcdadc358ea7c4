// Capacity bounds the tensor log's files on disk (kv_store.h, "Capacity"):
// written well past it, with evictions, re-puts of evicted prompts, gets that
// reorder recency and reopens, the segment files never take more than
// capacity + one segment, and the store still holds a useful share of it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "kvcache_api/kv_store.h"
#include "test/engine/test_util.h"
#include "test/support/kv_data.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 16;
const KvLayout kLayout{2, 2, 64, DType::kF16};  // 1 KiB per token: 16 KiB pages, 20 KiB records
constexpr uint64_t kSegmentBytes = 256 << 10;
constexpr uint64_t kCapacity = 4 << 20;

StoreOptions options(const std::string& dir) {
  StoreOptions o;
  o.dir = dir;
  o.page_tokens = P;
  o.sync = SyncMode::kNone;
  o.capacity_bytes = kCapacity;
  o.segment_bytes = kSegmentBytes;
  o.index_write_buffer = 64 << 10;
  return o;
}

// The bytes of the segment files in the store's tensor directory, as the file
// system reports them.
uint64_t segment_file_bytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir + "/tensors")) {
    const std::string name = f.path().filename().string();
    if (name.starts_with("seg-") && name.ends_with(".tlog")) bytes += f.file_size();
  }
  return bytes;
}

}  // namespace

TEST_CASE("the segment files stay within capacity plus one segment", "[kvcache][capacity]") {
  const uint64_t seed = test::test_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  test::TempDir dir("lsm4kv_store_capacity");
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).is_ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("cap", kLayout, &ns).is_ok());
  const size_t bpt = kLayout.bytes_per_token();

  std::vector<std::vector<Token>> prompts;
  uint64_t peak = 0, reputs = 0;
  uint64_t bytes_put = 0, pages_evicted = 0;  // the stats of the stores closed so far
  for (int i = 0; i < 600; i++) {
    INFO("put " << i);
    std::vector<Token> t;
    if (!prompts.empty() && rng() % 4 == 0) {
      t = prompts[rng() % prompts.size()];  // again: evicted by now, or in part
      reputs++;
    } else {
      if (!prompts.empty() && rng() % 3 == 0) {  // extends an earlier prompt's prefix
        const auto& base = prompts[rng() % prompts.size()];
        t.assign(base.begin(), base.begin() + static_cast<long>(rng() % (base.size() / P + 1) * P));
      }
      const size_t pages = 1 + rng() % 8;
      for (size_t k = 0; k < pages * P; k++) t.push_back(static_cast<Token>(rng() % 50000));
      prompts.push_back(t);
    }
    auto kv = test::kv_of(t, t.size(), bpt);
    Status s = store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size()));
    INFO(s.to_string());
    REQUIRE(s.is_ok());
    const uint64_t on_disk = segment_file_bytes(dir.path());
    peak = std::max(peak, on_disk);
    REQUIRE(on_disk <= kCapacity + kSegmentBytes);
    REQUIRE(store->stats().tensor_file_bytes == on_disk);

    // A get of an earlier prompt makes it recent: evictions and dead bytes
    // then land all over the log, not in write order.
    const auto& g = prompts[rng() % prompts.size()];
    size_t cached = 0;
    REQUIRE(store->probe(ns, g, &cached).is_ok());
    if (cached > 0) {
      std::vector<char> got(cached * bpt);
      REQUIRE(store->get_batch(ns, g, cached, KvBuffer::host(got.data(), got.size())).is_ok());
      REQUIRE(got == test::kv_of(g, cached, bpt));
    }
    if (i % 100 == 99) {
      Status inv = store->check_invariants();
      INFO(inv.to_string());
      REQUIRE(inv.is_ok());
    }
    if (i % 200 == 100) {  // a reopen seals the active segment, dead records and all
      bytes_put += store->stats().bytes_put;
      pages_evicted += store->stats().pages_evicted;
      REQUIRE(store->close().is_ok());
      REQUIRE(KvStore::open(options(dir.path()), &store).is_ok());
      REQUIRE(store->register_namespace("cap", kLayout, &ns).is_ok());
    }
  }
  const StoreStats st = store->stats();
  bytes_put += st.bytes_put;
  pages_evicted += st.pages_evicted;
  WARN("capacity " << kCapacity << ": " << bytes_put << " bytes put (" << reputs << " re-puts), "
                   << pages_evicted << " pages evicted; segment files at most " << peak
                   << " bytes, now " << st.tensor_file_bytes << " (" << st.tensor_live_bytes
                   << " live, " << st.tensor_dead_bytes << " dead)");
  CHECK(bytes_put > 4 * kCapacity);
  CHECK(pages_evicted > 0);
  // Dead bytes are reclaimed rather than live ones evicted: most of the
  // capacity still holds KV.
  CHECK(st.stored_bytes >= kCapacity / 2);
  REQUIRE(store->check_invariants().is_ok());
}
