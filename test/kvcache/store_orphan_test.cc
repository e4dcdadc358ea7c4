// Records a crash left in the tensor log between a put's append and its index
// write (orphans): the next open reports them dead, and GC reclaims them.
#include <catch2/catch.hpp>

#include <filesystem>

#include "kvcache_api/kv_store.h"
#include "kvcache_api/store_admin.h"
#include "tensorlog/tensor_log.h"
#include "test/engine/test_util.h"
#include "test/support/kv_data.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 4;
const KvLayout kLayout{2, 2, 8, DType::kF16};  // 128 bytes per token
constexpr uint64_t kSegmentBytes = 64 << 10;

StoreOptions options(const std::string& dir) {
  StoreOptions o;
  o.dir = dir;
  o.page_tokens = P;
  o.segment_bytes = kSegmentBytes;
  return o;
}

std::vector<Token> prompt(int i, size_t pages) {
  std::vector<Token> t;
  for (size_t k = 0; k < pages * P; k++) t.push_back(static_cast<Token>(i * 1000 + k));
  return t;
}

}  // namespace

TEST_CASE("records no index entry references are counted dead at open and collected",
          "[kvcache][crash]") {
  test::TempDir dir("lsm4kv_store_orphans");
  const size_t bpt = kLayout.bytes_per_token();
  std::unique_ptr<KvStore> store;
  NamespaceId ns;
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  REQUIRE(store->register_namespace("orphans", kLayout, &ns).ok());
  for (int i = 0; i < 8; i++) {
    auto t = prompt(i, 3);
    auto kv = test::kv_of(t, t.size(), bpt);
    REQUIRE(store->put_batch(ns, t, KvBuffer::host(kv.data(), kv.size())).ok());
  }
  const StoreStats before = store->stats();
  REQUIRE(store->close().ok());

  // What a put that crashed after its append left behind: its records are in
  // the log (durably), its index entries never were written.
  std::vector<tensorlog::Location> orphans;
  uint64_t orphan_bytes = 0;
  {
    tensorlog::TensorLogOptions to;
    to.segment_size = kSegmentBytes;
    std::unique_ptr<tensorlog::TensorLog> log;
    REQUIRE(tensorlog::TensorLog::open(dir.path() + "/tensors", to, &log).ok());
    auto t = prompt(100, 20);
    auto kv = test::kv_of(t, t.size(), bpt);
    std::vector<tensorlog::RecordInput> records;
    for (size_t p = 0; p < 20; p++) records.push_back({"orphan", kv.data() + p * P * bpt, P * bpt});
    REQUIRE(log->append(records, &orphans).ok());
    REQUIRE(log->close().ok());
    for (const auto& l : orphans) orphan_bytes += tensorlog::allocated_bytes(l);
  }

  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  REQUIRE(store->register_namespace("orphans", kLayout, &ns).ok());
  StoreStats st = store->stats();
  CHECK(st.stored_bytes == before.stored_bytes);
  CHECK(st.tensor_live_bytes == before.tensor_live_bytes);
  CHECK(st.tensor_dead_bytes == before.tensor_dead_bytes + orphan_bytes);
  Status inv = store->check_invariants();
  INFO(inv.to_string());
  REQUIRE(inv.ok());

  // The orphans' segments hold nothing else: GC deletes them.
  REQUIRE(store->collect_garbage().ok());
  st = store->stats();
  CHECK(st.tensor_dead_bytes == before.tensor_dead_bytes);
  for (const auto& l : orphans) {
    INFO(l.to_string());
    CHECK_FALSE(std::filesystem::exists(dir.path() + "/tensors/" + tensorlog::segment_file_name(l.segment)));
  }
  admin::VerifyReport report;
  REQUIRE(admin::verify(*store, &report).ok());
  INFO((report.problems.empty() ? "" : report.problems.front()));
  CHECK(report.clean());
  for (int i = 0; i < 8; i++) {
    auto t = prompt(i, 3);
    std::vector<char> got(t.size() * bpt);
    REQUIRE(store->get_batch(ns, t, t.size(), KvBuffer::host(got.data(), got.size())).ok());
    CHECK(got == test::kv_of(t, t.size(), bpt));
  }
  REQUIRE(store->close().ok());
  // And stay dead across the next open.
  REQUIRE(KvStore::open(options(dir.path()), &store).ok());
  CHECK(store->stats().tensor_live_bytes == before.tensor_live_bytes);
  REQUIRE(store->check_invariants().ok());
}
