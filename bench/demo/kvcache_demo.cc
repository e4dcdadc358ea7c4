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
#include <string>
#include <vector>
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

struct Flags {
  std::string dir = "bench-data/demo-store";
  size_t prompt_tokens = 2048, requests = 32, bytes_per_token = 16384, warmup_tokens = 49152;
  uint32_t page_tokens = 64;
  uint64_t capacity_mib = 4096;
  uint64_t segment_mib = 0;
  double gc_headroom = StoreOptions{}.gc_headroom;
  uint64_t seed = 1;
  bool keep_old = false;
  std::string probe = "seek", eviction = "region";
  double maintenance_room = StoreOptions{}.maintenance_room;
  uint64_t maintenance_room_max_mib = StoreOptions{}.maintenance_room_max_bytes >> 20;
  uint32_t keep_reads = StoreOptions{}.region_keep_reads;
  double small_share = StoreOptions{}.region_small_share;
};

void add_flags(CLI::App& app, Flags* f) {
  app.add_option("--dir", f->dir, "store directory (emptied first unless --reuse; left afterwards)");
  app.add_option("--prompt-tokens", f->prompt_tokens, "tokens per request")->check(CLI::Range(64, 1 << 20));
  app.add_option("--requests-per-stage", f->requests, "requests in each of the 10 stages")->check(CLI::Range(1, 1 << 20));
  app.add_option("--bytes-per-token", f->bytes_per_token, "KV bytes per token (a multiple of 2048)")
      ->check(CLI::Range(2048, 1 << 24));
  app.add_option("--warmup-tokens", f->warmup_tokens, "tokens stored before the stages");
  app.add_option("--page-tokens", f->page_tokens, "tokens per page")->check(CLI::Range(1, 512));
  app.add_option("--capacity-mib", f->capacity_mib, "store capacity in MiB (0 = unbounded)");
  app.add_option("--segment-mib", f->segment_mib, "tensor-log segment size in MiB (0 = by the capacity: kv_store.h)")->check(CLI::Range(0, 4096));
  app.add_option("--gc-headroom", f->gc_headroom, "share of the capacity kept free of live data for GC")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--eviction", f->eviction,
                 "region (the oldest segment goes; pages read since written are kept) or lru (subtrees, GC headroom)")
      ->check(CLI::IsMember({"region", "lru"}));
  app.add_option("--maintenance-room", f->maintenance_room,
                 "share of the capacity background eviction keeps ahead of puts (0 = puts make room)")
      ->check(CLI::Range(0.0, 0.5));
  app.add_option("--maintenance-room-max-mib", f->maintenance_room_max_mib,
                 "the most MiB that room takes, or two segments if more (0 = the share alone)");
  app.add_option("--keep-reads", f->keep_reads,
                 "region eviction: copy forward pages read at least this often since written (0 = none)")
      ->check(CLI::Range(0, 3));
  app.add_option("--small-share", f->small_share,
                 "region eviction: share of the capacity for new pages' first pass (two FIFOs; 0 = one FIFO)")
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--seed", f->seed, "random seed");
  app.add_flag("--reuse", f->keep_old, "keep what --dir already holds");
  app.add_option("--probe", f->probe, "probe strategy: seek (one predecessor seek) or binary (Bloom-filtered point lookups)")
      ->check(CLI::IsMember({"seek", "binary"}));
}

// Empties --dir (unless --reuse) and creates its parents: the store creates
// its own directory, not its parents (bench-data/ does not exist in a fresh
// clone).
Status prepare_dir(const Flags& f) {
  if (!f.keep_old) std::system(("rm -rf '" + f.dir + "'").c_str());
  std::error_code ec;
  if (auto parent = std::filesystem::path(f.dir).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent, ec);
  if (ec) return Status::io_error("cannot create " + std::filesystem::path(f.dir).parent_path().string() + ": " + ec.message());
  return Status::OK();
}

