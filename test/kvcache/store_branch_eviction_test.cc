// Branch eviction (branch_eviction.h). A system prompt every request starts
// with makes the whole cache one prefix subtree: capacity must still be kept
// by evicting inside it (its least recently written branches), not by
// refusing every put once the store is full; and a subtree far bigger than
// what a put needs freed must not be dropped all at once.
#include <catch2/catch.hpp>

#include <random>
#include <unordered_set>

#include "kvcache_api/branch_eviction.h"
#include "kvcache_api/kv_store.h"
#include "kvcache_api/prefix_key.h"
#include "test/engine/test_util.h"
#include "test/support/kv_data.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

// The key of a page: namespace 1, then one 8-byte fingerprint per page, each
// the letter repeated (so "ab" is page b under page a).
std::string key(std::string_view path) {
  std::string k("\0\1", 2);
  for (char c : path) k.append(kFingerprintBytes, c);
  return k;
}

// The keys of every prefix of path: what a put of path protects.
std::unordered_set<std::string> path_keys(std::string_view path) {
  std::unordered_set<std::string> keys;
  for (size_t i = 1; i <= path.size(); i++) keys.insert(key(path.substr(0, i)));
  return keys;
}

}  // namespace

TEST_CASE("branch eviction takes the oldest whole branches, never a protected path",
          "[kvcache][capacity]") {
  // a(1) ─ ab(2) ─ abc(9)
  //      └ ad(3) ─ ade(4)
  //      └ af(5)
  // (key, tick, bytes, parent, depth), each page after its parent.
  std::vector<SubtreePage> pages = {
      {key("a"), 1, 10, SIZE_MAX, 1}, {key("ab"), 2, 10, 0, 2}, {key("abc"), 9, 10, 1, 3},
      {key("ad"), 3, 10, 0, 2},       {key("ade"), 4, 10, 3, 3}, {key("af"), 5, 10, 0, 2},
  };
  // Ages (newest tick below): a 9, ab 9, abc 9, ad 4, ade 4, af 5. The
  // oldest branch is ad with ade (20 bytes): one range deletion at ad.
  BranchChoice c = choose_branches(pages, {}, 15);
  REQUIRE(c.roots == std::vector<size_t>{3});
  REQUIRE(c.pages == std::vector<size_t>{3, 4});
  REQUIRE(c.bytes == 20);
  // More: af next, then everything (a's subtree is as old as abc).
  c = choose_branches(pages, {}, 25);
  REQUIRE(c.roots == std::vector<size_t>{3, 5});
  c = choose_branches(pages, {}, 1000);
  REQUIRE(c.roots == std::vector<size_t>{0});
  REQUIRE(c.bytes == 60);
  // A put extending abc protects a, ab, abc: only ad, ade, af may go.
  c = choose_branches(pages, path_keys("abcx"), 1000);
  REQUIRE(c.roots == std::vector<size_t>{3, 5});
  REQUIRE(c.bytes == 30);
  // A put extending ade keeps a, ad, ade; ab's branch is young (9) but may go.
  c = choose_branches(pages, path_keys("adex"), 1000);
  REQUIRE(c.roots == std::vector<size_t>{1, 5});
  REQUIRE(c.pages == std::vector<size_t>{1, 2, 5});
}

TEST_CASE("a shared system prompt: puts past the capacity evict inside its subtree",
          "[kvcache][capacity]") {
  constexpr uint32_t P = 16;
  const KvLayout layout{2, 2, 64, DType::kF16};  // 1 KiB per token: 16 KiB pages
  test::TempDir dir("lsm4kv_shared_root");
  StoreOptions o;
  o.dir = dir.path();
  o.page_tokens = P;
  o.sync = SyncMode::kNone;
  o.capacity_bytes = 2 << 20;  // ~100 pages of 20 KiB records
  o.segment_bytes = 256 << 10;
  o.index_write_buffer = 64 << 10;
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(o, &store).ok());
  NamespaceId ns;
  REQUIRE(store->register_namespace("chat", layout, &ns).ok());
  const size_t bpt = layout.bytes_per_token();

  std::mt19937_64 rng(11);
  auto random_tokens = [&](size_t n) {
    std::vector<Token> t(n);
    for (Token& x : t) x = static_cast<Token>(rng() % 32000);
    return t;
  };
  // A prompt: the system prompt's page, then 7 pages of its own.
  auto put_prompt = [&](const std::vector<Token>& system) {
    std::vector<Token> p = system;
    for (Token t : random_tokens(7 * P)) p.push_back(t);
    std::vector<char> kv = test::kv_of(p, p.size(), bpt);
    Status s = store->put_batch(ns, p, KvBuffer::host(kv.data(), kv.size()));
    INFO(s.to_string());
    REQUIRE(s.ok());
    REQUIRE(store->check_invariants().ok());
    return p;
  };
  const std::vector<Token> system = random_tokens(P);
  std::vector<std::vector<Token>> prompts;
  for (int i = 0; i < 60; ++i) prompts.push_back(put_prompt(system));  // ~5x the capacity
  // The newest prompts are whole, the system prompt is still there, and some
  // of the oldest are gone: the eviction took branches, not the root.
  size_t cached = 0;
  REQUIRE(store->probe(ns, prompts.back(), &cached).ok());
  REQUIRE(cached == prompts.back().size());
  REQUIRE(store->probe(ns, prompts.front(), &cached).ok());
  REQUIRE(cached == P);  // only the shared page
  std::vector<char> out(cached * bpt);
  REQUIRE(store->get_batch(ns, prompts.front(), cached, KvBuffer::host(out.data(), out.size())).ok());
  REQUIRE(out == test::kv_of(prompts.front(), cached, bpt));
  StoreStats st = store->stats();
  REQUIRE(st.pages_evicted > 0);
  REQUIRE(st.stored_bytes >= o.capacity_bytes / 2);  // not everything dropped at once

  // A second system prompt: the first one's subtree is now the least
  // recently used, and far bigger than what each put needs freed, so it
  // loses its oldest branches, put by put, not everything at once.
  const std::vector<Token> other = random_tokens(P);
  for (int i = 0; i < 5; ++i) put_prompt(other);
  REQUIRE(store->probe(ns, prompts.back(), &cached).ok());
  REQUIRE(cached == prompts.back().size());
  REQUIRE(store->probe(ns, prompts.front(), &cached).ok());
  REQUIRE(cached == P);
  REQUIRE(store->close().ok());
}
