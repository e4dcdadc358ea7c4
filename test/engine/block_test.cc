// Data blocks: builder/reader round trips with shared-prefix keys, every
// iterator motion against a std::map model, and malformed blocks.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>

#include "base/coding.h"
#include "engine/block.h"
#include "engine/block_builder.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;

namespace {

struct Val {
  EntryType type;
  SequenceNumber seq;
  std::string value;
};
using Model = std::map<std::string, Val>;

// Keys of 8-byte fingerprints chained under a common namespace prefix:
// neighbours share all but their last few fingerprints.
std::string chain_key(std::mt19937_64& rng, int depth) {
  std::string k = "ns000001";
  for (int i = 0; i < depth; i++) {
    uint64_t fp = rng() % (i < depth - 1 ? 3 : UINT64_MAX);  // few branches high up
    k.append(reinterpret_cast<const char*>(&fp), 8);
  }
  return k;
}

Model random_model(std::mt19937_64& rng, size_t n) {
  Model m;
  while (m.size() < n) {
    std::string key = chain_key(rng, 1 + static_cast<int>(rng() % 6));
    EntryType t = rng() % 4 == 0 ? EntryType::kDelete : EntryType::kPut;
    std::string v = t == EntryType::kPut ? std::string(rng() % 40, char('a' + rng() % 26)) : "";
    m[key] = {t, rng() % (1ull << (rng() % 56)), v};
  }
  return m;
}

std::shared_ptr<const Block> build(const Model& m, int restart_interval) {
  BlockBuilder b(restart_interval);
  for (const auto& [k, v] : m) b.add(k, v.type, v.seq, v.value);
  REQUIRE(b.size_estimate() == b.finish().size());
  std::shared_ptr<const Block> block;
  REQUIRE(Block::open(std::string(b.finish()), b.finish().size(), &block).ok());
  return block;
}

void check_at(const BlockIter& it, Model::const_iterator want) {
  REQUIRE(it.valid());
  REQUIRE(it.key() == want->first);
  REQUIRE(it.type() == want->second.type);
  REQUIRE(it.seq() == want->second.seq);
  REQUIRE(it.value() == want->second.value);
}

}  // namespace

TEST_CASE("block: round trip and every motion against a model", "[block]") {
  std::mt19937_64 rng(42);
  for (int restart_interval : {1, 2, 3, 16, 1000}) {
    Model m = random_model(rng, 300);
    auto block = build(m, restart_interval);
    BlockIter it(block.get());
    // Forward and backward scans.
    auto want = m.begin();
    for (it.seek_to_first(); it.valid(); it.next(), ++want) check_at(it, want);
    REQUIRE(want == m.end());
    auto rwant = m.rbegin();
    for (it.seek_to_last(); it.valid(); it.prev(), ++rwant) check_at(it, std::prev(rwant.base()));
    REQUIRE(rwant == m.rend());
    REQUIRE(it.status().ok());
    // Seeks at every key, and between keys (key + "\0", key minus its last byte).
    for (const auto& [k, v] : m) {
      for (std::string target : {k, k + '\0', k.substr(0, k.size() - 1)}) {
        auto ge = m.lower_bound(target);
        it.seek(target);
        if (ge == m.end()) {
          REQUIRE(!it.valid());
        } else {
          check_at(it, ge);
          it.prev();  // prev across restart points
          if (ge == m.begin()) {
            REQUIRE(!it.valid());
          } else {
            check_at(it, std::prev(ge));
          }
        }
        auto le = m.upper_bound(target);
        it.seek_for_prev(target);
        if (le == m.begin()) {
          REQUIRE(!it.valid());
        } else {
          check_at(it, std::prev(le));
          it.next();
          if (le == m.end()) {
            REQUIRE(!it.valid());
          } else {
            check_at(it, le);
          }
        }
      }
    }
    it.seek("");
    check_at(it, m.begin());
    it.seek(std::string(600, '\xff'));
    REQUIRE(!it.valid());
    it.seek_for_prev("");
    REQUIRE(!it.valid());
    REQUIRE(it.status().ok());
  }
}

TEST_CASE("block: restart keys are delta-encoded against the first key", "[block]") {
  // 64-byte keys that differ only in their last 8 bytes cost ~8 key bytes each,
  // restart points included.
  BlockBuilder b(16);
  std::string prefix(56, 'p');
  for (uint64_t i = 0; i < 100; i++) {
    std::string k = prefix;
    uint64_t be = __builtin_bswap64(i * 7919);
    k.append(reinterpret_cast<const char*>(&be), 8);
    b.add(k, EntryType::kPut, i, "");
  }
  size_t size = b.finish().size();
  // Per entry: 8 key bytes, 3 header bytes, 1-2 tag bytes; plus restarts.
  CHECK(size < 64 + 100 * (8 + 3 + 2) + 4 * 8);
}

TEST_CASE("block: empty block", "[block]") {
  BlockBuilder b(16);
  std::shared_ptr<const Block> block;
  REQUIRE(Block::open(std::string(b.finish()), b.finish().size(), &block).ok());
  BlockIter it(block.get());
  it.seek_to_first();
  REQUIRE(!it.valid());
  it.seek_to_last();
  REQUIRE(!it.valid());
  it.seek("a");
  REQUIRE(!it.valid());
  it.seek_for_prev("a");
  REQUIRE(!it.valid());
  REQUIRE(it.status().ok());
}

TEST_CASE("block: malformed restart arrays are rejected", "[block]") {
  std::shared_ptr<const Block> block;
  CHECK(Block::open("", 0, &block).is_corruption());
  CHECK(Block::open("abc", 3, &block).is_corruption());
  std::string huge_count;
  put_fixed32(&huge_count, 1000);
  CHECK(Block::open(huge_count, 4, &block).is_corruption());
  std::string bad_restart = "xxxxxxxx";
  put_fixed32(&bad_restart, 100);  // restart offset past the entries
  put_fixed32(&bad_restart, 1);
  CHECK(Block::open(bad_restart, bad_restart.size(), &block).is_corruption());
  std::string no_restarts = "xxxx";
  put_fixed32(&no_restarts, 0);  // entries but no restart point
  CHECK(Block::open(no_restarts, no_restarts.size(), &block).is_corruption());
}

TEST_CASE("block: garbage entries never read outside the block", "[block]") {
  // Random entry bytes behind a well-formed restart array: every motion must
  // end in a valid entry or a Corruption status, under ASan/UBSan.
  std::mt19937_64 rng(7);
  Model m = random_model(rng, 64);
  auto good = build(m, 4);
  std::string contents(good->contents());
  for (int trial = 0; trial < 3000; trial++) {
    std::string c = contents;
    size_t entries_end = c.size() - 4 - 4 * good->num_restarts();
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; f++) c[rng() % entries_end] = static_cast<char>(rng());
    if (trial % 10 == 0) {  // entries cut short behind one restart point
      c.resize(entries_end / 2);
      put_fixed32(&c, 0);
      put_fixed32(&c, 1);
    }
    std::shared_ptr<const Block> block;
    if (!Block::open(c, c.size(), &block).ok()) continue;
    BlockIter it(block.get());
    size_t steps = 0;
    for (it.seek_to_first(); it.valid() && steps < 1000; it.next()) steps++;
    for (it.seek_to_last(); it.valid() && steps < 2000; it.prev()) steps++;
    for (const auto& kv : m) {
      it.seek(kv.first);
      it.seek_for_prev(kv.first);
      if (it.valid()) it.prev();
    }
    if (!it.status().ok()) REQUIRE(it.status().is_corruption());
  }
}
