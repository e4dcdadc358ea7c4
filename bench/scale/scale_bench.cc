// scale_bench: the store at scale, through its public API alone (open,
// register_namespace, put_batch, probe, get_batch, stats, close).
//
// Stores prompts of --prompt-pages pages (PromptSet: a share of them extend
// an earlier prompt's prefix) until --pages pages are stored, capacity
// unbounded, timing every put. Then closes the store and measures what it
// left on disk (index and segment bytes per page), reopens it without block
// cache (timed, with one probe to prove it works: a restart; the RSS it adds
// is the index's fence pointers and Bloom filters and whatever else the open
// store keeps in memory), and, after another reopen per probe strategy
// (--probe-strategy both, the default: seek and binary on the same data),
// times --probes probes of each kind (full hit, partial hit, miss) and
// --gets loads of stored prompts (checked byte for byte).
//
// Prints readable lines and one `RESULT key=value ...` line for tables
// (bench/RESULTS.md, "Scale"). The directory is removed at the end unless
// --keep. Single-threaded: the figures are per-call latencies.
#include <CLI/CLI.hpp>

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/scale/prompt_set.h"
#include "kvcache_api/kv_store.h"
#include "kvcache_api/store_admin.h"

using namespace lsm4kv;
using namespace lsm4kv::bench;
using namespace lsm4kv::kvcache;
using Clock = std::chrono::steady_clock;

namespace {

// Removed at exit, also when a bench step fails (die() exits).
std::string g_remove_at_exit;

struct Config {
  std::string dir;
  bool keep = false;
  size_t pages = 100000, probes = 10000, gets = 1000;
  size_t bytes_per_token = 8;
  size_t block_cache_mib = StoreOptions{}.index_block_cache >> 20;
  uint32_t key_window = StoreOptions{}.key_window_pages;
  std::string strategy = "both", sync = "none";
  PromptSetOptions prompts;
};

double since(Clock::time_point t0, double scale = 1) {
  return std::chrono::duration<double>(Clock::now() - t0).count() * scale;
}

// The RESULT line: every figure once, as key=value.
class Result {
 public:
  void add(const std::string& key, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, v == std::floor(v) && std::fabs(v) < 1e15 ? "%.0f" : "%.6g", v);
    line_ += " " + key + "=" + buf;
  }
  void add(const std::string& key, const std::string& v) { line_ += " " + key + "=" + v; }
  void print() const { std::printf("RESULT%s\n", line_.c_str()); }

 private:
  std::string line_;
};

// Prints p50, p99, p99.9 and max of samples and adds them to the RESULT line.
void report_latency(const char* what, const char* unit, const std::string& key, const std::vector<double>& v,
                    Result* r) {
  const double p50 = percentile(v, 0.5), p99 = percentile(v, 0.99), p999 = percentile(v, 0.999),
               max = percentile(v, 1);
  std::printf("  %-22s p50 %9.2f  p99 %9.2f  p99.9 %9.2f  max %9.2f %s  (%zu)\n", what, p50, p99, p999, max, unit,
              v.size());
  r->add(key + "_p50_" + unit, p50);
  r->add(key + "_p99_" + unit, p99);
  r->add(key + "_p999_" + unit, p999);
  r->add(key + "_max_" + unit, max);
}

// Every StoreStats field (one place to extend when StoreStats grows).
void print_stats(const StoreStats& st) {
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf("  stats: hit_tokens %llu miss_tokens %llu hit_pages %llu miss_pages %llu\n", u(st.hit_tokens),
              u(st.miss_tokens), u(st.hit_pages), u(st.miss_pages));
  std::printf("  stats: bytes_put %llu bytes_got %llu pages_put %llu pages_evicted %llu evictions %llu\n",
              u(st.bytes_put), u(st.bytes_got), u(st.pages_put), u(st.pages_evicted), u(st.evictions));
  std::printf("  stats: collisions %llu corrupt_pages_dropped %llu index_rebuilt %d (rebuild kept %llu)\n",
              u(st.collisions), u(st.corrupt_pages_dropped), st.index_rebuilt ? 1 : 0,
              u(st.rebuild.pages_kept));
  for (auto [name, l] : {std::pair{"put", &st.put_latency}, {"probe", &st.probe_latency}, {"get", &st.get_latency}})
    std::printf("  stats: %s_latency p50 %.1f us p99 %.1f us (%llu)\n", name, l->p50_us, l->p99_us, u(l->count));
  std::printf("  stats: tensor_live_bytes %llu tensor_dead_bytes %llu tensor_segments %llu tensor_file_bytes %llu\n",
              u(st.tensor_live_bytes), u(st.tensor_dead_bytes), u(st.tensor_segments), u(st.tensor_file_bytes));
  std::printf("  stats: gc_bytes_copied %llu stored_bytes %llu files %zu\n", u(st.gc_bytes_copied),
              u(st.stored_bytes), st.files);
  std::string k, runs;
  for (int x : st.index_shape.runs_per_level) k += (k.empty() ? "" : ",") + std::to_string(x);
  for (size_t x : st.runs_per_level) runs += (runs.empty() ? "" : ",") + std::to_string(x);
  std::printf("  stats: index_shape T=%d K=%s runs_per_level %s tuner_decisions %zu\n", st.index_shape.size_ratio,
              k.c_str(), runs.c_str(), st.tuner_decisions.size());
  const MemoryUsage& m = st.memory;
  std::printf("  stats: memory filters %llu fences %llu block_cache %llu memtables %llu tensor_tables %llu "
              "eviction %llu total %llu\n",
              u(m.index_filters), u(m.index_fences), u(m.index_block_cache), u(m.index_memtables),
              u(m.tensor_tables), u(m.eviction), u(m.total()));
}

