#include "base/checksum.h"

#include <xxhash.h>

namespace lsm4kv {

uint64_t checksum64(const void* data, size_t n) { return XXH3_64bits(data, n); }

uint64_t checksum64_with_seed(const void* data, size_t n, uint64_t seed) {
  return XXH3_64bits_withSeed(data, n, seed);
}

}  // namespace lsm4kv
