// One measurement of the compaction-policy benchmark: load N prompt keys
// into a fresh engine under one shape (T, K), then time point lookups that
// hit, that miss, and seeks, reading what each cost from the engine's
// counters (engine/db.h, Properties). Next to it, what the cost models
// (tuner/policy_model.h for the engine's exact policy, tuner/cost_model.h
// for the literature's closed form) predict for the same shape and sizes.
//
// The models are given the sizes the engine actually produced — bytes per
// entry in a run, entries per memtable flush, user bytes per put — since
// those depend on the key encoding, not on the merge policy being tested.
//
// Thread-safety: not thread-safe; one shape runs at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "bench/compaction/prompt_keys.h"
#include "engine/options.h"
#include "tuner/cost_model.h"
#include "tuner/policy_model.h"

namespace lsm4kv::bench {

// A shape to measure: "T:K" (e.g. "10:1"), or "T:K>K2" to load half the
// entries under K and the rest after reshape() to K2 (e.g. "10:9>1").
struct ShapeSpec {
  std::string label;
  engine::Shape shape;
  std::optional<engine::Shape> reshape_to;
  const engine::Shape& final_shape() const { return reshape_to ? *reshape_to : shape; }
};
Status parse_shape(const std::string& text, ShapeSpec* out);

struct BenchConfig {
  uint64_t entries = 10'000'000;
  uint64_t lookups = 200'000;       // of each kind: hit, miss, seek
  size_t value_bytes = 24;
  size_t write_buffer_bytes = 8 << 20;
  double bloom_bits_per_key = 10;
  engine::BloomAllocation bloom_allocation = engine::BloomAllocation::kMonkey;
  size_t block_cache_bytes = 64 << 20;
  // Compactions run on the engine's background thread. When false, the load
  // waits for them after every memtable flush, so each flush reaches level 1
  // as one run, as the model assumes; when true, writes overlap compactions
  // and level 0 may collect several runs that go down together.
  bool background_compaction = false;
  bool warm_gets = false;              // time the hit lookups a second time
  bool verbose = false;                // print every run, measured and modelled
  uint64_t seed = 7;
};

// What the engine did.
struct Measured {
  std::vector<int> runs_per_level;  // disk levels 1..L (level 0 is empty after the load)
  int level0_runs = 0;
  double disk_entries = 0;
  double disk_bytes = 0;
  double flushes = 0;
  double user_bytes = 0;           // key + value bytes put
  double written_bytes = 0;        // flush + compaction
  double write_amplification = 0;  // written_bytes / user_bytes
  std::vector<double> bits_per_level;  // entry-weighted Bloom bits per key, levels 1..L
  std::vector<double> entry_bytes_per_level;  // run bytes / entries, levels 1..L
  double flush_entry_bytes = 0;        // bytes per entry of the runs flushes wrote
  struct RunSize {
    int level = 0;
    double entries = 0, bytes = 0, bits_per_key = 0;
  };
  std::vector<RunSize> runs;           // every run after the load, newest first per level
  // Per lookup; blocks count reads from the cache and from disk alike.
  double hit_runs = 0, hit_blocks = 0;
  double miss_runs = 0, miss_blocks = 0, miss_filters = 0;
  double bloom_fpr = 0;            // false positives / filters consulted by misses
  double seek_blocks = 0;
  double hit_disk_blocks = 0;      // block-cache misses only
  // Throughput, operations per second, single thread.
  double load_ops = 0, hit_ops = 0, hit_warm_ops = 0, miss_ops = 0, seek_ops = 0;
  double load_seconds = 0;
  uint64_t wrong_results = 0;      // hits not found or misses found: must be 0
};

struct ShapeResult {
  ShapeSpec spec;
  Measured measured;
  tuner::TreeParams params;      // sizes calibrated from the run
  tuner::PolicyTree model_tree;  // the engine-policy model's tree (replay_policy)
  tuner::Costs model;            // engine-policy model on that tree
  tuner::Costs model_closed;     // engine-policy closed form (policy_tree; no reshape)
  tuner::Costs model_on_measured;  // the model's lookup costs on the measured runs
  tuner::Costs literature;       // closed form (cost_model.h)
};

// Loads keys.size() entries into a fresh DB in dir (which must not exist;
// it is removed afterwards unless keep), measures and models.
Status run_shape(const ShapeSpec& spec, const BenchConfig& config, const PromptKeys& keys,
                 const std::string& dir, bool keep, ShapeResult* out);

}  // namespace lsm4kv::bench