Status open_store(const Flags& f, std::unique_ptr<KvStore>* store) {
  StoreOptions opt;
  opt.dir = f.dir;
  opt.page_tokens = f.page_tokens;
  opt.capacity_bytes = f.capacity_mib << 20;
  opt.segment_bytes = f.segment_mib << 20;
  opt.gc_headroom = f.gc_headroom;
  opt.eviction = f.eviction == "lru" ? EvictionPolicy::kSubtreeLru : EvictionPolicy::kRegion;
  opt.maintenance_room = f.maintenance_room;
  opt.maintenance_room_max_bytes = f.maintenance_room_max_mib << 20;
  opt.region_keep_reads = f.keep_reads;
  opt.region_small_share = f.small_share;
  opt.sync = SyncMode::kGroupCommit;
  opt.probe = f.probe == "seek" ? ProbeStrategy::kSeek : ProbeStrategy::kBinarySearch;
  return KvStore::open(opt, store);
}

// The store and the request stream the stages share.
struct Demo {
  Demo(const Flags& flags, KvStore* s, size_t bytes_per_token) : f(flags), store(s), bpt(bytes_per_token), rng(flags.seed) {}
  const Flags& f;
  KvStore* store;
  NamespaceId ns = 0;
  size_t bpt = 0;
  std::mt19937_64 rng;
  std::vector<std::vector<Token>> history;  // prompts stored so far
  std::vector<char> kv, got;

  std::vector<Token> fresh_prompt(size_t n) {
    std::vector<Token> t(n);
    for (auto& x : t) x = static_cast<Token>(rng() % 128000);
    return t;
  }
};

// Fresh prompts until warmup_tokens are stored.
Status warm_up(Demo& d) {
  const size_t warm = (d.f.warmup_tokens + d.f.prompt_tokens - 1) / d.f.prompt_tokens;
  for (size_t i = 0; i < warm; i++) {
    auto p = d.fresh_prompt(d.f.prompt_tokens);
    fill_kv(p, d.bpt, &d.kv);
    Status s = d.store->put_batch(d.ns, p, KvBuffer::host(d.kv.data(), d.kv.size()));
    if (!s.ok()) return Status::io_error("warm-up put: " + s.to_string());
    d.history.push_back(std::move(p));
    progress("warm-up", i + 1, warm);
  }
  return Status::OK();
}

struct StageTotals {
  double put_s = 0, get_s = 0;
  uint64_t put_bytes = 0, get_bytes = 0, hit = 0, seen = 0;
  std::vector<double> probe_us, put_ms;
};

// One request, as a serving engine makes it: probe, load the cached prefix
// (checked against what was stored), store the whole prompt.
Status serve(Demo& d, std::vector<Token> p, StageTotals* t) {
  fill_kv(p, d.bpt, &d.kv);
  size_t cached = 0;
  auto t0 = Clock::now();
  Status s = d.store->probe(d.ns, p, &cached);
  auto t1 = Clock::now();
  t->probe_us.push_back(seconds(t0, t1) * 1e6);
  if (!s.ok()) return Status::io_error("probe: " + s.to_string());
  if (cached > 0) {
    d.got.resize(cached * d.bpt);
    t0 = Clock::now();
    s = d.store->get_batch(d.ns, p, cached, KvBuffer::host(d.got.data(), d.got.size()));
    t1 = Clock::now();
    if (s.is_not_found()) {  // evicted in the background since the probe: a miss
      cached = 0;
      d.got.clear();
      s = Status::OK();
    }
    if (!s.ok()) return Status::io_error("get returned " + s.to_string());
    if (std::memcmp(d.got.data(), d.kv.data(), d.got.size()) != 0)
      return Status::corruption("get returned bytes that differ from what was stored");
    t->get_s += seconds(t0, t1);
    t->get_bytes += d.got.size();
  }
  t0 = Clock::now();
  s = d.store->put_batch(d.ns, p, KvBuffer::host(d.kv.data(), d.kv.size()));
  t1 = Clock::now();
  if (!s.ok()) return Status::io_error("put: " + s.to_string());
  t->put_s += seconds(t0, t1);
  t->put_ms.push_back(seconds(t0, t1) * 1e3);
  t->put_bytes += (p.size() / d.f.page_tokens * d.f.page_tokens - cached) * d.bpt;
  t->hit += cached;
  t->seen += p.size();
  d.history.push_back(std::move(p));
  return Status::OK();
}

