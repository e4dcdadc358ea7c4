// trace_replay: replays a Mooncake-format trace (bench/trace/trace_reader.h)
// against an lsm4kv store and against a file-per-page baseline
// (bench/trace/file_per_page.h), one after the other, each in its own empty
// directory, and prints one markdown table.
//
// Every request does what a serving engine does with a disk tier: probe the
// longest cached prefix, load it (checked byte for byte against what was
// stored), then store the KV of the whole prompt (pages already stored are
// skipped). Each trace block is 512 tokens derived from its hash id, so
// equal hash ids give equal tokens and a prompt is the concatenation of its
// blocks (the last, partial block of a prompt is taken whole). A token's KV
// bytes are derived from the prefix up to its block, so equal prefixes give
// equal KV and every get can be verified.
#include <CLI/CLI.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/checksum.h"
#include "bench/bench_util.h"
#include "bench/trace/file_per_page.h"
#include "bench/trace/trace_reader.h"
#include "kvcache_api/kv_store.h"

using namespace lsm4kv;
using namespace lsm4kv::bench;
using lsm4kv::kvcache::Token;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The tokens of a request: 512 per block, token i of block `id` a function of (id, i).
void request_tokens(const TraceRequest& r, std::vector<Token>* out) {
  out->resize(r.hash_ids.size() * kTraceBlockTokens);
  for (size_t b = 0; b < r.hash_ids.size(); b++) {
    for (size_t i = 0; i < kTraceBlockTokens; i++) {
      (*out)[b * kTraceBlockTokens + i] =
          static_cast<Token>(splitmix64(r.hash_ids[b] * kTraceBlockTokens + i) % 128000);
    }
  }
}

// Page-major KV for tokens (a whole number of blocks): every token of block b
// gets words derived from a chained hash of blocks 0..b and its position.
void fill_kv(const std::vector<Token>& tokens, size_t bpt, std::vector<char>* out) {
  out->resize(tokens.size() * bpt);
  uint64_t h = 0;
  for (size_t t = 0; t < tokens.size(); t++) {
    if (t % kTraceBlockTokens == 0) {
      h = checksum64_with_seed(tokens.data() + t, kTraceBlockTokens * sizeof(Token), h);
    }
    uint64_t seed = h ^ ((t % kTraceBlockTokens + 1) * 0x9E3779B97F4A7C15ull);
    uint64_t* p = reinterpret_cast<uint64_t*>(out->data() + t * bpt);
    for (size_t i = 0; i < bpt / 8; i++) p[i] = seed + i * 0xD1B54A32D192ED03ull;
  }
}

// What a backend does for one request; sizes in tokens and bytes.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Status probe(const std::vector<Token>& tokens, const std::vector<uint64_t>& keys, size_t* cached) = 0;
  virtual Status get(const std::vector<Token>& tokens, const std::vector<uint64_t>& keys, size_t n, char* dst) = 0;
  // *written: KV bytes this put wrote (pages not stored before).
  virtual Status put(const std::vector<Token>& tokens, const std::vector<uint64_t>& keys, size_t cached,
                     const std::vector<char>& kv, uint64_t* written) = 0;
  virtual Status close() = 0;
  virtual std::string summary() = 0;  // one line: evictions and the like
};

