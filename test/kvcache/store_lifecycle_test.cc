// The store's life cycle at its edges: every public call after close()
// returns InvalidArgument (none crashes), close() waits for get_batch_async
// calls in flight, and options and layouts are checked at the door.
#include <catch2/catch.hpp>

#include <future>

#include "kvcache_api/kv_store.h"
#include "kvcache_api/store_admin.h"
#include "kvcache_api/test_hooks.h"
#include "test/engine/test_util.h"
#include "test/support/kv_data.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 4;
const KvLayout kLayout{2, 2, 8, DType::kF16};  // 128 bytes per token

StoreOptions options(const std::string& dir) {
  StoreOptions o;
  o.dir = dir;
  o.page_tokens = P;
  o.sync = SyncMode::kNone;
  o.tuner = false;
  o.segment_bytes = 64 << 10;
  o.reserve_bytes = 0;
  return o;
}

std::vector<Token> prompt(int i, size_t pages) {
  std::vector<Token> t;
  for (size_t k = 0; k < pages * P; k++) t.push_back(static_cast<Token>(i * 1000 + k));
  return t;
}

void put(KvStore* store, NamespaceId ns, const std::vector<Token>& t) {
  auto kv = test::kv_of(t, t.size(), kLayout.bytes_per_token());
  REQUIRE(store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size())).ok());
}

}  // namespace

TEST_CASE("every call after close returns InvalidArgument", "[kvcache][lifecycle]") {
  test::TempDir dir("lsm4kv_lifecycle");
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  const auto t = prompt(1, 3);
  put(store.get(), ns, t);
  REQUIRE(store->close().ok());
  REQUIRE(store->close().ok());  // idempotent

  std::vector<char> buf(t.size() * kLayout.bytes_per_token());
  const KvBuffer dst = KvBuffer::host(buf.data(), buf.size());
  size_t cached = 99;
  NamespaceId other;
  CHECK(store->register_namespace("m", kLayout, &other).is_invalid_argument());
  CHECK(store->put_batch(ns, t, dst).is_invalid_argument());
  CHECK(store->put_batch(std::span<const PutRequest>()).is_invalid_argument());
  CHECK(store->probe(ns, t, &cached).is_invalid_argument());
  CHECK(cached == 0);
  CHECK(store->get_batch(ns, t, t.size(), dst).is_invalid_argument());
  CHECK(store->get_batch(std::span<GetRequest>()).is_invalid_argument());
  CHECK(store->get_batch_async(ns, t, t.size(), dst).get().is_invalid_argument());
  CHECK(store->evict_to(0).is_invalid_argument());
  CHECK(store->collect_garbage().is_invalid_argument());
  CHECK(store->check_invariants().is_invalid_argument());
  StoreStats st;
  CHECK(store->stats(&st).is_invalid_argument());
  CHECK(store->stats().pages_put == 0);
  std::vector<admin::NamespaceInfo> names;
  CHECK(admin::list_namespaces(*store, &names).is_invalid_argument());
  admin::TreeInfo tree;
  CHECK(admin::tree(*store, "m", 0, 10, &tree).is_invalid_argument());
  admin::VerifyReport report;
  CHECK(admin::verify(*store, &report).is_invalid_argument());
  CHECK(admin::persist_stats(*store).is_invalid_argument());
  CHECK(kvcache::testing::index_of(store.get()) == nullptr);
  CHECK(kvcache::testing::log_of(store.get()) == nullptr);
  CHECK(store->page_tokens() == P);
}

