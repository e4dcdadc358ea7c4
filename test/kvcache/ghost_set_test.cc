// GhostSet (kvcache_api/ghost_set.h): remembers hashes for a byte bound,
// oldest forgotten first; take() forgets.
#include <catch2/catch.hpp>

#include "kvcache_api/ghost_set.h"

using lsm4kv::kvcache::GhostSet;

TEST_CASE("the ghost set forgets its oldest entries past its byte bound", "[kvcache][ghost]") {
  GhostSet g(100);
  for (uint64_t h = 1; h <= 10; h++) g.insert(h, 10);
  REQUIRE(g.size() == 10);
  g.insert(11, 10);  // 110 bytes: the oldest goes
  REQUIRE(g.size() == 10);
  REQUIRE_FALSE(g.take(1));
  REQUIRE(g.take(2));
  REQUIRE_FALSE(g.take(2));  // taken once
  REQUIRE(g.take(11));
  g.insert(500, 1000);  // bigger than the bound: not remembered, nothing else lost
  REQUIRE_FALSE(g.take(500));
  REQUIRE(g.take(3));
}

TEST_CASE("a hash inserted again outlives its first entry", "[kvcache][ghost]") {
  GhostSet g(30);
  g.insert(7, 10);
  g.insert(8, 10);
  g.insert(7, 10);  // 7's first entry is stale now
  g.insert(9, 10);  // 40 bytes: the stale entry goes first, and that is enough
  REQUIRE(g.memory_bytes() > 0);
  REQUIRE(g.take(7));
  REQUIRE(g.take(8));
  REQUIRE(g.take(9));
}

TEST_CASE("the ghost set keeps at most its entry bound", "[kvcache][ghost]") {
  GhostSet g(1 << 30, 4);
  for (uint64_t h = 1; h <= 6; h++) g.insert(h, 1);
  REQUIRE(g.size() == 4);
  REQUIRE_FALSE(g.take(1));
  REQUIRE_FALSE(g.take(2));
  for (uint64_t h = 3; h <= 6; h++) REQUIRE(g.take(h));
}