class StoreBackend : public Backend {
 public:
  static Status open(const kvcache::StoreOptions& opt, size_t bpt, std::unique_ptr<Backend>* out) {
    auto b = std::make_unique<StoreBackend>();
    b->bpt_ = bpt;
    b->page_tokens_ = opt.page_tokens;
    LSM4KV_RETURN_IF_ERROR(kvcache::KvStore::open(opt, &b->store_));
    // bf16, one layer, one KV head: 2 · head_dim · 2 bytes per token.
    kvcache::KvLayout layout{1, 1, static_cast<uint32_t>(bpt / 4), kvcache::DType::kBF16};
    LSM4KV_RETURN_IF_ERROR(b->store_->register_namespace("trace-model", layout, &b->ns_));
    *out = std::move(b);
    return Status::OK();
  }
  Status probe(const std::vector<Token>& tokens, const std::vector<uint64_t>&, size_t* cached) override {
    return store_->probe(ns_, tokens, cached);
  }
  Status get(const std::vector<Token>& tokens, const std::vector<uint64_t>&, size_t n, char* dst) override {
    return store_->get_batch(ns_, tokens, n, kvcache::KvBuffer::host(dst, n * bpt_));
  }
  Status put(const std::vector<Token>& tokens, const std::vector<uint64_t>&, size_t cached,
             const std::vector<char>& kv, uint64_t* written) override {
    // The key set is prefix-closed: the pages past the probed prefix are the new ones.
    *written = (tokens.size() / page_tokens_ * page_tokens_ - cached) * bpt_;
    return store_->put_batch(ns_, tokens, kvcache::KvBuffer::host(kv.data(), kv.size()));
  }
  Status close() override {
    st_ = store_->stats();
    return store_->close();
  }
  std::string summary() override {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "store: put %.1f MiB, %llu evictions (%llu pages), GC copied %.1f MiB (%.2f per MiB put), %llu "
                  "segments (%.1f MiB live, %.1f MiB dead at the end), index T=%d K=%d, "
                  "%llu puts made room themselves (%.1f ms), %llu background rounds, %llu pages readmitted",
                  static_cast<double>(st_.bytes_put) / (1 << 20), static_cast<unsigned long long>(st_.evictions),
                  static_cast<unsigned long long>(st_.pages_evicted), static_cast<double>(st_.gc_bytes_copied) / (1 << 20),
                  st_.bytes_put == 0 ? 0.0 : static_cast<double>(st_.gc_bytes_copied) / static_cast<double>(st_.bytes_put),
                  static_cast<unsigned long long>(st_.tensor_segments),
                  static_cast<double>(st_.tensor_live_bytes) / (1 << 20),
                  static_cast<double>(st_.tensor_dead_bytes) / (1 << 20), st_.index_shape.size_ratio,
                  st_.index_shape.runs_at(1), static_cast<unsigned long long>(st_.put_stalls),
                  static_cast<double>(st_.put_stall_micros) / 1000, static_cast<unsigned long long>(st_.maintenance_rounds),
                  static_cast<unsigned long long>(st_.pages_readmitted));
    return buf;
  }

 private:
  std::unique_ptr<kvcache::KvStore> store_;
  kvcache::NamespaceId ns_ = 0;
  size_t bpt_ = 0, page_tokens_ = 0;
  kvcache::StoreStats st_;
};

class FilesBackend : public Backend {
 public:
  static Status open(const FilePerPageCache::Options& opt, size_t bpt, std::unique_ptr<Backend>* out) {
    auto b = std::make_unique<FilesBackend>();
    b->bpt_ = bpt;
    b->page_tokens_ = opt.page_tokens;
    LSM4KV_RETURN_IF_ERROR(FilePerPageCache::open(opt, &b->cache_));
    *out = std::move(b);
    return Status::OK();
  }
  Status probe(const std::vector<Token>&, const std::vector<uint64_t>& keys, size_t* cached) override {
    size_t pages = 0;
    LSM4KV_RETURN_IF_ERROR(cache_->probe(keys, &pages));
    *cached = pages * page_tokens_;
    return Status::OK();
  }
  Status get(const std::vector<Token>&, const std::vector<uint64_t>& keys, size_t n, char* dst) override {
    return cache_->get(keys, n / page_tokens_, dst);
  }
  Status put(const std::vector<Token>&, const std::vector<uint64_t>& keys, size_t, const std::vector<char>& kv,
             uint64_t* written) override {
    size_t pages = 0;
    Status s = cache_->put(keys, kv.data(), &pages);
    *written = pages * page_tokens_ * bpt_;
    bytes_put_ += *written;
    return s;
  }
  Status close() override { return Status::OK(); }
  std::string summary() override {
    char buf[256];
    std::snprintf(buf, sizeof buf, "files: put %.1f MiB, %llu files unlinked, %zu files of %.1f MiB held",
                  static_cast<double>(bytes_put_) / (1 << 20),
                  static_cast<unsigned long long>(cache_->files_unlinked()), cache_->files(),
                  static_cast<double>(cache_->bytes()) / (1 << 20));
    return buf;
  }

