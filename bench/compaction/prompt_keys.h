// PromptKeys: the keys the store writes, emulated for the benchmark.
//
// The store's index key of a page is prefix-preserving (DESIGN.md, "The data
// model"): a 2-byte namespace id followed by one 8-byte xxHash fingerprint
// per page of the prompt, so a page's key extends its parent page's key.
// Prompts that share a prefix (a system prompt, a conversation's history)
// share that part of their keys, and whole conversations are contiguous key
// ranges. This class builds a tree of such pages:
//
//   - A prompt starts either at the namespace root (a new conversation, with
//     probability root_probability) or at a uniformly chosen existing page
//     (a follow-up or another request sharing that prefix), and extends it by
//     1..max_new_pages new pages, never deeper than max_depth pages.
//   - Each new page is one entry; its key is its parent's key plus a fresh
//     fingerprint, so entries are distinct and each is a child of an
//     existing key.
//
// Only the parent index of every page is kept (5 bytes per entry); keys are
// rebuilt by walking up the tree, so 10^7 entries need ~50 MB, not GBs.
// absent_key(i) is a child of page i with a fingerprint no page has: a
// lookup for it shares a long prefix with stored keys but finds nothing, as
// the store's probes of uncached continuations do.
//
// Thread-safety: const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lsm4kv::bench {

struct PromptKeyOptions {
  uint16_t namespace_id = 1;
  double root_probability = 0.2;  // a prompt starts a new conversation
  int max_new_pages = 8;          // pages a prompt adds, uniform in 1..this
  int max_depth = 32;             // pages in a key (64-token pages: 2048 tokens)
  uint64_t seed = 42;
};

class PromptKeys {
 public:
  // Builds the page tree of `entries` pages.
  PromptKeys(uint64_t entries, const PromptKeyOptions& options);

  uint64_t size() const { return parent_.size(); }
  // Pages [begin, end) of the prompt that starts at page `begin`: page i's
  // prompt ends at prompt_end(i). Prompts are the natural write batches.
  uint64_t prompt_end(uint64_t page) const;
  // The key of page i (REQUIRES: i < size()).
  std::string key(uint64_t page) const;
  // A key that is not stored: page i's key plus a fingerprint of no page.
  std::string absent_key(uint64_t page) const;
  int depth(uint64_t page) const { return depth_[page]; }
  double mean_key_bytes() const;

 private:
  static constexpr uint32_t kRoot = UINT32_MAX;
  uint64_t fingerprint(uint64_t page, uint64_t salt) const;

  PromptKeyOptions options_;
  std::vector<uint32_t> parent_;  // kRoot for a page directly under the namespace
  std::vector<uint8_t> depth_;    // pages in the key, 1..max_depth
  std::vector<bool> prompt_start_;
};

}  // namespace lsm4kv::bench
