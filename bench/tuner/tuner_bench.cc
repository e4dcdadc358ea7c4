// tuner_bench: the adaptive controller (tuner/controller.h) against static
// shapes on SGLang-LSM's phased workload (§4.1): 10 stages whose expected hit
// rates are 0.2, 0.3, 0.5, 0.7, 0.5, 0.3, 0.1, 0.3, 0.5, 0.7, each request a
// probe (seek), a multi-get of the cached pages and a write batch of the
// missing ones (phased_workload.h).
//
// Every configuration — the tuner and each static shape "T:K" (K may be a
// per-level list "T:K1/K2/...") — gets a fresh engine, the same warm-up and
// the same requests. Per stage it reports index bytes written (flush +
// compaction) and read (data blocks by lookups; inputs of compactions), data
// blocks read from disk per lookup, wall time, and the tuner's shape; then
// the tuner against the best static shape, overall and per stage.
//
//   tuner_bench --warmup 400000 --requests 1000 --markdown out.md
//
// Everything it writes under --dir is removed at the end.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/tuner/phased_workload.h"
#include "engine/db.h"
#include "tuner/controller.h"

namespace fs = std::filesystem;
using namespace lsm4kv;
using namespace lsm4kv::bench;

namespace {

const std::vector<double> kHitRates = {0.2, 0.3, 0.5, 0.7, 0.5, 0.3, 0.1, 0.3, 0.5, 0.7};

struct Setup {
  std::string label;
  bool tuner = false;
  engine::Shape shape;  // static shape, or the tuner's starting shape
};

struct Run {
  Setup setup;
  std::vector<StageStats> stages;
  std::vector<engine::Shape> shapes;  // at the end of each stage
  std::vector<tuner::Decision> history;
  StageStats total;
};

std::string shape_text(const engine::Shape& s) {
  std::string t = std::to_string(s.size_ratio) + ":";
  for (size_t i = 0; i < s.runs_per_level.size(); i++)
    t += (i ? "/" : "") + std::to_string(s.runs_per_level[i]);
  return t;
}

bool parse_shape(const std::string& text, engine::Shape* out) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) return false;
  try {
    out->size_ratio = std::stoi(text.substr(0, colon));
    out->runs_per_level.clear();
    std::stringstream ks(text.substr(colon + 1));
    for (std::string k; std::getline(ks, k, '/');) out->runs_per_level.push_back(std::stoi(k));
  } catch (...) {
    return false;
  }
  return out->size_ratio >= 2 && !out->runs_per_level.empty();
}

struct Config {
  uint64_t warmup = 400'000;
  uint64_t requests = 1000;
  size_t write_buffer = 2 << 20;
  size_t block_cache = 8 << 20;
  double bloom_bits = 10;
  size_t window_ops = 4096;
  double change_threshold = 0.1;
  double min_gain = 0.05;
  int min_t = 2, max_t = 16;
  WorkloadConfig workload;
};

Status run_setup(const Setup& setup, const Config& c, const std::string& dir, Run* out) {
  engine::Options o;
  o.write_buffer_size = c.write_buffer;
  o.block_cache_bytes = c.block_cache;
  o.bloom_bits_per_key = c.bloom_bits;
  o.sync_mode = engine::SyncMode::kNone;
  o.shape = setup.shape;
  std::unique_ptr<engine::DB> db;
  LSM4KV_RETURN_IF_ERROR(engine::DB::open(o, dir, &db));
  std::unique_ptr<tuner::Controller> controller;
  if (setup.tuner) {
    tuner::TunerOptions t;
    t.window_ops = c.window_ops;
    t.change_threshold = c.change_threshold;
    t.min_gain = c.min_gain;
    t.search.min_size_ratio = c.min_t;
    t.search.max_size_ratio = c.max_t;
    t.tree.write_buffer_bytes = double(c.write_buffer);
    t.tree.bloom_bits_per_key = c.bloom_bits;
    controller = std::make_unique<tuner::Controller>(db.get(), t);
  }
  out->setup = setup;
  PhasedWorkload w(db.get(), c.workload, controller.get());
  LSM4KV_RETURN_IF_ERROR(w.warm_up(c.warmup));
  for (double h : kHitRates) {
    StageStats s;
    LSM4KV_RETURN_IF_ERROR(w.run_stage(c.requests, h, &s));
    if (s.wrong) return Status::corruption("probe results disagree with the workload");
    out->stages.push_back(s);
    out->shapes.push_back(db->shape());
    StageStats& t = out->total;
    t.requests += s.requests, t.pages_hit += s.pages_hit, t.pages_total += s.pages_total;
    t.entries_written += s.entries_written, t.lookups += s.lookups;
    t.bytes_written += s.bytes_written, t.lookup_bytes_read += s.lookup_bytes_read;
    t.compaction_bytes_read += s.compaction_bytes_read, t.blocks_read += s.blocks_read;
    t.seconds += s.seconds;
  }
  if (controller) out->history = controller->history();
  return db->close();
}

