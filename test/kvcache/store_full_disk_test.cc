// A full disk is recoverable from inside: on a file system with a byte
// budget (test::BudgetFs) filled to the last byte, puts get NoSpace, evict_to
// and collect_garbage succeed and give bytes back, puts work again, and a
// store closed on the full disk reopens (also as kvtool evict opens it).
#include <catch2/catch.hpp>

#include <filesystem>

#include "kvcache_api/kv_store.h"
#include "kvcache_api/store_admin.h"
#include "test/engine/test_util.h"
#include "test/engine/fs_wrappers.h"
#include "test/support/kv_data.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 8;
const KvLayout kLayout{2, 2, 8, DType::kBF16};  // 128 bytes per token: a page record takes 1112 B
constexpr uint64_t kReserve = 256 << 10;

StoreOptions options(const std::string& dir, FileSystem* fs) {
  StoreOptions o;
  o.dir = dir;
  o.fs = fs;
  o.page_tokens = P;
  o.sync = SyncMode::kPerBatch;
  o.tuner = false;
  o.segment_bytes = 64 << 10;
  o.index_write_buffer = 16 << 10;
  o.reserve_bytes = kReserve;
  return o;
}

std::vector<Token> prompt(int i) {
  std::vector<Token> t;
  for (size_t k = 0; k < 4 * P; k++) t.push_back(static_cast<Token>(i * 1000 + k));
  return t;
}

Status put(KvStore* store, NamespaceId ns, int i) {
  auto t = prompt(i);
  auto kv = test::kv_of(t, t.size(), kLayout.bytes_per_token());
  return store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size()));
}

// Puts prompts from *next on until one gets NoSpace; then makes the disk
// exactly full. Returns how many were stored.
int fill(KvStore* store, NamespaceId ns, test::BudgetFs* fs, int* next) {
  int stored = 0;
  for (;; ++*next) {
    Status s = put(store, ns, *next);
    if (s.is_no_space()) break;
    REQUIRE(s.ok());
    stored++;
    REQUIRE(stored < 10000);
  }
  fs->set_budget(fs->used());
  return stored;
}

size_t cached(KvStore* store, NamespaceId ns, int i) {
  size_t n = 0;
  REQUIRE(store->probe(ns, prompt(i), &n).ok());
  return n;
}

void check_reads(KvStore* store, NamespaceId ns, int i) {
  auto t = prompt(i);
  std::vector<char> buf(t.size() * kLayout.bytes_per_token());
  REQUIRE(store->get_batch(ns, t, t.size(), KvBuffer::host(buf.data(), buf.size())).ok());
  CHECK(buf == test::kv_of(t, t.size(), kLayout.bytes_per_token()));
}

bool reserve_held(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::file_size(dir + "/RESERVE", ec) == kReserve;
}

}  // namespace

TEST_CASE("evict_to frees a full disk; the store reopens on it", "[kvcache][full_disk]") {
  test::TempDir dir("lsm4kv_full_disk");
  test::BudgetFs fs(FileSystem::posix());
  fs.set_budget(2 << 20);
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path(), &fs), &store).ok());
  CHECK(reserve_held(dir.path()));
  NamespaceId ns;
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  int next = 0;
  const int stored = fill(store.get(), ns, &fs, &next);
  REQUIRE(stored > 20);
  CHECK(put(store.get(), ns, next).is_no_space());

  // Not even a range deletion's WAL record fits: the reserve pays for it.
  const uint64_t full = fs.used();
  const uint64_t half = store->stats().stored_bytes / 2;
  Status s = store->evict_to(half);
  INFO(s.to_string());
  REQUIRE(s.ok());
  CHECK(store->stats().stored_bytes <= half);
  CHECK(fs.used() < full - half / 2);  // the evicted segments are gone, the reserve is back
  CHECK(reserve_held(dir.path()));
  REQUIRE(store->check_invariants().ok());
  CHECK(cached(store.get(), ns, 0) == 0);  // the oldest went
  check_reads(store.get(), ns, next - 1);  // the newest stayed
  fs.set_budget(2 << 20);
  REQUIRE(put(store.get(), ns, next++).ok());
  check_reads(store.get(), ns, next - 1);

  // Full again, closed, reopened on the full disk.
  fill(store.get(), ns, &fs, &next);
  REQUIRE(store->close().ok());
  store.reset();
  s = KvStore::open(options(dir.path(), &fs), &store);
  INFO(s.to_string());
  REQUIRE(s.ok());
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  check_reads(store.get(), ns, next - 1);
  CHECK(put(store.get(), ns, next).is_no_space());
  REQUIRE(store->close().ok());
  store.reset();

  // What `kvtool evict DIR --to-bytes N` does, on the full disk.
  StoreOptions o = options(dir.path(), &fs);
  o.page_tokens = 0;  // read from the store
  REQUIRE(admin::open_existing(o, &store).ok());
  const uint64_t before = fs.used();
  s = store->evict_to(store->stats().stored_bytes / 4);
  INFO(s.to_string());
  REQUIRE(s.ok());
  CHECK(fs.used() < before);
  REQUIRE(store->check_invariants().ok());
  REQUIRE(store->close().ok());
}