 private:
  std::unique_ptr<FilePerPageCache> cache_;
  size_t bpt_ = 0, page_tokens_ = 0;
  uint64_t bytes_put_ = 0;
};

struct Result {
  std::string backend;
  uint64_t hit_tokens = 0, tokens = 0;
  uint64_t lost_after_probe = 0;  // gets that missed what their probe found (evicted in between)
  std::vector<double> probe_us, get_ms, put_ms;
  std::vector<uint64_t> put_pages;  // pages each put of put_ms wrote
  double get_s = 0, put_s = 0, wall_s = 0;
  uint64_t get_bytes = 0, put_bytes = 0;
  uint64_t files = 0, disk_bytes = 0;
  std::string summary;
};

// Regular files under dir and their allocated bytes (what du counts).
Status disk_usage(const std::string& dir, uint64_t* files, uint64_t* bytes) {
  *files = *bytes = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0) return Status::from_errno(errno, it->path().string());
    if (S_ISREG(st.st_mode)) {
      (*files)++;
      *bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }
  if (ec) return Status::io_error(dir + ": " + ec.message());
  return Status::OK();
}

Status replay(const std::vector<TraceRequest>& trace, Backend* b, size_t bpt, size_t page_tokens, Result* res) {
  std::vector<Token> tokens;
  std::vector<char> kv, got;
  const auto t_start = Clock::now();
  for (size_t r = 0; r < trace.size(); r++) {
    request_tokens(trace[r], &tokens);
    std::vector<uint64_t> keys = FilePerPageCache::chunk_keys(tokens, page_tokens);
    fill_kv(tokens, bpt, &kv);

    size_t cached = 0;
    auto t0 = Clock::now();
    Status s = b->probe(tokens, keys, &cached);
    res->probe_us.push_back(seconds_since(t0) * 1e6);
    if (!s.ok()) return Status::io_error("request " + std::to_string(r) + ": probe: " + s.to_string());
    if (cached > 0) {
      got.resize(cached * bpt);
      t0 = Clock::now();
      s = b->get(tokens, keys, cached, got.data());
      double dt = seconds_since(t0);
      // Evicted in the background since the probe: a miss, not an error.
      if (s.is_not_found()) {
        res->lost_after_probe++;
        cached = 0;
        got.clear();
        s = Status::OK();
      }
      if (!s.ok()) return Status::io_error("request " + std::to_string(r) + ": get: " + s.to_string());
      if (std::memcmp(got.data(), kv.data(), got.size()) != 0) {
        return Status::corruption("request " + std::to_string(r) + ": get returned bytes that differ from those stored");
      }
      res->get_ms.push_back(dt * 1e3);
      res->get_s += dt;
      res->get_bytes += got.size();
    }
    uint64_t written = 0;
    t0 = Clock::now();
    s = b->put(tokens, keys, cached, kv, &written);
    double dt = seconds_since(t0);
    if (!s.ok()) return Status::io_error("request " + std::to_string(r) + ": put: " + s.to_string());
    res->put_s += dt;
    res->put_bytes += written;
    if (written > 0) {
      res->put_ms.push_back(dt * 1e3);
      res->put_pages.push_back(written / (page_tokens * bpt));
    }
    res->hit_tokens += cached;
    res->tokens += tokens.size();
    if ((r + 1) % 500 == 0 || r + 1 == trace.size()) {
      std::fprintf(stderr, "[%s] %zu/%zu requests, %.1f s\n", res->backend.c_str(), r + 1, trace.size(),
                   seconds_since(t_start));
    }
  }
  LSM4KV_RETURN_IF_ERROR(b->close());
  res->wall_s = seconds_since(t_start);
  res->summary = b->summary();
  if (res->lost_after_probe > 0)
    res->summary += "; " + std::to_string(res->lost_after_probe) + " gets missed what their probe found (counted as misses)";
  return Status::OK();
}

