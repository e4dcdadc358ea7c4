// The page-key API (kv_store.h: exists_prefix, put_pages, get_pages): pages
// named by the caller's keys, each a scatter-gather list of slices (K and V,
// as SGLang's host pool gives them); exact prefix counts whatever is stored
// after a missing key; bad input changes nothing; eviction, reopen, repair,
// verify and a damaged record.
#include <catch2/catch.hpp>

#include <random>

#include "engine/db.h"
#include "kvcache_api/kv_store.h"
#include "kvcache_api/store_admin.h"
#include "kvcache_api/test_hooks.h"
#include "kvcache_api/prefix_key.h"
#include "tensorlog/record_format.h"
#include "test/engine/test_util.h"
#include "test/support/file_damage.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 8;
const KvLayout kLayout{2, 1, 8, DType::kF16};  // 64 bytes per token: 512-byte pages, K and V 256 each
constexpr size_t kPage = P * 64, kHalf = kPage / 2;

StoreOptions options(const std::string& dir) {
  StoreOptions o;
  o.dir = dir;
  o.page_tokens = P;
  o.sync = SyncMode::kNone;
  o.index_write_buffer = 64 << 10;
  o.segment_bytes = 64 << 10;
  return o;
}

// A 32-byte key per page (like SGLang's SHA-256), and its page's bytes.
std::string page_key(int i) {
  std::mt19937_64 rng(static_cast<uint64_t>(i) + 1);
  std::string k(32, '\0');
  for (char& c : k) c = static_cast<char>(rng());
  return k;
}

std::vector<char> page_bytes(int i) {
  std::vector<char> v(kPage);
  for (size_t b = 0; b < kPage; b++) v[b] = static_cast<char>((i * 31 + b * 13) & 0xff);
  return v;
}

// The keys and the (K, V) slices of pages [from, to).
struct Pages {
  std::vector<std::string> keys;
  std::vector<std::vector<char>> data;
  std::vector<std::string_view> views;
  std::vector<PageSlices> slices;
  Pages(int from, int to) {
    for (int i = from; i < to; i++) {
      keys.push_back(page_key(i));
      data.push_back(page_bytes(i));
    }
    for (size_t j = 0; j < keys.size(); j++) {
      views.push_back(keys[j]);
      slices.push_back({{data[j].data(), kHalf}, {data[j].data() + kHalf, kHalf}});
    }
  }
};

size_t exists(KvStore* s, NamespaceId ns, const Pages& p) {
  size_t n = 0;
  REQUIRE(s->exists_prefix(ns, p.views, &n).ok());
  return n;
}

// Gets p's pages into fresh buffers; returns the per-page results and checks
// the bytes of every page found.
std::vector<Status> get_and_check(KvStore* s, NamespaceId ns, const Pages& p) {
  std::vector<std::vector<char>> k(p.keys.size(), std::vector<char>(kHalf)), v = k;
  std::vector<PageSlices> dst;
  for (size_t j = 0; j < p.keys.size(); j++) dst.push_back({{k[j].data(), kHalf}, {v[j].data(), kHalf}});
  std::vector<Status> results;
  REQUIRE(s->get_pages(ns, p.views, dst, &results).ok());
  REQUIRE(results.size() == p.keys.size());
  for (size_t j = 0; j < p.keys.size(); j++) {
    if (!results[j].ok()) continue;
    std::vector<char> got(k[j]);
    got.insert(got.end(), v[j].begin(), v[j].end());
    CHECK(got == p.data[j]);
  }
  return results;
}

}  // namespace

