// SegmentPages (kvcache_api/segment_pages.h): each segment's page keys with
// their roots, in the order added, until the segment's list is erased.
#include <catch2/catch.hpp>

#include <string>

#include "kvcache_api/segment_pages.h"

using lsm4kv::kvcache::ListedPage;
using lsm4kv::kvcache::SegmentPages;

TEST_CASE("a segment's list gives back its keys and roots in order", "[kvcache][segment_pages]") {
  SegmentPages s;
  const std::string deep(82, 'k'), root(26, 'r'), other_deep(83, 'j');
  std::string first = root;
  first.append(8, 'f');
  s.add(3, first, root);                // root a prefix of the key: not stored twice
  s.add(3, deep, root);                 // root stored
  s.add(3, "keyed-page-0001", "keyed-page-0001");  // a keyed page: its own root
  s.add(3, other_deep, "");             // root unknown
  s.add(4, "other", "other");
  const std::vector<ListedPage> got = s.of(3);
  REQUIRE(got.size() == 4);
  CHECK(got[0].key == first);
  CHECK(got[0].root == root);
  CHECK(got[1].key == deep);
  CHECK(got[1].root == root);
  CHECK(got[2].key == "keyed-page-0001");
  CHECK(got[2].root == "keyed-page-0001");
  CHECK(got[3].key == other_deep);
  CHECK(got[3].root.empty());
  REQUIRE(s.of(4).size() == 1);
  REQUIRE(s.of(5).empty());
}

TEST_CASE("an erased segment's list is gone, and its memory with it", "[kvcache][segment_pages]") {
  SegmentPages s;
  REQUIRE(s.memory_bytes() == 0);
  const std::string longest(18 + 8 * 64, 'w');  // a key of the widest window
  for (int i = 0; i < 100; i++) s.add(7, longest, longest.substr(0, 26));
  s.add(8, "k", "k");
  const uint64_t both = s.memory_bytes();
  REQUIRE(both >= 100 * longest.size());
  REQUIRE(s.of(7).size() == 100);
  REQUIRE(s.of(7).back().key == longest);
  s.erase(7);
  REQUIRE(s.of(7).empty());
  REQUIRE(s.memory_bytes() < both);
  REQUIRE(s.of(8).size() == 1);
}