// The hit rate with unbounded capacity: the share of block references whose
// whole prefix appeared before.
double ideal_hit_rate(const std::vector<TraceRequest>& trace) {
  std::unordered_set<uint64_t> seen;
  uint64_t hits = 0, refs = 0;
  for (const auto& r : trace) {
    uint64_t h = 0;
    for (uint64_t id : r.hash_ids) {
      h = splitmix64(h ^ splitmix64(id));
      refs++;
      if (!seen.insert(h).second) hits++;
    }
  }
  return refs == 0 ? 0 : static_cast<double>(hits) / static_cast<double>(refs);
}

// A put's time follows its size, and a store that misses more writes bigger
// puts: the put p99 of runs that hit differently is compared class by class.
void print_puts_by_size(const std::vector<Result>& results) {
  constexpr uint64_t kUpTo[] = {1, 4, 16, 64, UINT64_MAX};  // pages written, classes (previous, this]
  std::printf("\n| backend | put p99 ms (puts) by pages written: 1 | 2-4 | 5-16 | 17-64 | 65+ |\n"
              "|---|---|---|---|---|---|\n");
  for (const auto& r : results) {
    std::printf("| %s |", r.backend.c_str());
    uint64_t from = 0;
    for (uint64_t to : kUpTo) {
      std::vector<double> ms;
      for (size_t i = 0; i < r.put_ms.size(); i++)
        if (r.put_pages[i] > from && r.put_pages[i] <= to) ms.push_back(r.put_ms[i]);
      std::printf(" %.2f (%zu) |", percentile(ms, 0.99), ms.size());  // 0 for an empty class
      from = to;
    }
    std::printf("\n");
  }
}

void print_table(const std::vector<Result>& results) {
  std::printf("| backend | hit rate (tokens) | probe p50 / p99 us | get GB/s | get p50 / p99 ms | put GB/s | "
              "put p50 / p99 ms | wall s | files on disk | MiB on disk |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : results) {
    std::printf("| %s | %.3f | %.1f / %.1f | %.2f | %.2f / %.2f | %.2f | %.2f / %.2f | %.1f | %llu | %.1f |\n",
                r.backend.c_str(), static_cast<double>(r.hit_tokens) / static_cast<double>(std::max<uint64_t>(r.tokens, 1)),
                percentile(r.probe_us, 0.5), percentile(r.probe_us, 0.99),
                r.get_s > 0 ? static_cast<double>(r.get_bytes) / r.get_s / 1e9 : 0.0, percentile(r.get_ms, 0.5),
                percentile(r.get_ms, 0.99), r.put_s > 0 ? static_cast<double>(r.put_bytes) / r.put_s / 1e9 : 0.0,
                percentile(r.put_ms, 0.5), percentile(r.put_ms, 0.99), r.wall_s,
                static_cast<unsigned long long>(r.files), static_cast<double>(r.disk_bytes) / (1 << 20));
  }
  print_puts_by_size(results);
  for (const auto& r : results) {
    std::printf("\n- %s; got %.1f MiB in %zu gets, put %.1f MiB in %zu puts that wrote pages", r.summary.c_str(),
                static_cast<double>(r.get_bytes) / (1 << 20), r.get_ms.size(),
                static_cast<double>(r.put_bytes) / (1 << 20), r.put_ms.size());
  }
  std::printf("\n");
}

struct Flags {
  std::string trace_path = "../shared/data/mooncake_synthetic_trace.jsonl";
  std::string dir = "bench-data/trace";
  std::string backend = "both", sync = "durable";
  size_t requests = 0, bytes_per_token = 64;
  uint32_t page_tokens = 512;
  uint64_t capacity_mib = 0, segment_mib = 0;
  double gc_headroom = kvcache::StoreOptions{}.gc_headroom;
  double maintenance_room = kvcache::StoreOptions{}.maintenance_room;
  std::string eviction = "region";
  uint32_t keep_reads = kvcache::StoreOptions{}.region_keep_reads;
  double small_share = kvcache::StoreOptions{}.region_small_share;
  uint32_t main_keep_reads = kvcache::StoreOptions{}.region_main_keep_reads;
  bool keep = false, files_cold = false;
  std::string put_log;
};

