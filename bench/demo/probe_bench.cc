// probe_bench: the store's probe (longest cached prefix) on its own, with the
// index in memory and nothing else running: what a probe costs when it does
// not share the disk with puts and gets (the demo measures it among them).
//
// Stores --prompts prompts of --prompt-tokens tokens (tiny KV: the tensors do
// not matter here; half of the prompts share their first half with an earlier
// one), then times --probes probes of random stored prompts, single-threaded,
// with each ProbeStrategy. The directory (--dir) is removed at the end.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>

#include "bench/bench_util.h"
#include "kvcache_api/kv_store.h"

using namespace lsm4kv;
using lsm4kv::bench::die;
using namespace lsm4kv::kvcache;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string dir = "bench-data/probe";
  size_t prompts = 2000, prompt_tokens = 2048, probes = 20000;
  uint32_t page_tokens = 64;
  CLI::App app{"the store's probe on its own"};
  app.add_option("--dir", dir, "store directory (removed at the end)")->capture_default_str();
  app.add_option("--prompts", prompts, "prompts stored")->capture_default_str()->check(CLI::Range(1, 1 << 24));
  app.add_option("--prompt-tokens", prompt_tokens, "tokens per prompt")->capture_default_str()
      ->check(CLI::Range(64, 1 << 20));
  app.add_option("--page-tokens", page_tokens, "tokens per page")->capture_default_str()->check(CLI::Range(1, 512));
  app.add_option("--probes", probes, "timed probes per strategy")->capture_default_str()->check(CLI::Range(1, 1 << 26));
  CLI11_PARSE(app, argc, argv);

  std::printf("| probe strategy | pages per prompt | stored pages | p50 us | p99 us | mean us |\n"
              "|---|---|---|---|---|---|\n");
  for (ProbeStrategy strategy : {ProbeStrategy::kSeek, ProbeStrategy::kBinarySearch}) {
    std::filesystem::remove_all(dir);
    StoreOptions o;
    o.dir = dir;
    o.page_tokens = page_tokens;
    o.sync = SyncMode::kNone;
    o.probe = strategy;
    std::unique_ptr<KvStore> store;
    die(KvStore::open(o, &store), "open");
    const KvLayout layout{1, 1, 8, DType::kF16};  // 32 B per token
    NamespaceId ns;
    die(store->register_namespace("probe", layout, &ns), "register_namespace");
    std::mt19937_64 rng(1);
    std::vector<std::vector<Token>> stored;
    std::vector<char> kv(prompt_tokens * layout.bytes_per_token(), 'k');
    for (size_t i = 0; i < prompts; ++i) {
      std::vector<Token> p(prompt_tokens);
      for (Token& t : p) t = static_cast<Token>(rng() % 32000);
      if (i % 2 == 1) {  // shares its first half with an earlier prompt
        const std::vector<Token>& q = stored[rng() % stored.size()];
        std::copy(q.begin(), q.begin() + static_cast<long>(prompt_tokens / 2), p.begin());
      }
      die(store->put_batch(ns, p, KvBuffer::host(kv.data(), kv.size())), "put_batch");
      stored.push_back(std::move(p));
    }
    std::vector<double> us;
    us.reserve(probes);
    for (size_t i = 0; i < probes; ++i) {
      const std::vector<Token>& p = stored[rng() % stored.size()];
      size_t cached = 0;
      auto t = Clock::now();
      die(store->probe(ns, p, &cached), "probe");
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
      if (cached != p.size() - p.size() % page_tokens) std::fprintf(stderr, "probe missed\n"), std::exit(1);
    }
    std::sort(us.begin(), us.end());
    double mean = 0;
    for (double x : us) mean += x / static_cast<double>(us.size());
    std::printf("| %s | %zu | %zu | %.2f | %.2f | %.2f |\n",
                strategy == ProbeStrategy::kSeek ? "seek" : "binary search", prompt_tokens / page_tokens,
                static_cast<size_t>(store->stats().pages_put), us[us.size() / 2], us[us.size() * 99 / 100], mean);
    die(store->close(), "close");
  }
  std::filesystem::remove_all(dir);
  return 0;
}
