// Damage done to files on purpose by the tests of repair and verification.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

namespace lsm4kv::test {

// XORs the byte at offset with 0x5a.
inline void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

}  // namespace lsm4kv::test