TEST_CASE("close waits for get_batch_async calls in flight", "[kvcache][lifecycle]") {
  test::TempDir dir("lsm4kv_lifecycle");
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  std::vector<std::vector<Token>> prompts;
  for (int i = 0; i < 16; i++) {
    prompts.push_back(prompt(i, 8));
    put(store.get(), ns, prompts.back());
  }
  const size_t bpt = kLayout.bytes_per_token();
  std::vector<std::vector<char>> bufs(prompts.size() * 4);
  std::vector<std::future<Status>> futures;
  for (size_t i = 0; i < bufs.size(); i++) {
    const auto& t = prompts[i % prompts.size()];
    bufs[i].resize(t.size() * bpt);
    futures.push_back(store->get_batch_async(ns, t, t.size(), KvBuffer::host(bufs[i].data(), bufs[i].size())));
  }
  REQUIRE(store->close().ok());
  // Every call made before close() ran to the end on an open store.
  for (size_t i = 0; i < futures.size(); i++) {
    INFO("get " << i);
    REQUIRE(futures[i].get().ok());
    const auto& t = prompts[i % prompts.size()];
    CHECK(bufs[i] == test::kv_of(t, t.size(), bpt));
  }
}

TEST_CASE("options are checked at open", "[kvcache][lifecycle]") {
  test::TempDir dir("lsm4kv_lifecycle");
  std::unique_ptr<KvStore> store;
  auto refused = [&](const StoreOptions& o, const std::string& words) {
    Status s = KvStore::open(o, &store);
    INFO(s.to_string());
    CHECK(s.is_invalid_argument());
    CHECK(s.message().find(words) != std::string::npos);
    CHECK(store == nullptr);
  };
  StoreOptions o = options(dir.path());
  o.codec = static_cast<Codec>(99);
  refused(o, "codec 99");
  o = options(dir.path());
  o.sync = static_cast<SyncMode>(7);
  refused(o, "sync mode 7");
  o = options(dir.path());
  o.probe = static_cast<ProbeStrategy>(5);
  refused(o, "probe strategy 5");
  o = options(dir.path());
  o.page_tokens = 0;
  refused(o, "page_tokens");
  o.page_tokens = 513;
  refused(o, "page_tokens");
  o = options(dir.path());
  o.segment_bytes = 8 << 10;
  refused(o, "segment_bytes");
  o.segment_bytes = uint64_t{1} << 41;
  refused(o, "segment_bytes");
  o = options(dir.path());
  o.capacity_bytes = o.segment_bytes;  // no room beside the active segment
  refused(o, "capacity_bytes");
  o = options(dir.path());
  o.gc_headroom = 1.0;
  refused(o, "gc_headroom");
  o.gc_headroom = -0.1;
  refused(o, "gc_headroom");
  o = options(dir.path());
  o.index_write_buffer = 0;
  refused(o, "index_write_buffer");
  o = options(dir.path());
  o.tuner = true;
  o.tuner_window_ops = 0;
  refused(o, "tuner_window_ops");
  o = options(dir.path());
  o.initial_shape = {.size_ratio = 1, .runs_per_level = {1}};
  refused(o, "initial_shape");
  o = options(dir.path());
  o.pinned_shape = LsmShape{.size_ratio = 4, .runs_per_level = {0}};
  refused(o, "pinned_shape");
  o = options(dir.path());
  o.dir.clear();
  refused(o, "directory");
  // Nothing was created by a refused open, and the good options open.
  CHECK(std::filesystem::is_empty(dir.path()));
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
}

TEST_CASE("layouts are checked at register_namespace", "[kvcache][lifecycle]") {
  test::TempDir dir("lsm4kv_lifecycle");
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId ns;
  auto refused = [&](const KvLayout& l, const std::string& words) {
    Status s = store->register_namespace("bad", l, &ns);
    INFO(s.to_string());
    CHECK(s.is_invalid_argument());
    CHECK(s.message().find(words) != std::string::npos);
  };
  refused({0, 2, 8, DType::kF16}, "must be > 0");
  refused({2, 0, 8, DType::kF16}, "must be > 0");
  refused({2, 2, 0, DType::kF16}, "must be > 0");
  refused({2, 2, 8, static_cast<DType>(9)}, "unknown dtype 9");
  // 2 · 2^32-1 · 2^32-1 · 2^32-1 · 4 wraps a 64-bit size_t (to a small or
  // zero bytes_per_token); a page of it must be refused, not stored.
  refused({0xffffffffu, 0xffffffffu, 0xffffffffu, DType::kF32}, "kMaxPageBytes");
  refused({0x80000000u, 0x80000000u, 4, DType::kF16}, "kMaxPageBytes");
  refused({1u << 20, 1u << 10, 1u << 10, DType::kF16}, "kMaxPageBytes");  // fits size_t, not a page
  std::vector<admin::NamespaceInfo> names;
  REQUIRE(admin::list_namespaces(*store, &names).ok());
  CHECK(names.empty());
  REQUIRE(store->register_namespace("good", kLayout, &ns).ok());
  put(store.get(), ns, prompt(3, 2));
}

