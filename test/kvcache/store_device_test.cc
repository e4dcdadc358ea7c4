// The store's CUDA path on a GPU: a prompt's KV put from device memory and got
// into device memory, alone and many prompts in one batch on one stream, raw
// and compressed, and host memory named as device memory refused. Without a
// CUDA device (our CI machines) each case says why it is skipped; the
// NotSupported answer there is checked in store_model_test.
#include <catch2/catch.hpp>

#include "kvcache_api/kv_store.h"
#include "test/engine/test_util.h"
#include "test/support/device_memory.h"
#include "test/support/kv_data.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 16;
const KvLayout kLayout{4, 2, 64, DType::kBF16};  // 2 KiB per token: 32 KiB pages

#if LSM4KV_WITH_CUDA
using test::DeviceBuffer;
using test::to_host;

std::vector<Token> prompt(Token first, size_t n) {
  std::vector<Token> t(n);
  for (size_t i = 0; i < n; i++) t[i] = first + static_cast<Token>(i * 7);
  return t;
}
#endif

}  // namespace

TEST_CASE("a prompt's KV goes from device memory to disk and back into device memory", "[kvcache][gpu]") {
  if (test::skip_without_device()) return;
#if LSM4KV_WITH_CUDA
  for (Codec codec : {Codec::kNone, Codec::kShuffleLz4}) {
    test::TempDir dir("lsm4kv_device");
    StoreOptions o;
    o.dir = dir.path();
    o.page_tokens = P;
    o.codec = codec;
    std::unique_ptr<KvStore> store;
    REQUIRE(KvStore::open(o, &store).ok());
    NamespaceId ns;
    REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
    const size_t bpt = kLayout.bytes_per_token();
    test::DeviceStream device_stream;
    cudaStream_t stream = device_stream.s;

    // One prompt of 8 pages, put from the GPU, read back whole and in part.
    std::vector<Token> t = prompt(1, 8 * P);
    std::vector<char> kv = test::kv_of(t, t.size(), bpt);
    DeviceBuffer src(kv.size()), dst(kv.size());
    test::to_device(src.p, kv.data(), kv.size());
    Status s = store->put_batch(ns, t, KvBuffer::device(src.p, kv.size(), stream));
    INFO(s.to_string());
    REQUIRE(s.ok());
    size_t cached = 0;
    REQUIRE(store->probe(ns, t, &cached).ok());
    REQUIRE(cached == t.size());
    s = store->get_batch(ns, t, t.size(), KvBuffer::device(dst.p, kv.size(), stream));
    INFO(s.to_string());
    REQUIRE(s.ok());
    REQUIRE(to_host(dst.p, kv.size()) == kv);
    DeviceBuffer part(3 * P * bpt);
    REQUIRE(store->get_batch(ns, t, 3 * P, KvBuffer::device(part.p, 3 * P * bpt, stream)).ok());
    REQUIRE(to_host(part.p, 3 * P * bpt) == std::vector<char>(kv.begin(), kv.begin() + 3 * P * bpt));

    // Many prompts in one batch on one stream, sharing the first 2 pages.
    const size_t n = 6;
    std::vector<std::vector<Token>> prompts;
    std::vector<std::unique_ptr<DeviceBuffer>> outs;
    std::vector<GetRequest> reqs;
    for (size_t i = 0; i < n; i++) {
      std::vector<Token> p = prompt(1, 2 * P);
      std::vector<Token> tail = prompt(static_cast<Token>(1000 * (i + 1)), (i + 1) * P);
      p.insert(p.end(), tail.begin(), tail.end());
      std::vector<char> pkv = test::kv_of(p, p.size(), bpt);
      REQUIRE(store->put_batch(ns, p, KvBuffer::host(pkv.data(), pkv.size())).ok());
      prompts.push_back(std::move(p));
    }
    for (size_t i = 0; i < n; i++) {
      outs.push_back(std::make_unique<DeviceBuffer>(prompts[i].size() * bpt));
      reqs.push_back({ns, prompts[i], prompts[i].size(),
                      KvBuffer::device(outs[i]->p, prompts[i].size() * bpt, stream)});
    }
    s = store->get_batch(reqs);
    INFO(s.to_string());
    REQUIRE(s.ok());
    for (size_t i = 0; i < n; i++)
      REQUIRE(to_host(outs[i]->p, prompts[i].size() * bpt) == test::kv_of(prompts[i], prompts[i].size(), bpt));

    // A page that is not stored is a miss, as from host memory.
    std::vector<Token> other = prompt(99999, 2 * P);
    REQUIRE(store->get_batch(ns, other, other.size(), KvBuffer::device(dst.p, other.size() * bpt, stream))
                .is_not_found());
  }
#endif
}

TEST_CASE("host memory named as device memory is refused and stores nothing", "[kvcache][gpu]") {
  if (test::skip_without_device()) return;
  test::TempDir dir("lsm4kv_device_host");
  StoreOptions o;
  o.dir = dir.path();
  o.page_tokens = P;
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(o, &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("m", kLayout, &ns).ok());
  std::vector<Token> t(2 * P);
  for (size_t i = 0; i < t.size(); i++) t[i] = static_cast<Token>(i + 5);
  std::vector<char> kv = test::kv_of(t, t.size(), kLayout.bytes_per_token());
  Status s = store->put_batch(ns, t, KvBuffer::device(kv.data(), kv.size()));
  INFO(s.to_string());
  REQUIRE(s.is_invalid_argument());
  size_t cached = 1;
  REQUIRE(store->probe(ns, t, &cached).ok());
  REQUIRE(cached == 0);
  REQUIRE(store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size())).ok());
  std::vector<char> got(kv.size());
  s = store->get_batch(ns, t, t.size(), KvBuffer::device(got.data(), got.size()));
  INFO(s.to_string());
  REQUIRE(s.is_invalid_argument());
}