uint64_t dir_bytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec))
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  return total;
}

// RSS after returning freed heap to the kernel, so that what a close frees
// and an open takes shows.
uint64_t trimmed_rss() {
  malloc_trim(0);
  return process_memory().rss_bytes;
}

StoreOptions store_options(const Config& c, const std::string& strategy) {
  StoreOptions o;
  o.dir = c.dir;
  o.index_block_cache = c.block_cache_mib << 20;
  o.page_tokens = static_cast<uint32_t>(c.prompts.page_tokens);
  o.sync = c.sync == "batch" ? SyncMode::kPerBatch : c.sync == "group" ? SyncMode::kGroupCommit : SyncMode::kNone;
  o.probe = strategy == "binary" ? ProbeStrategy::kBinarySearch : ProbeStrategy::kSeek;
  o.key_window_pages = c.key_window;
  return o;
}

// One token of KV = 2 · (bytes_per_token / 2) one-byte elements.
KvLayout layout_for(size_t bytes_per_token) {
  return KvLayout{1, 1, static_cast<uint32_t>(bytes_per_token / 2), DType::kFP8};
}

void progress(const char* what, size_t done, size_t total) {
  if (!isatty(STDERR_FILENO)) return;
  std::fprintf(stderr, "\r%s %zu/%zu", what, done, total);
  if (done >= total) std::fprintf(stderr, "\r%60s\r", "");
}

// Opens the store and proves it answers with one probe of a stored prompt;
// returns the seconds it took.
double timed_open(const Config& c, const std::string& strategy, PromptSet* set, std::unique_ptr<KvStore>* store,
                  NamespaceId* ns) {
  const auto t0 = Clock::now();
  die(KvStore::open(store_options(c, strategy), store), "open");
  die((*store)->register_namespace("scale", layout_for(c.bytes_per_token), ns), "register_namespace");
  if (set->size() > 0) {
    std::span<const int32_t> p = set->prompt(set->random_prompt());
    size_t cached = 0;
    die((*store)->probe(*ns, p, &cached), "probe after open");
    if (cached != p.size())
      std::fprintf(stderr, "probe after open: %zu of %zu tokens\n", cached, p.size()), std::exit(1);
  }
  return since(t0);
}

// The RSS an open store adds, without the block cache (its open scans the
// index and would fill it): the fence pointers and Bloom filters of the
// index's runs and what else the store keeps in memory per page or subtree.
// Returns the seconds the open took: the first open after the puts, so it
// replays the WAL the close left, as a restart does.
double measure_open_memory(Config c, const std::string& strategy, double pages, PromptSet* set, Result* r) {
  c.block_cache_mib = 0;
  const uint64_t closed_rss = trimmed_rss();
  std::unique_ptr<KvStore> store;
  NamespaceId ns = 0;
  const auto t0 = Clock::now();
  const double open_s = timed_open(c, strategy, set, &store, &ns);
  // Open leaves loading the LRU to a background thread; stats() waits for it.
  StoreStats st;
  die(store->stats(&st), "stats");
  const double loaded_s = since(t0);
  const double held = static_cast<double>(trimmed_rss()) - static_cast<double>(closed_rss);
  std::printf("reopen (first after the puts, %s, no block cache): %.3f s (state loaded after %.3f s); the open "
              "store holds %.1f MiB of RSS = %.1f B/page\n",
              strategy.c_str(), open_s, loaded_s, held / 1048576.0, held / pages);
  r->add("open_rss_bytes_per_page", held / pages);
  r->add("reopen_s", open_s);
  r->add("loaded_s", loaded_s);
  die(store->close(), "close");
  return open_s;
}