TEST_CASE("segment_bytes 0 sizes the segments by the capacity", "[kvcache][lifecycle]") {
  // capacity -> segment: 1/32 within 4 .. 256 MiB (whole MiB), at most a
  // quarter of it (unbounded and large capacities get 256 MiB: not put here).
  const std::vector<std::pair<uint64_t, uint64_t>> cases = {
      {uint64_t{1} << 30, 32 << 20}, {137 << 20, 4 << 20}, {40 << 20, 4 << 20}, {12 << 20, 3 << 20}};
  for (const auto& [capacity, segment] : cases) {
    INFO("capacity " << capacity);
    test::TempDir dir("lsm4kv_lifecycle");
    StoreOptions o = options(dir.path());
    o.segment_bytes = 0;
    o.capacity_bytes = capacity;
    std::unique_ptr<KvStore> store;
    REQUIRE(KvStore::open(o, &store).ok());
    // Pages of 64 KiB: the records of a bit more than one segment.
    const KvLayout big{4, 8, 128, DType::kF16};  // 16 KiB per token, 4 tokens a page
    NamespaceId bns;
    REQUIRE(store->register_namespace("big", big, &bns).ok());
    const size_t pages = segment / (64 << 10) + 2;
    std::vector<Token> t;
    for (size_t k = 0; k < pages * P; k++) t.push_back(static_cast<Token>(k));
    std::vector<char> kv(t.size() * big.bytes_per_token(), 'x');
    REQUIRE(store->put_batch(bns, t, KvBuffer::host(kv.data(), kv.size())).ok());
    StoreStats st;
    REQUIRE(store->stats(&st).ok());
    CHECK(st.tensor_segments == 2);  // one filled, the next begun
    REQUIRE(store->close().ok());
  }
}

TEST_CASE("segment_bytes 0 grows the segments to 16 pages of a namespace's, at register and at open",
          "[kvcache][lifecycle]") {
  // 137 MiB: 4 MiB segments, which would hold only 3 pages of 1 MiB.
  const KvLayout huge = KvLayout::opaque((1 << 20) / P);
  auto put_pages = [&](KvStore* store, NamespaceId ns, int i, size_t pages) {
    auto t = prompt(i, pages);
    std::vector<char> kv(t.size() * huge.bytes_per_token(), static_cast<char>('a' + i));
    REQUIRE(store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size())).ok());
  };
  auto segments = [](KvStore* store) {
    StoreStats st;
    REQUIRE(store->stats(&st).ok());
    return st.tensor_segments;
  };
  for (const uint64_t given : {uint64_t{0}, uint64_t{4} << 20}) {
    INFO("segment_bytes " << given);
    test::TempDir dir("lsm4kv_lifecycle");
    StoreOptions o = options(dir.path());
    o.segment_bytes = given;
    o.capacity_bytes = uint64_t{137} << 20;
    std::unique_ptr<KvStore> store;
    REQUIRE(KvStore::open(o, &store).ok());
    NamespaceId ns;
    REQUIRE(store->register_namespace("huge", huge, &ns).ok());
    put_pages(store.get(), ns, 1, 18);
    // By default 17 MiB segments of 16 pages: 18 pages take two; as given,
    // 3 pages a segment: six.
    CHECK(segments(store.get()) == (given == 0 ? 2u : 6u));
    REQUIRE(store->close().ok());
    // Reopened, the namespace is found in the index: the same size at once.
    REQUIRE(KvStore::open(o, &store).ok());
    put_pages(store.get(), ns, 2, 18);
    CHECK(segments(store.get()) == (given == 0 ? 4u : 12u));
    REQUIRE(store->close().ok());
  }
}