TEST_CASE("pages by key: put, exists_prefix, get with K and V slices, reopen", "[kvcache][pages]") {
  test::TempDir dir("lsm4kv_pages");
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  const Pages all(0, 40);
  CHECK(exists(store.get(), ns, all) == 0);
  const Pages first(0, 25);
  REQUIRE(store->put_pages(ns, first.views, first.slices).ok());
  REQUIRE(store->put_pages(ns, first.views, first.slices).ok());  // idempotent
  CHECK(store->stats().pages_put == 25);
  CHECK(exists(store.get(), ns, all) == 25);
  auto r = get_and_check(store.get(), ns, all);
  for (size_t j = 0; j < r.size(); j++) CHECK(r[j].ok() == (j < 25));
  for (size_t j = 25; j < r.size(); j++) CHECK(r[j].is_not_found());
  // A single contiguous slice per page lands in place.
  std::vector<char> one(kPage);
  std::vector<PageSlices> dst{{{one.data(), kPage}}};
  std::vector<std::string_view> k7{all.views[7]};
  std::vector<Status> res;
  REQUIRE(store->get_pages(ns, k7, dst, &res).ok());
  CHECK(res[0].ok());
  CHECK(one == all.data[7]);
  // Keyed pages are not token pages: the token API does not see them.
  CHECK(store->check_invariants().ok());
  REQUIRE(store->close().ok());
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  CHECK(exists(store.get(), ns, all) == 25);
  get_and_check(store.get(), ns, first);
  CHECK(store->check_invariants().ok());
  admin::VerifyReport vr;
  REQUIRE(admin::verify(*store, &vr).ok());
  INFO((vr.problems.empty() ? "" : vr.problems[0]));
  CHECK(vr.clean());
  CHECK(vr.records == 25);
}

TEST_CASE("exists_prefix is exact when a key in the middle is missing", "[kvcache][pages][model]") {
  test::TempDir dir("lsm4kv_pages_hole");
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  // A model: stored pages at random, then every prefix count checked.
  std::mt19937_64 rng(3);
  std::vector<bool> stored(100, false);
  for (int round = 0; round < 6; round++) {
    for (int i = 0; i < 100; i++) {
      if (stored[i] || rng() % 3 != 0) continue;
      const Pages one(i, i + 1);
      REQUIRE(store->put_pages(ns, one.views, one.slices).ok());
      stored[i] = true;
    }
    for (int from : {0, 1, 17, 50}) {
      const Pages q(from, 100);
      size_t model = 0;
      while (from + model < 100 && stored[from + model]) model++;
      CHECK(exists(store.get(), ns, q) == model);
    }
  }
}

TEST_CASE("bad input to the page-key API is refused and changes nothing", "[kvcache][pages]") {
  test::TempDir dir("lsm4kv_pages_bad");
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  const Pages p(0, 3);
  std::vector<Status> res;
  size_t n = 0;
  // No keys.
  CHECK(store->put_pages(ns, {}, {}).is_invalid_argument());
  CHECK(store->exists_prefix(ns, {}, &n).is_invalid_argument());
  CHECK(store->get_pages(ns, {}, {}, &res).is_invalid_argument());
  // Keys too short or too long.
  for (size_t len : {size_t{0}, size_t{7}, size_t{65}}) {
    std::string k(len, 'k');
    std::vector<std::string_view> keys{k};
    std::vector<PageSlices> one{p.slices[0]};
    CHECK(store->put_pages(ns, keys, one).is_invalid_argument());
    CHECK(store->exists_prefix(ns, keys, &n).is_invalid_argument());
    CHECK(store->get_pages(ns, keys, one, &res).is_invalid_argument());
  }
  // As many slice lists as keys.
  std::vector<PageSlices> two(p.slices.begin(), p.slices.begin() + 2);
  CHECK(store->put_pages(ns, p.views, two).is_invalid_argument());
  CHECK(store->get_pages(ns, p.views, two, &res).is_invalid_argument());
  // A null slice; slices that are not a page.
  std::vector<PageSlices> null_slice = p.slices;
  null_slice[1][1].data = nullptr;
  CHECK(store->put_pages(ns, p.views, null_slice).is_invalid_argument());
  CHECK(store->get_pages(ns, p.views, null_slice, &res).is_invalid_argument());
  std::vector<PageSlices> short_page = p.slices;
  short_page[2][0].size -= 1;
  CHECK(store->put_pages(ns, p.views, short_page).is_invalid_argument());
  // Unknown namespace; null outputs.
  CHECK(store->put_pages(ns + 7, p.views, p.slices).is_invalid_argument());
  CHECK(store->exists_prefix(ns, p.views, nullptr).is_invalid_argument());
  CHECK(store->get_pages(ns, p.views, p.slices, nullptr).is_invalid_argument());
  // Nothing was stored.
  CHECK(store->stats().pages_put == 0);
  CHECK(exists(store.get(), ns, p) == 0);
  CHECK(store->stats().stored_bytes == 0);
  REQUIRE(store->close().ok());
  CHECK(store->exists_prefix(ns, p.views, &n).is_invalid_argument());  // closed
}