void put_phase(const Config& c, KvStore* store, NamespaceId ns, PromptSet* set, Result* r) {
  std::vector<double> ms;
  std::vector<char> kv;
  size_t pages = 0;
  double put_s = 0;
  const auto t0 = Clock::now();
  while (pages < c.pages) {
    size_t new_pages = 0;
    std::span<const int32_t> p = set->add(&new_pages);
    fill_kv(p, c.bytes_per_token, &kv);
    const auto t = Clock::now();
    die(store->put_batch(ns, p, KvBuffer::host(kv.data(), kv.size())), "put_batch");
    ms.push_back(since(t, 1e3));
    put_s += ms.back() / 1e3;
    pages += new_pages;
    if (set->size() % 256 == 0) progress("put", pages, c.pages);
  }
  progress("put", c.pages, c.pages);
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  double slowest = 0;  // the time the slowest 1% of puts took: stalls show here
  for (size_t i = sorted.size() - sorted.size() / 100; i < sorted.size(); i++) slowest += sorted[i] / 1e3;
  std::printf("put: %zu pages in %zu prompts, %.1f s in put_batch (%.1f s wall): %.0f pages/s; "
              "slowest 1%% of puts took %.1f%% of the put time\n",
              pages, set->size(), put_s, since(t0), static_cast<double>(pages) / put_s, 100 * slowest / put_s);
  report_latency("put_batch", "ms", "put", ms, r);
  r->add("pages", static_cast<double>(pages));
  r->add("prompts", static_cast<double>(set->size()));
  r->add("put_pages_per_s", static_cast<double>(pages) / put_s);
  r->add("put_s", put_s);
  r->add("put_slowest1pct_share", slowest / put_s);
}

void probe_phase(const Config& c, const std::string& strategy, KvStore* store, NamespaceId ns, PromptSet* set,
                 Result* r) {
  std::vector<double> full, partial, miss;
  std::vector<int32_t> q;
  const size_t page = c.prompts.page_tokens;
  auto timed_probe = [&](std::span<const int32_t> tokens, size_t want_pages, std::vector<double>* us) {
    size_t cached = 0;
    const auto t = Clock::now();
    die(store->probe(ns, tokens, &cached), "probe");
    us->push_back(since(t, 1e6));
    if (cached != want_pages * page)
      std::fprintf(stderr, "probe: %zu tokens cached, expected %zu\n", cached, want_pages * page), std::exit(1);
  };
  // Interleaved, so that the three kinds see the same cache state.
  for (size_t i = 0; i < c.probes; i++) {
    timed_probe(set->prompt(set->random_prompt()), c.prompts.depth, &full);
    size_t hit_pages = 0;
    set->partial_hit(&q, &hit_pages);
    timed_probe(q, hit_pages, &partial);
    set->miss(&q);
    timed_probe(q, 0, &miss);
    if (i % 256 == 0) progress("probe", i, c.probes);
  }
  progress("probe", c.probes, c.probes);
  std::printf("probe (%s):\n", strategy.c_str());
  report_latency("hit (whole prompt)", "us", strategy + "_probe_full", full, r);
  report_latency("hit (partial)", "us", strategy + "_probe_partial", partial, r);
  report_latency("miss", "us", strategy + "_probe_miss", miss, r);
}

void get_phase(const Config& c, KvStore* store, NamespaceId ns, PromptSet* set, Result* r) {
  std::vector<double> ms;
  std::vector<char> got, want;
  for (size_t i = 0; i < c.gets; i++) {
    std::span<const int32_t> p = set->prompt(set->random_prompt());
    got.resize(p.size() * c.bytes_per_token);
    const auto t = Clock::now();
    die(store->get_batch(ns, p, p.size(), KvBuffer::host(got.data(), got.size())), "get_batch");
    ms.push_back(since(t, 1e3));
    fill_kv(p, c.bytes_per_token, &want);
    if (got != want) std::fprintf(stderr, "get_batch: bytes differ from what was put\n"), std::exit(1);
    if (i % 64 == 0) progress("get", i, c.gets);
  }
  progress("get", c.gets, c.gets);
  std::printf("get_batch of a whole stored prompt (%zu pages, %zu KV bytes):\n", c.prompts.depth,
              c.prompts.depth * c.prompts.page_tokens * c.bytes_per_token);
  report_latency("get_batch", "ms", "get", ms, r);
}

