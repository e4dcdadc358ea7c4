// The one checksum of lsm4kv's on-disk formats: XXH3-64 (xxHash). Every block,
// log record and tensor record stores it; readers recompute and compare.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lsm4kv {

uint64_t checksum64(const void* data, size_t n);
inline uint64_t checksum64(std::string_view s) { return checksum64(s.data(), s.size()); }
// Checksum continued over a second range (for header + payload in one value).
uint64_t checksum64_with_seed(const void* data, size_t n, uint64_t seed);

}  // namespace lsm4kv
