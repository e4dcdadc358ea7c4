// Deterministic KV bytes for the tests of the store and its tools: the same
// token sequence always gets the same bytes, in every process, and the bytes
// of token t depend on every token up to t, as real KV does (so a page stored
// under another prompt's prefix reads back different).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvcache_api/kv_store.h"

namespace lsm4kv::test {

// The page-major KV of the first n tokens of seq, bytes_per_token each.
inline std::vector<char> kv_of(std::span<const kvcache::Token> seq, size_t n, size_t bytes_per_token) {
  std::vector<char> out(n * bytes_per_token);
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (size_t t = 0; t < n; t++) {
    h = (h ^ static_cast<uint64_t>(seq[t])) * 0x100000001b3ull;
    for (size_t b = 0; b < bytes_per_token; b++)
      out[t * bytes_per_token + b] = static_cast<char>((h >> ((b % 8) * 8)) + b);
  }
  return out;
}

}  // namespace lsm4kv::test