void add_flags(CLI::App& app, Flags* f) {
  app.add_option("--trace", f->trace_path, "trace file (JSON lines), relative to the working directory");
  app.add_option("--requests", f->requests, "replay only the first N requests (0 = all)");
  app.add_option("--bytes-per-token", f->bytes_per_token, "KV bytes per token (a multiple of 8)")
      ->check(CLI::Range(8, 1 << 22));
  app.add_option("--page-tokens", f->page_tokens, "tokens per page (store page and baseline file)")
      ->check(CLI::Range(1, 512));
  app.add_option("--capacity-mib", f->capacity_mib, "capacity of each backend in MiB (0 = unbounded)");
  app.add_option("--segment-mib", f->segment_mib, "store: tensor-log segment size in MiB (0 = by the capacity: kv_store.h)")->check(CLI::Range(0, 4096));
  app.add_option("--gc-headroom", f->gc_headroom, "store: share of the capacity kept free of live data for GC")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--maintenance-room", f->maintenance_room,
                 "store: share of the capacity background eviction and GC keep ahead of puts (0 = off: puts make room)")
      ->check(CLI::Range(0.0, 0.5));
  app.add_option("--eviction", f->eviction,
                 "store: region (the oldest segment goes; pages read since written are kept) or lru (subtrees, "
                 "with GC headroom)")
      ->check(CLI::IsMember({"region", "lru"}));
  app.add_option("--keep-reads", f->keep_reads,
                 "store, region eviction: copy forward pages read at least this often since written (0 = none)")
      ->check(CLI::Range(0, 3));
  app.add_option("--small-share", f->small_share,
                 "store, region eviction: share of the capacity for new pages' first pass (two FIFOs; 0 = one FIFO)")
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--main-keep-reads", f->main_keep_reads,
                 "store, region eviction with two FIFOs: the main FIFO copies forward pages read this often")
      ->check(CLI::Range(1, 3));
  app.add_option("--backend", f->backend, "store, files or both")->check(CLI::IsMember({"store", "files", "both"}));
  app.add_option("--sync", f->sync,
                 "durable: store syncs each put (SyncMode::kPerBatch), files fsync each file; none: neither syncs")
      ->check(CLI::IsMember({"durable", "none"}));
  app.add_flag("--files-cold", f->files_cold,
               "files: drop each file from the page cache after writing it (with --sync durable), so its gets "
               "read the disk as the store's O_DIRECT reads do");
  app.add_option("--dir", f->dir, "working directory (one subdirectory per backend)");
  app.add_flag("--keep", f->keep, "leave --dir in place afterwards");
  app.add_option("--put-log", f->put_log,
                 "write each put's pages and milliseconds to this file, one 'backend pages ms' line a put "
                 "(for bench/trace/put_mix.py)");
}

// One line per put that wrote pages: what put_mix.py compares across runs.
Status write_put_log(const std::string& path, const std::vector<Result>& results) {
  FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) return Status::from_errno(errno, path);
  for (const auto& r : results)
    for (size_t i = 0; i < r.put_ms.size(); i++)
      std::fprintf(out, "%s %llu %.4f\n", r.backend.c_str(), static_cast<unsigned long long>(r.put_pages[i]),
                   r.put_ms[i]);
  if (std::ferror(out) != 0) {
    std::fclose(out);
    return Status::io_error(path + ": write failed");
  }
  if (std::fclose(out) != 0) return Status::from_errno(errno, path);
  return Status::OK();
}

void print_header(const Flags& f, const std::vector<TraceRequest>& trace) {
  uint64_t refs = 0;
  for (const auto& r : trace) refs += r.hash_ids.size();
  std::printf("trace %s: %zu requests, %llu block references (%.2f GiB of KV referenced at %zu B/token); "
              "hit-rate bound with unbounded capacity %.3f\n",
              f.trace_path.c_str(), trace.size(), static_cast<unsigned long long>(refs),
              static_cast<double>(refs * kTraceBlockTokens * f.bytes_per_token) / (1 << 30), f.bytes_per_token,
              ideal_hit_rate(trace));
  std::printf("page %u tokens (%.1f KiB), capacity %s, sync %s%s, store segments %llu MiB, eviction %s (keep reads %u, "
              "small share %.2f, main keep reads %u), gc headroom %.2f, maintenance room %.2f\n\n",
              f.page_tokens, static_cast<double>(f.page_tokens * f.bytes_per_token) / 1024,
              f.capacity_mib == 0 ? "unbounded" : (std::to_string(f.capacity_mib) + " MiB").c_str(), f.sync.c_str(),
              f.files_cold ? ", files dropped from the page cache after writing" : "",
              static_cast<unsigned long long>(f.segment_mib), f.eviction.c_str(), f.keep_reads, f.small_share,
              f.main_keep_reads, f.gc_headroom, f.maintenance_room);
  std::fflush(stdout);
}

