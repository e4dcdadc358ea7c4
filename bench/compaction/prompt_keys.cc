#include "bench/compaction/prompt_keys.h"

#include <algorithm>
#include <random>

#include <xxhash.h>

namespace lsm4kv::bench {
namespace {

constexpr uint64_t kPageSalt = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kAbsentSalt = 0xc2b2ae3d27d4eb4fULL;

void put_big_endian64(std::string* dst, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) dst->push_back(static_cast<char>(v >> shift));
}

}  // namespace

PromptKeys::PromptKeys(uint64_t entries, const PromptKeyOptions& options) : options_(options) {
  parent_.reserve(entries);
  depth_.reserve(entries);
  prompt_start_.reserve(entries);
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> coin(0, 1);
  std::uniform_int_distribution<int> pages(1, std::max(options.max_new_pages, 1));
  const int max_depth = std::clamp(options.max_depth, 1, 255);
  while (parent_.size() < entries) {
    uint32_t at = kRoot;
    int depth = 0;
    if (!parent_.empty() && coin(rng) >= options.root_probability) {
      at = static_cast<uint32_t>(rng() % parent_.size());
      depth = depth_[at];
      if (depth >= max_depth) at = kRoot, depth = 0;  // too deep: a new conversation
    }
    int n = std::min<int>(pages(rng), max_depth - depth);
    n = static_cast<int>(std::min<uint64_t>(n, entries - parent_.size()));
    for (int i = 0; i < n; i++) {
      prompt_start_.push_back(i == 0);
      parent_.push_back(at);
      depth_.push_back(static_cast<uint8_t>(++depth));
      at = static_cast<uint32_t>(parent_.size() - 1);
    }
  }
}

uint64_t PromptKeys::prompt_end(uint64_t page) const {
  uint64_t end = page + 1;
  while (end < parent_.size() && !prompt_start_[end]) end++;
  return end;
}

uint64_t PromptKeys::fingerprint(uint64_t page, uint64_t salt) const {
  uint64_t in[2] = {page, options_.seed ^ salt};
  return XXH64(in, sizeof(in), 0);
}

std::string PromptKeys::key(uint64_t page) const {
  int depth = depth_[page];
  std::string k(2 + 8 * static_cast<size_t>(depth), '\0');
  k[0] = static_cast<char>(options_.namespace_id >> 8);
  k[1] = static_cast<char>(options_.namespace_id);
  // Fill from the last fingerprint back to the first.
  for (uint32_t p = static_cast<uint32_t>(page); p != kRoot; p = parent_[p]) {
    std::string fp;
    put_big_endian64(&fp, fingerprint(p, kPageSalt));
    k.replace(2 + 8 * static_cast<size_t>(depth_[p] - 1), 8, fp);
  }
  return k;
}

std::string PromptKeys::absent_key(uint64_t page) const {
  std::string k = key(page);
  put_big_endian64(&k, fingerprint(page, kAbsentSalt));
  return k;
}

double PromptKeys::mean_key_bytes() const {
  double sum = 0;
  for (uint8_t d : depth_) sum += 2 + 8.0 * d;
  return parent_.empty() ? 0 : sum / double(parent_.size());
}

}  // namespace lsm4kv::bench
