// compaction_bench: how the engine's shape (size ratio T, runs per level K)
// trades writes for reads, measured and predicted side by side.
//
// For each shape it loads N prefix-preserving prompt keys (prompt_keys.h)
// with 24-byte values into a fresh engine, then runs point lookups that hit,
// that miss, and seeks (shape_run.h), and reports write amplification, runs
// probed and blocks read per lookup, the Bloom false-positive rate and ops/s
// next to the cost models' predictions (report.h). A shape "T:K>K2" loads
// half the entries under K and the rest after reshape() to K2.
//
//   compaction_bench --entries 1000000 --csv out.csv --png out.png
//
// Everything it writes under --dir is removed at the end unless --keep.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/compaction/prompt_keys.h"
#include "bench/compaction/report.h"
#include "bench/compaction/shape_run.h"

#ifndef LSM4KV_PLOT_SCRIPT
#define LSM4KV_PLOT_SCRIPT "bench/compaction/plot.gp"
#endif

namespace fs = std::filesystem;
using namespace lsm4kv;
using namespace lsm4kv::bench;

namespace {

const char* kDefaultShapes = "2:1,4:1,4:2,4:3,8:1,8:4,8:7,10:1,10:5,10:9,10:9>1";

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

// gnuplot with `script`, reading csv and writing png.
int plot(const std::string& script, const std::string& csv, const std::string& png) {
  std::string cmd = "gnuplot -e \"csv='" + csv + "'; out='" + png + "'\" '" + script + "'";
  return std::system(cmd.c_str());
}

// Loads and measures each shape in its own directory under dir; 1 when one
// failed or a lookup returned a wrong result.
int run_shapes(const std::vector<ShapeSpec>& specs, const BenchConfig& config, const PromptKeys& keys,
               const std::string& dir, bool keep, std::vector<ShapeResult>* results) {
  std::error_code ec;
  int status = 0;
  for (size_t i = 0; i < specs.size(); i++) {
    std::string shape_dir = (fs::path(dir) / ("shape-" + std::to_string(i))).string();
    fs::remove_all(shape_dir, ec);
    ShapeResult r;
    Status s = run_shape(specs[i], config, keys, shape_dir, keep, &r);
    if (!s.ok()) {
      std::cerr << specs[i].label << ": " << s.to_string() << "\n";
      return 1;
    }
    const Measured& m = r.measured;
    std::fprintf(stderr,
                 "%-12s load %.1fs (%.0f ops/s)  WA %.2f (model %.2f)  runs %s (model %s)  "
                 "hit %.3f miss %.4f seek %.2f blocks\n",
                 r.spec.label.c_str(), m.load_seconds, m.load_ops, m.write_amplification,
                 r.model.write_amplification, runs_per_level_text(m.runs_per_level).c_str(),
                 runs_per_level_text(r.model_tree).c_str(), m.hit_blocks, m.miss_blocks,
                 m.seek_blocks);
    if (m.wrong_results > 0) {
      std::cerr << r.spec.label << ": " << m.wrong_results << " lookups returned wrong results\n";
      status = 1;
    }
    results->push_back(std::move(r));
  }
  return status;
}

// The tables on stdout, and the markdown, CSV and plot files asked for.
int write_outputs(const std::vector<ShapeResult>& results, const std::string& markdown_path,
                  const std::string& csv_path, const std::string& png_path, const std::string& plot_script) {
  int status = 0;
  write_markdown(std::cout, results);
  if (!markdown_path.empty()) {
    std::ofstream md(markdown_path);
    write_markdown(md, results);
  }
  if (!csv_path.empty()) {
    std::ofstream out(csv_path);
    write_csv(out, results);
    if (!out) {
      std::cerr << "cannot write " << csv_path << "\n";
      status = 1;
    }
  }
  if (!png_path.empty() && !results.empty() && plot(plot_script, csv_path, png_path) != 0) {
    std::cerr << "gnuplot failed (is gnuplot-nox installed?)\n";
    status = 1;
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Compaction policies of the lsm4kv engine: measured vs the cost model"};
  BenchConfig config;
  std::string shapes_text = kDefaultShapes;
  std::string dir = "bench-data/compaction";
  std::string csv_path, png_path, markdown_path, plot_script = LSM4KV_PLOT_SCRIPT;
  std::string allocation = "monkey";
  bool keep = false;
  app.add_option("--entries,-n", config.entries, "entries to load per shape")
      ->capture_default_str();
  app.add_option("--lookups", config.lookups, "lookups of each kind (hit, miss, seek)")
      ->capture_default_str();
  app.add_option("--shapes", shapes_text, "comma-separated T:K or T:K>K2 (reshape half-way)")
      ->capture_default_str();
  app.add_option("--dir", dir, "working directory (created; what is written is removed)")
      ->capture_default_str();
  app.add_flag("--keep", keep, "keep the DB directories");
  app.add_option("--write-buffer", config.write_buffer_bytes, "memtable bytes M")
      ->capture_default_str();
  app.add_option("--bloom-bits", config.bloom_bits_per_key, "Bloom bits per key (average)")
      ->capture_default_str();
  app.add_option("--bloom-allocation", allocation, "monkey or uniform")
      ->check(CLI::IsMember({"monkey", "uniform"}))->capture_default_str();
  app.add_option("--block-cache", config.block_cache_bytes, "block cache bytes")
      ->capture_default_str();
  app.add_option("--value-bytes", config.value_bytes, "bytes per value")->capture_default_str();
  app.add_flag("--background", config.background_compaction,
               "let compactions overlap writes (default: wait for them after each flush)");
  app.add_flag("--warm-gets", config.warm_gets, "time the hit lookups a second time, warm");
  app.add_option("--seed", config.seed, "random seed")->capture_default_str();
  app.add_flag("--verbose,-v", config.verbose, "print every run, measured and modelled");
  app.add_option("--csv", csv_path, "write one CSV row per shape here");
  app.add_option("--png", png_path, "plot with gnuplot into this PNG (needs --csv)");
  app.add_option("--markdown", markdown_path, "also write the tables here");
  app.add_option("--plot-script", plot_script, "gnuplot script")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  config.bloom_allocation = allocation == "uniform" ? engine::BloomAllocation::kUniform
                                                    : engine::BloomAllocation::kMonkey;
  if (!png_path.empty() && csv_path.empty()) {
    std::cerr << "--png needs --csv\n";
    return 2;
  }

  std::vector<ShapeSpec> specs;
  for (const std::string& text : split(shapes_text, ',')) {
    ShapeSpec spec;
    Status s = parse_shape(text, &spec);
    if (!s.ok()) {
      std::cerr << s.to_string() << "\n";
      return 2;
    }
    specs.push_back(spec);
  }

  std::error_code ec;
  bool created_dir = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << "cannot create " << dir << ": " << ec.message() << "\n";
    return 1;
  }

  PromptKeyOptions key_options;
  key_options.seed = config.seed;
  PromptKeys keys(config.entries, key_options);
  std::cerr << "keys: " << keys.size() << " entries, mean key " << keys.mean_key_bytes()
            << " bytes, values " << config.value_bytes << " bytes\n";

  std::vector<ShapeResult> results;
  int status = run_shapes(specs, config, keys, dir, keep, &results);
  if (!keep) {
    if (created_dir) fs::remove_all(dir, ec);
  }

  if (write_outputs(results, markdown_path, csv_path, png_path, plot_script) != 0) status = 1;
  return status;
}