// What the store writes to its stats file at close beyond StoreStats: the
// index's counters (write stalls, flushes, compactions, write amplification).
void print_index_counters(const std::string& dir, Result* r) {
  std::vector<std::pair<std::string, std::string>> kv;
  if (!admin::read_stats_file(dir, &kv).ok()) return;
  std::string line;
  for (const auto& [k, v] : kv) {
    if (k.rfind("index.", 0) != 0) continue;
    line += " " + k + "=" + v;
    if (k == "index.write_stalls" || k == "index.write_amplification" || k == "index.compactions")
      r->add(k.substr(6), v);
  }
  std::printf("  index counters at close:%s\n", line.c_str());
}

// The index's files (runs, WAL, manifest) and the segment files, per page.
void print_disk(const char* when, const std::string& dir, double pages, Result* r, const std::string& suffix) {
  const uint64_t index_bytes = dir_bytes(dir + "/index"), tensor_bytes = dir_bytes(dir + "/tensors");
  std::printf("disk %s: index %.1f MiB = %.1f B/page; segments %.1f MiB = %.1f B/page\n", when,
              index_bytes / 1048576.0, index_bytes / pages, tensor_bytes / 1048576.0, tensor_bytes / pages);
  r->add("index_bytes_per_page" + suffix, index_bytes / pages);
}

void print_memory(const char* when, Result* r, const std::string& key) {
  const ProcessMemory m = process_memory();
  std::printf("memory %s: VmRSS %.1f MiB, VmHWM %.1f MiB\n", when, m.rss_bytes / 1048576.0,
              m.peak_rss_bytes / 1048576.0);
  r->add(key + "_rss_mib", m.rss_bytes / 1048576.0);
}

}  // namespace

void add_flags(CLI::App& app, Config& c) {
  app.add_option("--dir", c.dir, "store directory, must not exist (default: bench-data/scale-<pid>)");
  app.add_flag("--keep", c.keep, "leave the store directory (default: removed at the end)");
  app.add_option("--pages", c.pages, "pages to store")->capture_default_str()->check(CLI::Range(1, 1 << 30));
  app.add_option("--prompt-pages", c.prompts.depth, "pages per prompt (depth)")->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--page-tokens", c.prompts.page_tokens, "tokens per page")->capture_default_str()
      ->check(CLI::Range(1, 512));
  app.add_option("--bytes-per-token", c.bytes_per_token, "KV bytes per token (even)")->capture_default_str()
      ->check(CLI::Range(2, 1 << 20));
  app.add_option("--share", c.prompts.share, "share of prompts that extend an earlier prompt's prefix")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--shared-pages", c.prompts.shared_pages,
                 "pages such a prompt shares (0: uniform in 1..prompt-pages-1)")->capture_default_str();
  app.add_option("--probes", c.probes, "timed probes of each kind (full hit, partial hit, miss) per strategy")
      ->capture_default_str();
  app.add_option("--gets", c.gets, "timed get_batch loads of a whole stored prompt")->capture_default_str();
  app.add_option("--probe-strategy", c.strategy, "seek, binary, or both (each after its own reopen)")
      ->capture_default_str()->check(CLI::IsMember({"seek", "binary", "both"}));
  app.add_option("--sync", c.sync, "none, batch (per put) or group (group commit)")->capture_default_str()
      ->check(CLI::IsMember({"none", "batch", "group"}));
  app.add_option("--block-cache-mib", c.block_cache_mib, "the index's block cache")->capture_default_str();
  app.add_option("--seed", c.prompts.seed, "random seed")->capture_default_str();
  app.add_option("--key-window", c.key_window, "pages per key window (StoreOptions::key_window_pages)")
      ->capture_default_str()->check(CLI::Range(1, 64));
}

// Per probe strategy: a timed reopen, the probes (and, for the first, the
// gets), memory; the store is closed after each.
void reopen_phases(const Config& c, const std::vector<std::string>& strategies, double pages, PromptSet* set,
                   Result* r) {
  std::unique_ptr<KvStore> store;
  NamespaceId ns = 0;
  measure_open_memory(c, strategies[0], pages, set, r);
  for (const std::string& strategy : strategies) {
    const double open_s = timed_open(c, strategy, set, &store, &ns);
    std::printf("reopen (%s, block cache %zu MiB): %.3f s\n", strategy.c_str(), c.block_cache_mib, open_s);
    r->add(strategy + "_reopen_s", open_s);
    // Latencies of a loaded store: the open's background load done first.
    StoreStats loaded;
    die(store->stats(&loaded), "stats");
    probe_phase(c, strategy, store.get(), ns, set, r);
    if (&strategy == &strategies[0]) get_phase(c, store.get(), ns, set, r);
    print_memory(("after the probes (" + strategy + ")").c_str(), r, strategy);
    if (&strategy == &strategies.back()) print_stats(store->stats());
    die(store->close(), "close");
    store.reset();
  }
}

