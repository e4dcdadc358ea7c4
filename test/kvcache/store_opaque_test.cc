// Namespaces declared by bytes per token (KvLayout::opaque): pages the caller
// does not describe as layers x heads x dims round-trip byte for byte, keep
// their layout across a reopen, and refuse what needs layers.
#include <catch2/catch.hpp>

#include "kvcache_api/kv_store.h"
#include "kvcache_api/store_config.h"
#include "test/engine/test_util.h"
#include "test/support/kv_data.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 4;
constexpr uint32_t kBytesPerToken = 1000;  // no layers x heads x dims x dtype gives it

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

std::vector<Token> prompt(int i, size_t tokens) {
  std::vector<Token> t;
  for (size_t k = 0; k < tokens; k++) t.push_back(static_cast<Token>(i * 1000 + k));
  return t;
}

}  // namespace

TEST_CASE("an opaque layout is declared by bytes per token and encodes apart from every dtype",
          "[kvcache][opaque]") {
  const KvLayout l = KvLayout::opaque(kBytesPerToken);
  CHECK(l.is_opaque());
  CHECK(l.bytes_per_token() == kBytesPerToken);
  CHECK_FALSE(KvLayout{2, 2, 8, DType::kF16}.is_opaque());
  NamespaceId id = 0;
  KvLayout back;
  REQUIRE(decode_layout(encode_layout(7, l), &id, &back));
  CHECK(id == 7);
  CHECK(back == l);
  // The opaque dtype byte with layers, or with 0 bytes per token, is damage.
  std::string bad = encode_layout(7, KvLayout{2, 2, 8, DType::kF16});
  bad.back() = static_cast<char>(kOpaqueDTypeByte);
  CHECK_FALSE(decode_layout(bad, &id, &back));
  const std::string zero{0, 7, 0, 0, 0, static_cast<char>(kOpaqueDTypeByte)};
  CHECK_FALSE(decode_layout(zero, &id, &back));
}

TEST_CASE("opaque pages round-trip, persist their layout and refuse per-layer buffers", "[kvcache][opaque]") {
  test::TempDir dir("lsm4kv_opaque");
  const KvLayout layout = KvLayout::opaque(kBytesPerToken);
  const std::vector<Token> t = prompt(1, 3 * P + 1);  // three pages and a partial one
  const auto kv = test::kv_of(t, t.size(), kBytesPerToken);
  {
    std::unique_ptr<KvStore> store;
    REQUIRE(KvStore::open(options(dir.path()), &store).ok());
    NamespaceId ns;
    REQUIRE(store->register_namespace("blobs", layout, &ns).ok());
    PutResult r;
    REQUIRE(store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size()), &r).ok());
    CHECK(r.pages_stored == 3);
    std::vector<char> k(P * 64), v(P * 64);
    Status pl = store->get_batch(ns, t, P, KvBuffer::per_layer({k.data()}, {v.data()}, 64));
    INFO(pl.to_string());
    CHECK(pl.is_invalid_argument());
    CHECK(pl.message().find("opaque") != std::string::npos);
    REQUIRE(store->close().ok());
  }
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId ns;
  // The same bytes per token as a structured layout is another layout.
  const KvLayout same_bytes{1, 1, kBytesPerToken / 2, DType::kFP8};
  REQUIRE(same_bytes.bytes_per_token() == kBytesPerToken);
  CHECK(store->register_namespace("blobs", same_bytes, &ns).is_invalid_argument());
  REQUIRE(store->register_namespace("blobs", layout, &ns).ok());
  size_t cached = 0;
  REQUIRE(store->probe(ns, t, &cached).ok());
  REQUIRE(cached == 3 * P);
  std::vector<char> got(cached * kBytesPerToken);
  REQUIRE(store->get_batch(ns, t, cached, KvBuffer::host(got.data(), got.size())).ok());
  CHECK(got == test::kv_of(t, cached, kBytesPerToken));
}

TEST_CASE("opaque layouts are checked at register_namespace", "[kvcache][opaque]") {
  test::TempDir dir("lsm4kv_opaque");
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  NamespaceId ns;
  KvLayout with_layers = KvLayout::opaque(64);
  with_layers.layers = 2;
  Status s = store->register_namespace("bad", with_layers, &ns);
  CHECK(s.is_invalid_argument());
  CHECK(s.message().find("opaque") != std::string::npos);
  // A page of P tokens past kMaxPageBytes.
  CHECK(store->register_namespace("big", KvLayout::opaque(0xffffffffu), &ns).is_invalid_argument());
  CHECK(store->register_namespace("zero", KvLayout::opaque(0), &ns).is_invalid_argument());
}