Status open_backend(const Flags& f, const std::string& name, const std::string& sub, std::unique_ptr<Backend>* b) {
  if (name == "store") {
    kvcache::StoreOptions opt;
    opt.dir = sub;
    opt.page_tokens = f.page_tokens;
    opt.capacity_bytes = f.capacity_mib << 20;
    opt.segment_bytes = f.segment_mib << 20;
    opt.gc_headroom = f.gc_headroom;
    opt.maintenance_room = f.maintenance_room;
    opt.region_keep_reads = f.keep_reads;
    opt.region_small_share = f.small_share;
    opt.region_main_keep_reads = f.main_keep_reads;
    opt.eviction = f.eviction == "lru" ? kvcache::EvictionPolicy::kSubtreeLru : kvcache::EvictionPolicy::kRegion;
    opt.sync = f.sync == "durable" ? kvcache::SyncMode::kPerBatch : kvcache::SyncMode::kNone;
    return StoreBackend::open(opt, f.bytes_per_token, b);
  }
  FilePerPageCache::Options opt;
  opt.dir = sub;
  opt.page_tokens = f.page_tokens;
  opt.page_bytes = f.page_tokens * f.bytes_per_token;
  opt.capacity_bytes = f.capacity_mib << 20;
  opt.sync = f.sync == "durable";
  opt.drop_cache = f.files_cold;
  return FilesBackend::open(opt, f.bytes_per_token, b);
}

// The whole trace against one backend, in a fresh subdirectory of --dir.
Status run_backend(const Flags& f, const std::vector<TraceRequest>& trace, const std::string& name, Result* res) {
  const std::string sub = f.dir + "/" + name;
  std::error_code ec;
  std::filesystem::remove_all(sub, ec);
  if (!ec) std::filesystem::create_directories(f.dir, ec);
  if (ec) return Status::io_error("cannot prepare " + sub + ": " + ec.message());
  std::unique_ptr<Backend> b;
  Status s = open_backend(f, name, sub, &b);
  res->backend = name;
  if (s.ok()) s = replay(trace, b.get(), f.bytes_per_token, f.page_tokens, res);
  b.reset();
  if (s.ok()) s = disk_usage(sub, &res->files, &res->disk_bytes);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Replays a Mooncake trace against an lsm4kv store and a file-per-page baseline."};
  Flags f;
  add_flags(app, &f);
  CLI11_PARSE(app, argc, argv);
  if (f.bytes_per_token % 8 != 0) {
    std::fprintf(stderr, "error: --bytes-per-token must be a multiple of 8\n");
    return 2;
  }
  std::vector<TraceRequest> trace;
  Status s = read_trace(f.trace_path, f.requests, &trace);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
    return 1;
  }
  print_header(f, trace);
  std::vector<Result> results;
  for (const std::string name : {"store", "files"}) {
    if (f.backend != "both" && f.backend != name) continue;
    Result res;
    s = run_backend(f, trace, name, &res);
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", name.c_str(), s.to_string().c_str());
      return 1;
    }
    results.push_back(std::move(res));
  }
  print_table(results);
  int rc = 0;
  if (!f.put_log.empty()) {
    s = write_put_log(f.put_log, results);
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
      rc = 1;  // --dir is still cleaned up
    }
  }
  if (!f.keep) {
    std::error_code ec;
    std::filesystem::remove_all(f.dir, ec);
    if (ec) std::fprintf(stderr, "warning: cannot remove %s: %s\n", f.dir.c_str(), ec.message().c_str());
  } else {
    std::printf("left in %s\n", f.dir.c_str());
  }
  return rc;
}