// A stage's puts, for comparing the stages that evicted with those that did not.
struct StagePuts {
  double gbps = 0, p99_ms = 0;
  bool evicted = false;
  std::vector<double> put_ms;  // each put's time
};

// A stage's requests reuse a stored prompt's first `target` share, then
// diverge; prints the stage's row.
Status run_stage(Demo& d, int stage, uint64_t* total_hit, uint64_t* total_tokens, std::vector<StagePuts>* puts) {
  StageTotals t;
  const uint64_t evicted_before = d.store->stats().pages_evicted;
  for (size_t r = 0; r < d.f.requests; r++) {
    auto fresh = [&](size_t n) { return d.fresh_prompt(n); };
    LSM4KV_RETURN_IF_ERROR(serve(d, stage_request(d.history, kStageTargets[stage], d.f.prompt_tokens, d.rng, fresh), &t));
    progress(("stage " + std::to_string(stage + 1)).c_str(), r + 1, d.f.requests);
  }
  *total_hit += t.hit;
  *total_tokens += t.seen;
  const uint64_t evicted = d.store->stats().pages_evicted - evicted_before;
  const StagePuts sp{t.put_s > 0 ? static_cast<double>(t.put_bytes) / t.put_s / 1e9 : 0.0, percentile(t.put_ms, 0.99),
                     evicted > 0, t.put_ms};
  puts->push_back(sp);
  std::printf("%-6d %-8.2f %-9.3f %-10.2f %-9.1f ms %-10.2f %-9.0f us %-9.0f us %-14llu\n", stage + 1,
              kStageTargets[stage], static_cast<double>(t.hit) / static_cast<double>(t.seen), sp.gbps, sp.p99_ms,
              t.get_s > 0 ? static_cast<double>(t.get_bytes) / t.get_s / 1e9 : 0.0,
              percentile(t.probe_us, 0.5), percentile(t.probe_us, 0.99), static_cast<unsigned long long>(evicted));
  std::fflush(stdout);
  return Status::OK();
}

void print_summary(const StoreStats& st, uint64_t total_hit, uint64_t total_tokens) {
  std::printf("\noverall hit rate %.3f; stored %.1f MiB in %zu files (%llu segments of %.1f MB); evictions %llu; "
              "put %.1f MiB, GC copied %.1f MiB (%.2f per MiB put); puts that made room themselves %llu; "
              "pages readmitted %llu; index shape T=%d K=%d\n",
              static_cast<double>(total_hit) / static_cast<double>(total_tokens),
              static_cast<double>(st.stored_bytes) / (1 << 20), st.files,
              static_cast<unsigned long long>(st.tensor_segments), static_cast<double>(st.tensor_file_bytes) / 1e6,
              static_cast<unsigned long long>(st.evictions), static_cast<double>(st.bytes_put) / (1 << 20),
              static_cast<double>(st.gc_bytes_copied) / (1 << 20),
              st.bytes_put == 0 ? 0.0 : static_cast<double>(st.gc_bytes_copied) / static_cast<double>(st.bytes_put),
              static_cast<unsigned long long>(st.put_stalls), static_cast<unsigned long long>(st.pages_readmitted),
              st.index_shape.size_ratio, st.index_shape.runs_at(1));
}