double mb(double bytes) { return bytes / (1 << 20); }

void report(const std::vector<Run>& runs, std::ostream& md) {
  char buf[512];
  // Best static shape overall and per stage (by total index I/O bytes).
  size_t best = SIZE_MAX;
  for (size_t i = 0; i < runs.size(); i++)
    if (!runs[i].setup.tuner &&
        (best == SIZE_MAX || runs[i].total.io_bytes() < runs[best].total.io_bytes()))
      best = i;
  const Run* tuned = nullptr;
  for (const Run& r : runs)
    if (r.setup.tuner) tuned = &r;

  md << "Totals over the 10 stages (I/O = written + read by lookups + read by compactions):\n\n"
     << "| config | written MB | lookup read MB | compaction read MB | I/O MB | blocks/lookup "
        "| wall s | hit rate |\n|---|---|---|---|---|---|---|---|\n";
  for (const Run& r : runs) {
    const StageStats& t = r.total;
    std::snprintf(buf, sizeof buf, "| %s%s | %.1f | %.1f | %.1f | %.1f | %.3f | %.1f | %.3f |\n",
                  r.setup.label.c_str(), &r - &runs[0] == long(best) ? " (best static)" : "",
                  mb(t.bytes_written), mb(t.lookup_bytes_read), mb(t.compaction_bytes_read),
                  mb(t.io_bytes()), t.blocks_per_lookup(), t.seconds,
                  t.pages_hit / t.pages_total);
    md << buf;
  }
  if (!tuned || best == SIZE_MAX) return;

  md << "\nPer stage (I/O MB; best = cheapest static shape in that stage; tuner / best):\n\n"
     << "| stage | hit rate | written / read MB (tuner) | blocks/lookup (tuner) | wall s (tuner) "
        "| tuner shape at end | tuner I/O | best static overall | stage best (shape) | tuner / "
        "stage best |\n|---|---|---|---|---|---|---|---|---|---|\n";
  int within = 0;
  for (size_t s = 0; s < kHitRates.size(); s++) {
    size_t sb = SIZE_MAX;
    for (size_t i = 0; i < runs.size(); i++)
      if (!runs[i].setup.tuner &&
          (sb == SIZE_MAX || runs[i].stages[s].io_bytes() < runs[sb].stages[s].io_bytes()))
        sb = i;
    const StageStats& ts = tuned->stages[s];
    double ratio = ts.io_bytes() / runs[sb].stages[s].io_bytes();
    within += ratio <= 1.10;
    std::snprintf(buf, sizeof buf,
                  "| %zu | %.1f (%.2f) | %.1f / %.1f | %.3f | %.2f | %s | %.1f | %.1f | %.1f (%s) | "
                  "%.3f |\n",
                  s + 1, kHitRates[s], ts.pages_hit / ts.pages_total, mb(ts.bytes_written),
                  mb(ts.lookup_bytes_read + ts.compaction_bytes_read), ts.blocks_per_lookup(),
                  ts.seconds, shape_text(tuned->shapes[s]).c_str(), mb(ts.io_bytes()),
                  mb(runs[best].stages[s].io_bytes()), mb(runs[sb].stages[s].io_bytes()),
                  runs[sb].setup.label.c_str(), ratio);
    md << buf;
  }
  double gain = 1 - tuned->total.io_bytes() / runs[best].total.io_bytes();
  std::snprintf(buf, sizeof buf,
                "\nTuner total I/O %.1f MB vs best static (%s) %.1f MB: %.1f%% %s (goal: >= 5%% "
                "below). Stages within 10%% of that stage's best static: %d of 10 (goal: 10).\n",
                mb(tuned->total.io_bytes()), runs[best].setup.label.c_str(),
                mb(runs[best].total.io_bytes()), std::abs(gain) * 100,
                gain >= 0 ? "below" : "above", within);
  md << buf;
  md << "\nTuner decisions (window mix w/r/z/s, N, old → new shape, predicted gain):\n\n";
  for (const tuner::Decision& d : tuned->history) {
    std::snprintf(buf, sizeof buf, "- ops %.0f: mix %.2f/%.2f/%.2f/%.2f, N %.0f, %s → %s, %.1f%% %s\n",
                  d.operations, d.mix.writes, d.mix.point_hits, d.mix.point_misses, d.mix.seeks,
                  d.entries, shape_text(d.old_shape).c_str(), shape_text(d.new_shape).c_str(),
                  d.predicted_gain * 100, tuner::outcome_name(d.outcome));
    md << buf;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The tuner on SGLang-LSM's phased workload, against static shapes"};
  Config c;
  std::string shapes = "10:1,10:9,4:1,4:3,6:1,6:5,8:1,8:4,8:7,10:5,10:9/1";
  std::string dir = "bench-data/tuner", markdown;
  std::string probe = "seek";
  bool no_tuner = false;
  app.add_option("--warmup", c.warmup, "entries stored before the stages")->capture_default_str();
  app.add_option("--requests", c.requests, "requests per stage")->capture_default_str();
  app.add_option("--pages", c.workload.pages, "pages per prompt (one key each)")
      ->capture_default_str();
  app.add_option("--value-bytes", c.workload.value_bytes, "bytes per value")->capture_default_str();
  app.add_option("--probe", probe, "seek (the store's) or binary (paper: point lookups)")
      ->check(CLI::IsMember({"seek", "binary"}))->capture_default_str();
  app.add_option("--shapes", shapes, "static shapes T:K or T:K1/K2/..., comma-separated")
      ->capture_default_str();
  app.add_flag("--no-tuner", no_tuner, "static shapes only");
  app.add_option("--write-buffer", c.write_buffer, "memtable bytes M")->capture_default_str();
  app.add_option("--block-cache", c.block_cache, "block cache bytes")->capture_default_str();
  app.add_option("--bloom-bits", c.bloom_bits, "Bloom bits per key")->capture_default_str();
  app.add_option("--window", c.window_ops, "tuner window, operations")->capture_default_str();
  app.add_option("--change-threshold", c.change_threshold, "tuner change detector")
      ->capture_default_str();
  app.add_option("--min-gain", c.min_gain, "tuner hysteresis")->capture_default_str();
  app.add_option("--min-t", c.min_t, "tuner: smallest T")->capture_default_str();
  app.add_option("--max-t", c.max_t, "tuner: largest T")->capture_default_str();
  app.add_option("--seed", c.workload.seed, "random seed")->capture_default_str();
  app.add_option("--dir", dir, "working directory (removed at the end)")->capture_default_str();
  app.add_option("--markdown", markdown, "also write the tables here");
  CLI11_PARSE(app, argc, argv);
  c.workload.probe = probe == "binary" ? ProbeMode::kBinarySearch : ProbeMode::kSeek;

  std::vector<Setup> setups;
  if (!no_tuner) setups.push_back({"tuner", true, {10, {1}}});
  std::stringstream list(shapes);
  for (std::string t; std::getline(list, t, ',');) {
    Setup s{"static " + t, false, {}};
    if (!parse_shape(t, &s.shape)) {
      std::cerr << "bad shape: " << t << "\n";
      return 2;
    }
    setups.push_back(s);
  }

  std::error_code ec;
  fs::remove_all(dir, ec);
  std::vector<Run> runs;
  int rc = 0;
  for (size_t i = 0; i < setups.size(); i++) {
    Run r;
    std::string d = (fs::path(dir) / ("run-" + std::to_string(i))).string();
    fs::create_directories(d, ec);
    Status s = run_setup(setups[i], c, d, &r);
    fs::remove_all(d, ec);
    if (!s.ok()) {
      std::cerr << setups[i].label << ": " << s.to_string() << "\n";
      rc = 1;
      break;
    }
    std::fprintf(stderr, "%-18s I/O %8.1f MB  written %7.1f  read %7.1f+%.1f  %.1fs\n",
                 r.setup.label.c_str(), mb(r.total.io_bytes()), mb(r.total.bytes_written),
                 mb(r.total.lookup_bytes_read), mb(r.total.compaction_bytes_read),
                 r.total.seconds);
    runs.push_back(std::move(r));
  }
  fs::remove_all(dir, ec);
  std::ostringstream md;
  report(runs, md);
  std::cout << md.str();
  if (!markdown.empty()) std::ofstream(markdown) << md.str();
  return rc;
}
