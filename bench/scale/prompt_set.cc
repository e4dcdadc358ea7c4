#include "bench/scale/prompt_set.h"

#include <algorithm>

namespace lsm4kv::bench {

namespace {
constexpr uint64_t kVocabulary = 128000;
}  // namespace

PromptSet::PromptSet(const PromptSetOptions& options) : opt_(options), rng_(options.seed) {}

std::span<const int32_t> PromptSet::prompt(size_t i) const {
  return std::span<const int32_t>(tokens_).subspan(i * prompt_tokens(), prompt_tokens());
}

size_t PromptSet::random_prompt() { return rng_() % size(); }

void PromptSet::random_tokens(std::span<int32_t> out) {
  for (int32_t& t : out) t = static_cast<int32_t>(rng_() % kVocabulary);
}

std::span<const int32_t> PromptSet::add(size_t* new_pages) {
  size_t shared = 0;
  if (size() > 0 && opt_.depth > 1 && std::uniform_real_distribution<double>(0, 1)(rng_) < opt_.share)
    shared = opt_.shared_pages > 0 ? opt_.shared_pages : 1 + rng_() % (opt_.depth - 1);
  const size_t from = shared > 0 ? random_prompt() : 0, n = prompt_tokens();
  tokens_.resize(tokens_.size() + n);  // before taking spans: resize moves the tokens
  std::span<int32_t> p = std::span<int32_t>(tokens_).subspan(tokens_.size() - n);
  const size_t shared_tokens = shared * opt_.page_tokens;
  std::copy_n(tokens_.begin() + static_cast<std::ptrdiff_t>(from * n), shared_tokens, p.begin());
  random_tokens(p.subspan(shared_tokens));
  *new_pages = opt_.depth - shared;
  return p;
}

void PromptSet::partial_hit(std::vector<int32_t>* out, size_t* hit_pages) {
  std::span<const int32_t> p = prompt(random_prompt());
  *hit_pages = opt_.depth > 1 ? 1 + rng_() % (opt_.depth - 1) : 0;
  out->assign(p.begin(), p.end());
  random_tokens(std::span<int32_t>(*out).subspan(*hit_pages * opt_.page_tokens));
}

void PromptSet::miss(std::vector<int32_t>* out) {
  out->resize(prompt_tokens());
  random_tokens(*out);
}

}  // namespace lsm4kv::bench
