// kvcache_demo: replays the workload of SGLang-LSM's section 4.1 on a store in
// a local directory — a warm-up, then 10 stages whose expected prefix hit
// rates are 0.2 0.3 0.5 0.7 0.5 0.3 0.1 0.3 0.5 0.7 — and prints, per stage,
// the measured hit rate, put and get bandwidth and probe latency. Every
// request is what a serving engine does: probe, load the cached prefix, then
// store the KV of the whole prompt. Loaded bytes are checked against what was
// stored. The store is left in --dir for inspection (kvtool).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <unistd.h>

#include "bench/bench_util.h"
#include "bench/demo/stage_workload.h"
#include "kvcache_api/kv_store.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;
using lsm4kv::bench::fill_kv;
using lsm4kv::bench::kStageTargets;
using lsm4kv::bench::stage_request;
using lsm4kv::bench::percentile;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void progress(const char* what, size_t done, size_t total) {
  if (!isatty(STDERR_FILENO)) return;
  const int width = 40;
  int filled = static_cast<int>(width * done / std::max<size_t>(total, 1));
  std::fprintf(stderr, "\r%-10s [%s%s] %zu/%zu", what, std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), done, total);
  if (done == total) std::fprintf(stderr, "\r%*s\r", width + 40, "");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Replays the paper's 10-stage KV-cache workload on an lsm4kv store."};
  std::string dir = "bench-data/demo-store";
  size_t prompt_tokens = 2048, requests = 32, bytes_per_token = 16384, warmup_tokens = 49152;
  uint32_t page_tokens = 64;
  uint64_t capacity_mib = 4096;
  uint64_t segment_mib = 256;
  double gc_headroom = StoreOptions{}.gc_headroom;
  uint64_t seed = 1;
  bool keep_old = false;
  std::string probe = "seek", eviction = "region";
  double maintenance_room = StoreOptions{}.maintenance_room;
  uint32_t keep_reads = StoreOptions{}.region_keep_reads;
  app.add_option("--dir", dir, "store directory (emptied first unless --reuse; left afterwards)");
  app.add_option("--prompt-tokens", prompt_tokens, "tokens per request")->check(CLI::Range(64, 1 << 20));
  app.add_option("--requests-per-stage", requests, "requests in each of the 10 stages")->check(CLI::Range(1, 1 << 20));
  app.add_option("--bytes-per-token", bytes_per_token, "KV bytes per token (a multiple of 2048)")
      ->check(CLI::Range(2048, 1 << 24));
  app.add_option("--warmup-tokens", warmup_tokens, "tokens stored before the stages");
  app.add_option("--page-tokens", page_tokens, "tokens per page")->check(CLI::Range(1, 512));
  app.add_option("--capacity-mib", capacity_mib, "store capacity in MiB (0 = unbounded)");
  app.add_option("--segment-mib", segment_mib, "tensor-log segment size in MiB")->check(CLI::Range(1, 4096));
  app.add_option("--gc-headroom", gc_headroom, "share of the capacity kept free of live data for GC")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--eviction", eviction,
                 "region (the oldest segment goes; pages read since written are kept) or lru (subtrees, GC headroom)")
      ->check(CLI::IsMember({"region", "lru"}));
  app.add_option("--maintenance-room", maintenance_room,
                 "share of the capacity background eviction keeps ahead of puts (0 = puts make room)")
      ->check(CLI::Range(0.0, 0.5));
  app.add_option("--keep-reads", keep_reads,
                 "region eviction: copy forward pages read at least this often since written (0 = none)")
      ->check(CLI::Range(0, 3));
  app.add_option("--seed", seed, "random seed");
  app.add_flag("--reuse", keep_old, "keep what --dir already holds");
  app.add_option("--probe", probe, "probe strategy: seek (one predecessor seek) or binary (Bloom-filtered point lookups)")
      ->check(CLI::IsMember({"seek", "binary"}));
  CLI11_PARSE(app, argc, argv);
  if (bytes_per_token % 2048 != 0) {
    std::fprintf(stderr, "error: --bytes-per-token must be a multiple of 2048\n");
    return 2;
  }
  if (!keep_old) std::system(("rm -rf '" + dir + "'").c_str());
  // The store creates its own directory, not its parents (bench-data/ does
  // not exist in a fresh clone).
  std::error_code ec;
  if (auto parent = std::filesystem::path(dir).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent, ec);
  if (ec) {
    std::fprintf(stderr, "error: cannot create %s: %s\n", std::filesystem::path(dir).parent_path().c_str(),
                 ec.message().c_str());
    return 1;
  }

  StoreOptions opt;
  opt.dir = dir;
  opt.page_tokens = page_tokens;
  opt.capacity_bytes = capacity_mib << 20;
  opt.segment_bytes = segment_mib << 20;
  opt.gc_headroom = gc_headroom;
  opt.eviction = eviction == "lru" ? EvictionPolicy::kSubtreeLru : EvictionPolicy::kRegion;
  opt.maintenance_room = maintenance_room;
  opt.region_keep_reads = keep_reads;
  opt.sync = SyncMode::kGroupCommit;
  opt.probe = probe == "seek" ? ProbeStrategy::kSeek : ProbeStrategy::kBinarySearch;
  std::unique_ptr<KvStore> store;
  Status s = KvStore::open(opt, &store);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
    return 1;
  }
  // bf16, 8 KV heads of 128 dims: bytes_per_token = 2 · layers · 8 · 128 · 2.
  KvLayout layout{static_cast<uint32_t>(bytes_per_token / 4096), 8, 128, DType::kBF16};
  if (layout.layers == 0) layout = KvLayout{1, 4, 128, DType::kBF16};
  const size_t bpt = layout.bytes_per_token();
  NamespaceId ns;
  s = store->register_namespace("demo-model", layout, &ns);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("lsm4kv demo: %s, page %u tokens, %zu KiB/token, prompts of %zu tokens, %zu requests/stage, "
              "capacity %llu MiB (eviction %s, maintenance room %.2f), probe by %s\n",
              dir.c_str(), page_tokens, bpt >> 10, prompt_tokens, requests,
              static_cast<unsigned long long>(capacity_mib), eviction.c_str(), maintenance_room, probe.c_str());

  std::mt19937_64 rng(seed);
  std::vector<std::vector<Token>> history;  // prompts stored so far
  auto fresh_prompt = [&](size_t n) {
    std::vector<Token> t(n);
    for (auto& x : t) x = static_cast<Token>(rng() % 128000);
    return t;
  };
  std::vector<char> kv, got;

  // Warm-up: fresh prompts until warmup_tokens are stored.
  const size_t warm = (warmup_tokens + prompt_tokens - 1) / prompt_tokens;
  for (size_t i = 0; i < warm; i++) {
    auto p = fresh_prompt(prompt_tokens);
    fill_kv(p, bpt, &kv);
    s = store->put_batch(ns, p, KvBuffer::host(kv.data(), kv.size()));
    if (!s.ok()) {
      std::fprintf(stderr, "\nerror: warm-up put: %s\n", s.to_string().c_str());
      return 1;
    }
    history.push_back(std::move(p));
    progress("warm-up", i + 1, warm);
  }

  const auto& targets = kStageTargets;
  std::printf("\n%-6s %-8s %-9s %-10s %-12s %-10s %-12s %-12s %-14s\n", "stage", "target", "hit rate", "put GB/s",
              "put p99", "get GB/s", "probe p50", "probe p99", "pages evicted");
  uint64_t total_hit = 0, total_tokens = 0;
  for (int stage = 0; stage < 10; stage++) {
    double put_s = 0, get_s = 0;
    uint64_t put_bytes = 0, get_bytes = 0, hit = 0, seen = 0;
    std::vector<double> probe_us, put_ms;
    const uint64_t evicted_before = store->stats().pages_evicted;
    for (size_t r = 0; r < requests; r++) {
      // A request reuses a stored prompt's first `target` share, then diverges.
      std::vector<Token> p = stage_request(history, targets[stage], prompt_tokens, rng, fresh_prompt);
      fill_kv(p, bpt, &kv);

      size_t cached = 0;
      auto t0 = Clock::now();
      s = store->probe(ns, p, &cached);
      auto t1 = Clock::now();
      probe_us.push_back(seconds(t0, t1) * 1e6);
      if (!s.ok()) {
        std::fprintf(stderr, "\nerror: probe: %s\n", s.to_string().c_str());
        return 1;
      }
      if (cached > 0) {
        got.resize(cached * bpt);
        t0 = Clock::now();
        s = store->get_batch(ns, p, cached, KvBuffer::host(got.data(), got.size()));
        t1 = Clock::now();
        if (s.is_not_found()) {  // evicted in the background since the probe: a miss
          cached = 0;
          got.clear();
          s = Status::OK();
        }
        if (!s.ok() || std::memcmp(got.data(), kv.data(), got.size()) != 0) {
          std::fprintf(stderr, "\nerror: get returned %s\n",
                       s.ok() ? "bytes that differ from what was stored" : s.to_string().c_str());
          return 1;
        }
        get_s += seconds(t0, t1);
        get_bytes += got.size();
      }
      t0 = Clock::now();
      s = store->put_batch(ns, p, KvBuffer::host(kv.data(), kv.size()));
      t1 = Clock::now();
      if (!s.ok()) {
        std::fprintf(stderr, "\nerror: put: %s\n", s.to_string().c_str());
        return 1;
      }
      put_s += seconds(t0, t1);
      put_ms.push_back(seconds(t0, t1) * 1e3);
      put_bytes += (p.size() / page_tokens * page_tokens - cached) * bpt;
      hit += cached;
      seen += p.size();
      history.push_back(std::move(p));
      progress(("stage " + std::to_string(stage + 1)).c_str(), r + 1, requests);
    }
    total_hit += hit;
    total_tokens += seen;
    std::printf("%-6d %-8.2f %-9.3f %-10.2f %-9.1f ms %-10.2f %-9.0f us %-9.0f us %-14llu\n", stage + 1,
                targets[stage], static_cast<double>(hit) / static_cast<double>(seen),
                put_s > 0 ? static_cast<double>(put_bytes) / put_s / 1e9 : 0.0, percentile(put_ms, 0.99),
                get_s > 0 ? static_cast<double>(get_bytes) / get_s / 1e9 : 0.0,
                percentile(probe_us, 0.5), percentile(probe_us, 0.99),
                static_cast<unsigned long long>(store->stats().pages_evicted - evicted_before));
    std::fflush(stdout);
  }
  StoreStats st = store->stats();
  std::printf("\noverall hit rate %.3f; stored %.1f MiB in %zu files (%llu segments of %.1f MB); evictions %llu; "
              "put %.1f MiB, GC copied %.1f MiB (%.2f per MiB put); puts that made room themselves %llu; "
              "index shape T=%d K=%d\n",
              static_cast<double>(total_hit) / static_cast<double>(total_tokens),
              static_cast<double>(st.stored_bytes) / (1 << 20), st.files,
              static_cast<unsigned long long>(st.tensor_segments), static_cast<double>(st.tensor_file_bytes) / 1e6,
              static_cast<unsigned long long>(st.evictions), static_cast<double>(st.bytes_put) / (1 << 20),
              static_cast<double>(st.gc_bytes_copied) / (1 << 20),
              st.bytes_put == 0 ? 0.0 : static_cast<double>(st.gc_bytes_copied) / static_cast<double>(st.bytes_put),
              static_cast<unsigned long long>(st.put_stalls), st.index_shape.size_ratio, st.index_shape.runs_at(1));
  s = store->close();
  if (!s.ok()) {
    std::fprintf(stderr, "error: close: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("store left in %s\n", dir.c_str());
  return 0;
}
