#include <catch2/catch.hpp>

#include "base/coding.h"

using namespace lsm4kv;

TEST_CASE("varints round-trip and reject truncation", "[base]") {
  std::string buf;
  const uint64_t values[] = {0, 1, 127, 128, 300, (1ull << 32) - 1, 1ull << 40, UINT64_MAX};
  for (uint64_t v : values) put_varint64(&buf, v);
  std::string_view in = buf;
  for (uint64_t v : values) {
    uint64_t got = 0;
    REQUIRE(get_varint64(&in, &got));
    REQUIRE(got == v);
  }
  REQUIRE(in.empty());
  std::string cut;
  put_varint64(&cut, 1ull << 40);
  std::string_view truncated(cut.data(), cut.size() - 1);
  uint64_t got;
  REQUIRE_FALSE(get_varint64(&truncated, &got));
  std::string_view big = std::string_view(buf).substr(buf.size() - 10);  // UINT64_MAX
  uint32_t small;
  REQUIRE_FALSE(get_varint32(&big, &small));
}

TEST_CASE("length-prefixed slices reject lengths past the end", "[base]") {
  std::string buf;
  put_length_prefixed(&buf, "hello");
  std::string_view in = buf, v;
  REQUIRE(get_length_prefixed(&in, &v));
  REQUIRE(v == "hello");
  std::string bad;
  put_varint64(&bad, 100);
  bad += "abc";
  std::string_view bin = bad;
  REQUIRE_FALSE(get_length_prefixed(&bin, &v));
  REQUIRE(bin.size() == bad.size());
}

TEST_CASE("fixed-width encodings", "[base]") {
  std::string buf;
  put_fixed32(&buf, 0xdeadbeef);
  put_fixed64(&buf, 0x0123456789abcdefull);
  std::string_view in = buf;
  uint32_t a;
  uint64_t b;
  REQUIRE(get_fixed32(&in, &a));
  REQUIRE(get_fixed64(&in, &b));
  REQUIRE(a == 0xdeadbeef);
  REQUIRE(b == 0x0123456789abcdefull);
  REQUIRE_FALSE(get_fixed32(&in, &a));
}