TEST_CASE("collect_garbage frees a full disk of dead records", "[kvcache][full_disk]") {
  // The capacity is larger than the disk and the headroom large: eviction
  // keeps the live bytes small, and the dead records fill the disk long
  // before the capacity would have the store collect them.
  test::TempDir dir("lsm4kv_full_disk");
  test::BudgetFs fs(FileSystem::posix());
  fs.set_budget(2 << 20);
  StoreOptions o = options(dir.path(), &fs);
  o.capacity_bytes = 64 << 20;
  o.eviction = EvictionPolicy::kSubtreeLru;  // the headroom rule
  o.gc_headroom = 0.99;  // live bytes within ~650 KiB
  // No reserve: the segments without a live record must go before GC
  // writes anything.
  o.reserve_bytes = 0;
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(o, &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  int next = 0;
  fill(store.get(), ns, &fs, &next);
  CHECK(put(store.get(), ns, next).is_no_space());
  StoreStats st;
  REQUIRE(store->stats(&st).ok());
  REQUIRE(st.tensor_dead_bytes > st.tensor_live_bytes);

  const uint64_t full = fs.used();
  Status s = store->collect_garbage();
  INFO(s.to_string());
  REQUIRE(s.ok());
  REQUIRE(store->stats(&st).ok());
  CHECK(fs.used() < full);
  CHECK(st.tensor_dead_bytes < st.tensor_live_bytes);
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/RESERVE"));
  REQUIRE(store->check_invariants().ok());
  check_reads(store.get(), ns, next - 1);
  fs.set_budget(2 << 20);
  REQUIRE(put(store.get(), ns, next++).ok());
  REQUIRE(store->close().ok());
}

TEST_CASE("the reserve by the capacity: the index's write buffer and two segments, at most 64 MiB",
          "[kvcache][full_disk]") {
  auto reserve_of = [](StoreOptions o) {
    test::TempDir dir("lsm4kv_reserve_default");
    o.dir = dir.path();
    std::unique_ptr<KvStore> store;
    REQUIRE(KvStore::open(o, &store).ok());
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(dir.path() + "/RESERVE", ec);
    REQUIRE_FALSE(ec);
    REQUIRE(store->close().ok());
    return size;
  };
  StoreOptions o = options("", FileSystem::posix());
  o.reserve_bytes = StoreOptions::kReserveByCapacity;
  REQUIRE(StoreOptions{}.reserve_bytes == StoreOptions::kReserveByCapacity);  // the default
  o.capacity_bytes = 64 << 20;
  CHECK(reserve_of(o) == (16 << 10) + 2 * (64 << 10));
  o.segment_bytes = 0;  // by the capacity: 4 MiB
  o.index_write_buffer = 8 << 20;
  CHECK(reserve_of(o) == (16u << 20));
  o.capacity_bytes = 0;  // no capacity: 64 MiB
  CHECK(reserve_of(o) == (64u << 20));
  o.reserve_bytes = 3 << 20;  // a size given is kept
  CHECK(reserve_of(o) == (3u << 20));
}