int main(int argc, char** argv) {
  Config c;
  c.prompts.page_tokens = 16;
  CLI::App app{"The store at scale: put rate, probe and get latency, memory, bytes per page, reopen time."};
  add_flags(app, c);
  CLI11_PARSE(app, argc, argv);
  if (c.bytes_per_token % 2 != 0) return std::fprintf(stderr, "--bytes-per-token must be even\n"), 2;
  if (c.prompts.shared_pages >= c.prompts.depth && c.prompts.depth > 1)
    return std::fprintf(stderr, "--shared-pages must be below --prompt-pages\n"), 2;
  if (c.dir.empty()) c.dir = "bench-data/scale-" + std::to_string(::getpid());
  std::error_code ec;
  if (std::filesystem::exists(c.dir, ec))
    return std::fprintf(stderr, "%s exists: remove it or pick another --dir\n", c.dir.c_str()), 2;
  if (auto parent = std::filesystem::path(c.dir).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent, ec);

  if (!c.keep) {
    g_remove_at_exit = c.dir;
    std::atexit([] {
      std::error_code e;
      std::filesystem::remove_all(g_remove_at_exit, e);
    });
  }
  const auto start = Clock::now();
  const std::vector<std::string> strategies =
      c.strategy == "both" ? std::vector<std::string>{"seek", "binary"} : std::vector<std::string>{c.strategy};
  Result r;
  r.add("pages_wanted", static_cast<double>(c.pages));
  r.add("prompt_pages", static_cast<double>(c.prompts.depth));
  r.add("page_tokens", static_cast<double>(c.prompts.page_tokens));
  r.add("bytes_per_token", static_cast<double>(c.bytes_per_token));
  r.add("share", c.prompts.share);
  r.add("sync", c.sync);
  r.add("key_window", static_cast<double>(c.key_window));
  r.add("load_start", load_average());
  std::printf("scale_bench: %s, %zu pages of %zu tokens x %zu B, %zu pages per prompt, share %.2f, sync %s, "
              "load %.2f\n",
              c.dir.c_str(), c.pages, c.prompts.page_tokens, c.bytes_per_token, c.prompts.depth, c.prompts.share,
              c.sync.c_str(), load_average());

  PromptSet set(c.prompts);
  std::unique_ptr<KvStore> store;
  NamespaceId ns = 0;
  timed_open(c, strategies[0], &set, &store, &ns);
  put_phase(c, store.get(), ns, &set, &r);
  const StoreStats st = store->stats();
  print_stats(st);
  print_memory("after the puts", &r, "put");
  r.add("mem_filters_per_page", static_cast<double>(st.memory.index_filters) / static_cast<double>(st.pages_put));
  r.add("mem_fences_per_page", static_cast<double>(st.memory.index_fences) / static_cast<double>(st.pages_put));
  r.add("mem_tensor_tables_per_page", static_cast<double>(st.memory.tensor_tables) / static_cast<double>(st.pages_put));
  r.add("mem_eviction_per_page", static_cast<double>(st.memory.eviction) / static_cast<double>(st.pages_put));
  const auto t_close = Clock::now();
  die(store->close(), "close");
  store.reset();
  std::printf("close: %.2f s\n", since(t_close));
  r.add("close_s", since(t_close));
  print_index_counters(c.dir, &r);

  const double pages = static_cast<double>(st.pages_put);
  print_disk("after the puts", c.dir, pages, &r, "_after_put");

  reopen_phases(c, strategies, pages, &set, &r);
  // The reopens flushed what the WAL held into runs: the steady state.
  print_disk("at the end", c.dir, pages, &r, "");
  r.add("segment_bytes_per_page", st.tensor_file_bytes / pages);
  const ProcessMemory m = process_memory();
  r.add("peak_rss_mib", m.peak_rss_bytes / 1048576.0);
  r.add("load_end", load_average());
  r.add("wall_s", since(start));
  std::printf("wall %.1f s, load %.2f; store %s\n", since(start), load_average(),
              c.keep ? ("left in " + c.dir).c_str() : "removed");
  r.print();
  return 0;
}
