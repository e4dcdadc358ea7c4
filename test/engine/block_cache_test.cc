// Block cache: LRU eviction under the byte budget, erase_file, capacity 0,
// and concurrent use.
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "engine/block.h"
#include "engine/block_builder.h"
#include "engine/block_cache.h"

using namespace lsm4kv::engine;

namespace {

std::shared_ptr<const Block> make_block(int n) {
  BlockBuilder b(16);
  for (int i = 0; i < n; i++) b.add("key" + std::to_string(1000 + i), EntryType::kPut, i, "v");
  std::shared_ptr<const Block> block;
  REQUIRE(Block::open(std::string(b.finish()), b.finish().size(), &block).ok());
  return block;
}

}  // namespace

TEST_CASE("block cache: LRU eviction stays within the budget", "[block_cache]") {
  BlockCache cache(10000, 0);  // one shard: exact LRU order
  auto block = make_block(10);
  for (uint64_t off = 0; off < 100; off++) {
    cache.insert(1, off * 1000, block, 1000);
    REQUIRE(cache.usage() <= cache.capacity());
  }
  CHECK(cache.usage() == 10000);
  CHECK(cache.num_blocks() == 10);
  for (uint64_t off = 0; off < 90; off++) CHECK(cache.lookup(1, off * 1000) == nullptr);
  for (uint64_t off = 90; off < 100; off++) CHECK(cache.lookup(1, off * 1000) == block);
  // Touch 90, insert one more: 91 (now the least recently used) goes, 90 stays.
  REQUIRE(cache.lookup(1, 90000) != nullptr);
  cache.insert(2, 0, block, 1000);
  CHECK(cache.lookup(1, 90000) != nullptr);
  CHECK(cache.lookup(1, 91000) == nullptr);
  // A block larger than the budget is not cached and evicts nothing.
  cache.insert(3, 0, block, 20000);
  CHECK(cache.lookup(3, 0) == nullptr);
  CHECK(cache.usage() == 10000);
  // Replacing a key updates its charge.
  cache.insert(2, 0, block, 500);
  CHECK(cache.usage() == 9500);
}

TEST_CASE("block cache: sharded budget and erase_file", "[block_cache]") {
  BlockCache cache(64 << 20);
  auto block = make_block(100);
  const size_t charge = 4096;  // 80k blocks: five times the budget
  for (uint64_t f = 1; f <= 40; f++) {
    for (uint64_t off = 0; off < 2000; off++) cache.insert(f, off * 4096, block, charge);
    REQUIRE(cache.usage() <= cache.capacity());
  }
  CHECK(cache.usage() > cache.capacity() * 9 / 10);
  size_t before = cache.num_blocks();
  size_t of_40 = 0;
  for (uint64_t off = 0; off < 2000; off++) of_40 += cache.lookup(40, off * 4096) != nullptr;
  REQUIRE(of_40 > 0);
  cache.erase_file(40);
  CHECK(cache.num_blocks() == before - of_40);
  CHECK(cache.usage() == cache.num_blocks() * charge);
  for (uint64_t off = 0; off < 2000; off++) CHECK(cache.lookup(40, off * 4096) == nullptr);
  cache.erase_file(12345);  // unknown file: nothing happens
  CHECK(cache.num_blocks() == before - of_40);
}

TEST_CASE("block cache: capacity 0 caches nothing", "[block_cache]") {
  BlockCache cache(0);
  cache.insert(1, 0, make_block(1), 0);
  cache.insert(1, 4096, make_block(1), 100);
  CHECK(cache.lookup(1, 0) == nullptr);
  CHECK(cache.lookup(1, 4096) == nullptr);
  CHECK(cache.usage() == 0);
  CHECK(cache.num_blocks() == 0);
}

TEST_CASE("block cache: concurrent inserts, lookups and erases", "[block_cache]") {
  BlockCache cache(1 << 20, 3);
  auto block = make_block(20);
  std::atomic<int> wrong{0};  // Catch2 assertions are not thread-safe
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < 20000; i++) {
        uint64_t file = rng() % 16, off = (rng() % 512) * 4096;
        switch (rng() % 8) {
          case 0: cache.erase_file(file); break;
          case 1:
          case 2: cache.insert(file, off, block, 1000 + rng() % 5000); break;
          default: {
            auto b = cache.lookup(file, off);
            if (b != nullptr && b != block) wrong++;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
  CHECK(cache.usage() <= cache.capacity());
}
