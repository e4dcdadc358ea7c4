#include <cstring>

#include "base/checksum.h"
#include "bench/peers/backend.h"

namespace lsm4kv::bench::peers {

PromptKeys PromptKeys::of(std::vector<uint64_t> ids) {
  PromptKeys k;
  k.ids = std::move(ids);
  k.chain.resize(k.ids.size());
  uint64_t h = 0;
  for (size_t i = 0; i < k.ids.size(); i++) {
    h = checksum64_with_seed(&k.ids[i], sizeof(uint64_t), h);
    k.chain[i] = h;
  }
  return k;
}

// Word w of a page: a different odd-multiplied stream per page, so a page
// read from the wrong place, or shifted, fails on its first word.
static inline uint64_t page_word(uint64_t chain, size_t w) { return chain ^ (w * 0x9E3779B97F4A7C15ull); }

void fill_page(uint64_t chain, char* page, size_t bytes) {
  auto* p = reinterpret_cast<uint64_t*>(page);
  for (size_t w = 0; w < bytes / 8; w++) p[w] = page_word(chain, w);
}

Status check_page(uint64_t chain, const char* page, size_t bytes) {
  const auto* p = reinterpret_cast<const uint64_t*>(page);
  for (size_t w = 0; w < bytes / 8; w++) {
    if (p[w] != page_word(chain, w)) {
      return Status::corruption("page " + std::to_string(chain) + ": word " + std::to_string(w) + " differs");
    }
  }
  return Status::OK();
}

}  // namespace lsm4kv::bench::peers