TEST_CASE("keyed pages are evicted to the capacity, least recently used first", "[kvcache][pages][capacity]") {
  test::TempDir dir("lsm4kv_pages_cap");
  StoreOptions o = options(dir.path());
  o.capacity_bytes = 1 << 20;
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(o, &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  // 4,000 pages of 512 B (records of ~600 B) into a 1 MiB store; page 0 is
  // read after every put, so it is the most recently used.
  const Pages zero(0, 1);
  REQUIRE(store->put_pages(ns, zero.views, zero.slices).ok());
  for (int i = 1; i < 4000; i += 10) {
    const Pages batch(i, i + 10);
    Status s = store->put_pages(ns, batch.views, batch.slices);
    INFO(s.to_string());
    REQUIRE(s.ok());
    CHECK(get_and_check(store.get(), ns, zero)[0].ok());
  }
  const StoreStats st = store->stats();
  CHECK(st.pages_evicted > 0);
  CHECK(st.stored_bytes <= o.capacity_bytes);
  CHECK(st.tensor_file_bytes <= o.capacity_bytes + o.segment_bytes);
  CHECK(exists(store.get(), ns, zero) == 1);
  CHECK(exists(store.get(), ns, Pages(3990, 4000)) == 10);
  CHECK(exists(store.get(), ns, Pages(1, 2)) == 0);
  Status inv = store->check_invariants();
  INFO(inv.to_string());
  CHECK(inv.ok());
}

TEST_CASE("keyed pages survive a rebuild of the index; a damaged record leaves the index", "[kvcache][pages][rebuild]") {
  test::TempDir dir("lsm4kv_pages_repair");
  const Pages p(0, 20);
  {
    std::unique_ptr<KvStore> store;
    REQUIRE(KvStore::open(options(dir.path()), &store).ok());
    NamespaceId ns;
    REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
    REQUIRE(store->put_pages(ns, p.views, p.slices).ok());
    REQUIRE(store->close().ok());
  }
  RepairReport report;
  REQUIRE(KvStore::repair(options(dir.path()), &report).ok());
  CHECK(report.pages_kept == 20);
  CHECK(report.damaged_records == 0);
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  CHECK(exists(store.get(), ns, p) == 20);
  get_and_check(store.get(), ns, p);
  CHECK(store->check_invariants().ok());
  // Damage page 5's record: its get misses, the page leaves the index.
  std::string v;
  REQUIRE(kvcache::testing::index_of(store.get())->get({}, keyed_page_key(ns, p.keys[5]), &v).ok());
  PageEntry e;
  REQUIRE(e.decode_from(v));
  test::flip_byte(dir.path() + "/tensors/" + tensorlog::segment_file_name(e.location.segment),
                  e.location.offset + e.location.length - 3);
  auto r = get_and_check(store.get(), ns, p);
  for (size_t j = 0; j < r.size(); j++) CHECK(r[j].ok() == (j != 5));
  CHECK(r[5].is_not_found());
  CHECK(store->stats().corrupt_pages_dropped == 1);
  CHECK(exists(store.get(), ns, p) == 5);
  CHECK(store->check_invariants().ok());
  // Put again, it is back.
  REQUIRE(store->put_pages(ns, p.views, p.slices).ok());
  CHECK(exists(store.get(), ns, p) == 20);
}