// What eviction costs the puts: the stages that evicted pages against those
// that did not (issue 12's goals: put GB/s >= 0.8 x, put p99 <= 2 x). Put
// GB/s as the stages' mean and as the slowest evicting stage's; p99 as the
// worst stage's of each kind (a stage's p99 of a few dozen puts is about its
// slowest put) and over each kind's puts together.
void print_eviction_cost(const std::vector<StagePuts>& puts) {
  double gbps[2] = {0, 0}, p99[2] = {0, 0}, slowest = 0;
  std::vector<double> pooled[2];
  size_t n[2] = {0, 0};
  std::string evicting;
  for (size_t i = 0; i < puts.size(); i++) {
    const int k = puts[i].evicted ? 1 : 0;
    gbps[k] += puts[i].gbps;
    p99[k] = std::max(p99[k], puts[i].p99_ms);
    pooled[k].insert(pooled[k].end(), puts[i].put_ms.begin(), puts[i].put_ms.end());
    if (k == 1) {
      slowest = n[1] == 0 ? puts[i].gbps : std::min(slowest, puts[i].gbps);
      evicting += (evicting.empty() ? "" : " ") + std::to_string(i + 1);
    }
    n[k]++;
  }
  const double base = n[0] == 0 ? 0 : gbps[0] / static_cast<double>(n[0]);
  const double pooled_base = pooled[0].empty() ? 0 : percentile(pooled[0], 0.99);
  if (n[1] == 0 || base <= 0 || p99[0] <= 0 || pooled_base <= 0) {
    std::printf("eviction's cost to puts: %s\n",
                n[1] == 0 ? "no stage evicted" : "no stage that did not evict put anything to compare with");
    return;
  }
  std::printf("eviction's cost to puts: evicting stages (%s) put %.2f x the others' GB/s (slowest stage %.2f x), "
              "worst put p99 %.2f x (their puts together: %.2f x)\n",
              evicting.c_str(), gbps[1] / static_cast<double>(n[1]) / base, slowest / base, p99[1] / p99[0],
              percentile(pooled[1], 0.99) / pooled_base);
}

// The warm-up, the 10 stages and the summary on an open store.
Status run_demo(const Flags& f, KvStore* store) {
  // bf16, 8 KV heads of 128 dims: bytes_per_token = 2 · layers · 8 · 128 · 2.
  KvLayout layout{static_cast<uint32_t>(f.bytes_per_token / 4096), 8, 128, DType::kBF16};
  if (layout.layers == 0) layout = KvLayout{1, 4, 128, DType::kBF16};
  Demo d(f, store, layout.bytes_per_token());
  LSM4KV_RETURN_IF_ERROR(store->register_namespace("demo-model", layout, &d.ns));
  std::printf("lsm4kv demo: %s, page %u tokens, %zu KiB/token, prompts of %zu tokens, %zu requests/stage, "
              "capacity %llu MiB (eviction %s, small share %.2f, maintenance room %.2f), probe by %s\n",
              f.dir.c_str(), f.page_tokens, d.bpt >> 10, f.prompt_tokens, f.requests,
              static_cast<unsigned long long>(f.capacity_mib), f.eviction.c_str(), f.small_share, f.maintenance_room,
              f.probe.c_str());
  LSM4KV_RETURN_IF_ERROR(warm_up(d));
  std::printf("\n%-6s %-8s %-9s %-10s %-12s %-10s %-12s %-12s %-14s\n", "stage", "target", "hit rate", "put GB/s",
              "put p99", "get GB/s", "probe p50", "probe p99", "pages evicted");
  uint64_t total_hit = 0, total_tokens = 0;
  std::vector<StagePuts> puts;
  for (int stage = 0; stage < 10; stage++)
    LSM4KV_RETURN_IF_ERROR(run_stage(d, stage, &total_hit, &total_tokens, &puts));
  print_summary(store->stats(), total_hit, total_tokens);
  print_eviction_cost(puts);
  return Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Replays the paper's 10-stage KV-cache workload on an lsm4kv store."};
  Flags f;
  add_flags(app, &f);
  CLI11_PARSE(app, argc, argv);
  if (f.bytes_per_token % 2048 != 0) {
    std::fprintf(stderr, "error: --bytes-per-token must be a multiple of 2048\n");
    return 2;
  }
  std::unique_ptr<KvStore> store;
  Status s = prepare_dir(f);
  if (s.ok()) s = open_store(f, &store);
  if (s.ok()) s = run_demo(f, store.get());
  if (!s.ok()) {
    std::fprintf(stderr, "\nerror: %s\n", s.to_string().c_str());
    return 1;
  }
  s = store->close();
  if (!s.ok()) {
    std::fprintf(stderr, "error: close: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("store left in %s\n", f.dir.c_str());
  return 0;
}
