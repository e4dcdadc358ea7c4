// peers_bench: the same request streams (the Mooncake trace, the paper's 10
// stages) against lsm4kv, RocksDB with integrated BlobDB, file-per-page
// (SGLang HiCacheFile) and the raw disk (io_uring O_DIRECT), each in its own
// directory under --dir with the same capacity, one after the other; prints
// a markdown table per workload (bench/RESULTS.md, "Peers (issue 15)").
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>

#include "bench/bench_util.h"
#include "bench/peers/disk_usage.h"
#include "bench/peers/report.h"
#include "bench/peers/runner.h"
#include "bench/peers/workloads.h"

using namespace lsm4kv;
using namespace lsm4kv::bench::peers;

namespace {

const std::map<std::string, Opener>& openers() {
  static const std::map<std::string, Opener> m = {
      {"lsm4kv", open_lsm4kv}, {"rocksdb", open_rocksdb}, {"file", open_file_per_page}, {"raw", open_raw}};
  return m;
}

void run_workload(const std::string& title, const std::vector<Request>& stream, const BackendOptions& base,
                  const std::vector<std::string>& backends) {
  std::vector<RunResult> rows;
  for (const std::string& name : backends) {
    BackendOptions o = base;
    o.dir = base.dir + "/" + name;
    RunResult r;
    lsm4kv::bench::die(run_stream(openers().at(name), o, stream, &r), name.c_str());
    rows.push_back(std::move(r));
  }
  print_table(title, rows);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lsm4kv against RocksDB-BlobDB, file-per-page and the raw disk, on the same request streams."};
  std::string dir = "bench-data/peers", trace = "../shared/data/mooncake_synthetic_trace.jsonl";
  std::string page = "2M";
  std::vector<std::string> workloads = {"trace", "stages"}, backends = {"lsm4kv", "rocksdb", "file", "raw"};
  size_t trace_requests = 200, max_pages = 16, prompt_pages = 16, stage_requests = 8, warmup_pages = 128;
  uint64_t capacity_mib = 1024, segment_mib = 0, seed = 1;
  app.add_option("--dir", dir, "parent of the backends' directories (each removed after its run)");
  app.add_option("--trace", trace, "Mooncake-format trace (bench/trace/trace_reader.h)");
  app.add_option("--page", page, "page size")->check(CLI::IsMember({"256K", "2M", "8M"}));
  app.add_option("--workloads", workloads, "trace and/or stages")->check(CLI::IsMember({"trace", "stages"}));
  app.add_option("--backends", backends, "any of lsm4kv rocksdb file raw (raw last: the ratios refer to it)")
      ->check(CLI::IsMember({"lsm4kv", "rocksdb", "file", "raw"}));
  app.add_option("--trace-requests", trace_requests, "trace requests replayed (0 = all)");
  app.add_option("--max-pages", max_pages, "trace: pages (512-token blocks) per request at most")->check(CLI::Range(1, 4096));
  app.add_option("--prompt-pages", prompt_pages, "stages: pages per prompt")->check(CLI::Range(1, 4096));
  app.add_option("--stage-requests", stage_requests, "stages: requests per stage")->check(CLI::Range(1, 1 << 20));
  app.add_option("--warmup-pages", warmup_pages, "stages: pages stored before the stages");
  app.add_option("--capacity-mib", capacity_mib, "bytes on disk each backend may hold, MiB")->check(CLI::Range(1, 1 << 24));
  app.add_option("--segment-mib", segment_mib, "lsm4kv tensor-log segment size, MiB (0 = its default)");
  app.add_option("--seed", seed, "stages: random seed");
  CLI11_PARSE(app, argc, argv);

  BackendOptions base;
  base.dir = dir;
  base.page_bytes = page == "256K" ? size_t{256} << 10 : page == "2M" ? size_t{2} << 20 : size_t{8} << 20;
  base.capacity_bytes = capacity_mib << 20;
  base.segment_bytes = segment_mib << 20;
  std::printf("peers_bench: pages of %s, capacity %llu MiB, load %.2f, dir %s\n", page.c_str(),
              static_cast<unsigned long long>(capacity_mib), lsm4kv::bench::load_average(), dir.c_str());
  for (const std::string& w : workloads) {
    std::vector<Request> stream;
    std::string title;
    if (w == "trace") {
      lsm4kv::bench::die(trace_workload(trace, trace_requests, max_pages, &stream), "trace");
      title = "Mooncake trace, " + std::to_string(stream.size()) + " requests of at most " +
              std::to_string(max_pages) + " pages of " + page;
    } else {
      stream = stage_workload(prompt_pages, stage_requests, warmup_pages, seed);
      title = "10 stages, " + std::to_string(stage_requests) + " requests per stage of " +
              std::to_string(prompt_pages) + " pages of " + page + ", warm-up " + std::to_string(warmup_pages) +
              " pages";
    }
    run_workload(title, stream, base, backends);
  }
  remove_dir(dir);
  return 0;
}
