// PromptSet: the prompts the scale benchmark stores, and the probes it asks.
//
// Every prompt has the same depth (pages); tokens are uniform in a 128k
// vocabulary. A prompt either starts fresh (every page random) or, with
// probability share, starts with the first k pages of a uniformly chosen
// earlier prompt (a system prompt, a conversation's history, a shared
// document) and continues with random pages; k is shared_pages, or uniform
// in 1..depth-1 when shared_pages is 0. So a prompt adds depth - k new pages
// to the store, and the stored pages form a prefix tree whose fan-out is
// highest near the roots, as in serving traces.
//
// Queries built from the set: a stored prompt (a full hit), a stored
// prompt's first k pages followed by random pages (a partial hit of k
// pages, k uniform in 1..depth-1), and a fresh prompt (a miss).
//
// Thread-compatible: one thread at a time.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace lsm4kv::bench {

struct PromptSetOptions {
  size_t depth = 64;          // pages per prompt, >= 1
  size_t page_tokens = 16;
  double share = 0.5;         // probability that a prompt extends an earlier prompt's prefix
  size_t shared_pages = 0;    // pages it shares; 0 = uniform in 1..depth-1 (< depth)
  uint64_t seed = 1;
};

class PromptSet {
 public:
  explicit PromptSet(const PromptSetOptions& options);

  // Draws the next prompt and keeps it; returns it and sets *new_pages to
  // the pages it does not share with the prompt it extends.
  std::span<const int32_t> add(size_t* new_pages);

  size_t size() const { return tokens_.size() / prompt_tokens(); }
  size_t prompt_tokens() const { return opt_.depth * opt_.page_tokens; }
  std::span<const int32_t> prompt(size_t i) const;
  // A uniformly chosen stored prompt's index. REQUIRES: size() > 0.
  size_t random_prompt();
  // A stored prompt's first *hit_pages pages (uniform in 1..depth-1; 0 when
  // depth is 1), then random pages, into *out.
  void partial_hit(std::vector<int32_t>* out, size_t* hit_pages);
  // A prompt of depth pages none of which is stored (with random tokens, a
  // stored first page is a 1 in 128k^page_tokens event).
  void miss(std::vector<int32_t>* out);

 private:
  void random_tokens(std::span<int32_t> out);

  PromptSetOptions opt_;
  std::mt19937_64 rng_;
  std::vector<int32_t> tokens_;  // prompt i at [i·prompt_tokens(), (i+1)·prompt_tokens())
};

}  // namespace lsm4kv::bench
