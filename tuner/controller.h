// Controller: the adaptive part of the tuner (SGLang-LSM §3.3). It watches
// the mix of operations the engine serves over a sliding window
// (tuner/monitor.h), and when the mix has moved far enough since the last
// decision it searches the cheapest shape for the new mix (tuner/optimizer.h)
// and hands it to engine::DB::reshape(), which applies it lazily (appendix C):
// write-heavy phases (cache population: puts of missing pages) move the tree
// toward tiering, lookup-heavy phases (cache serving) toward leveling.
//
//   tuner::Controller tuner(db.get(), {.window_ops = 4096});
//   ... after each batch of store operations:
//   tuner.observe();                 // cheap: reads counters; decides when a window closes
//   for (const tuner::Decision& d : tuner.history()) ...
//
// When it decides. Every slice of the window that closes is a chance; the
// optimizer runs when a whole window has been seen and either no decision
// was made yet, or the window's mix is at least change_threshold away
// (total-variation distance) from the mix of the last decision, or the tree
// grew or shrank by resize_factor since then. The optimizer's hysteresis
// (min_gain) then keeps the shape unless the move is predicted to pay.
// Every run of the optimizer is a Decision in a bounded history, whether it
// reshaped or kept the shape.
//
// Turned off (enabled = false) it does nothing; pinned to a shape it sets
// that shape once, at construction, and never changes it.
//
// Thread-safety: all methods may be called concurrently. observe() from many
// threads is cheap: a call that finds another one in progress returns at once
// (the counters are cumulative, so nothing is lost; the next call counts it).
// The DB must outlive the Controller.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/db.h"
#include "tuner/cost_model.h"
#include "tuner/monitor.h"
#include "tuner/optimizer.h"

namespace lsm4kv::tuner {

struct TunerOptions {
  bool enabled = true;                  // false: observe() does nothing
  std::optional<engine::Shape> pinned;  // set: this shape, never retuned
  size_t window_ops = 4096;             // operations (w + r + z + s) in a window
  size_t window_slices = 4;             // the window slides by window_ops / this
  double change_threshold = 0.10;       // re-optimize when the mix moved this far
                                        // (total-variation distance, 0..1)
  double min_gain = 0.05;               // hysteresis: move only for this relative saving
  double resize_factor = 2.0;           // re-optimize when N changed by this factor
  size_t history = 32;                  // decisions kept
  SearchSpace search;                   // T and K ranges
  // Sizes the engine does not report: write buffer M, block bytes, Bloom bits
  // per key and allocation (set them to the engine's Options). N and the bytes
  // per entry are read from the engine's runs at each decision.
  TreeParams tree;
  // Estimate the memtable's bytes per entry from the engine's flushes and let
  // the model charge level 1 for the flushes it absorbs
  // (TreeParams::level1_absorbs_flushes). False: tree's values as given.
  bool estimate_memtable_entry_bytes = true;
  // I/O weights of the model's terms. A merge reads every block it rewrites,
  // so a block written costs write_weight block I/Os (2: write + read).
  double write_weight = 2.0;
  // Lookups pay only for the blocks the block cache misses: when true, the
  // window's lookup terms (r, z, s) are scaled by the miss ratio measured
  // over the window (blocks_read / (blocks_read + block_cache_hits)).
  bool weigh_reads_by_cache_misses = true;
  // > 0: a background thread calls observe() this often (the caller then
  // need not).
  std::chrono::milliseconds observe_interval{0};
};

struct Decision {
  enum class Outcome : uint8_t {
    kReshaped = 0,  // reshape() was called with new_shape
    kKept = 1,      // the best shape did not pay for the move (or is the current one)
    kPinned = 2,    // TunerOptions::pinned applied at construction
    kFailed = 3,    // reshape() failed: see error
  };
  std::chrono::system_clock::time_point time;
  double operations = 0;      // operations the monitor had counted by then
  WorkloadMix mix;            // fractions of w, r, z, s in the window
  double entries = 0;         // N the model was given
  engine::Shape old_shape;
  engine::Shape new_shape;    // the optimizer's best (== old_shape when pinned)
  double old_cost = 0;        // modelled block I/Os per operation (mix weighted by
                              // write_weight and the cache miss ratio)
  double new_cost = 0;
  double predicted_gain = 0;  // (old_cost − new_cost) / old_cost
  Outcome outcome = Outcome::kKept;
  std::string error;          // kFailed: the reshape() status
};
const char* outcome_name(Decision::Outcome outcome);

class Controller {
 public:
  // REQUIRES: db outlives the Controller.
  Controller(engine::DB* db, TunerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Counts what the engine did since the last call and, when a window slice
  // closes, decides (see above). Call after every batch of operations.
  void observe();

  // The last decisions, oldest first (at most TunerOptions::history).
  std::vector<Decision> history() const;
  // Decisions made since construction (history() keeps only the last ones).
  uint64_t decisions() const;
  // The engine's shape now.
  engine::Shape current() const { return db_->shape(); }
  // The fractions of the last full window (all 0 before one).
  WorkloadMix window_mix() const;
  const TunerOptions& options() const { return options_; }

 private:
  void observe_locked();
  void decide_locked(const engine::Properties& properties, const WorkloadMix& mix);
  // The window's mix weighted by I/O per operation kind (write_weight, miss ratio).
  WorkloadMix weighted_mix(const WorkloadMix& mix) const;
  TreeParams tree_params(const engine::Properties& properties) const;
  void record_locked(Decision decision);
  void background_loop();

  engine::DB* const db_;
  const TunerOptions options_;

  mutable std::mutex mu_;                // guards everything below
  WorkloadMonitor monitor_;
  // Block reads from disk and from the cache, as counted by the engine, at
  // the last window slice: their growth over a window gives its miss ratio.
  std::deque<std::pair<double, double>> block_marks_;
  std::optional<WorkloadMix> last_mix_;  // the mix of the last decision
  double last_entries_ = 0;              // N at the last decision
  std::deque<Decision> history_;
  uint64_t decisions_ = 0;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stop_ = false;                    // guarded by bg_mu_
  std::thread background_;
};

}  // namespace lsm4kv::tuner
