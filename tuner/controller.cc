#include "tuner/controller.h"

#include <algorithm>
#include <utility>

namespace lsm4kv::tuner {

const char* outcome_name(Decision::Outcome outcome) {
  switch (outcome) {
    case Decision::Outcome::kReshaped: return "reshaped";
    case Decision::Outcome::kKept: return "kept";
    case Decision::Outcome::kPinned: return "pinned";
    case Decision::Outcome::kFailed: return "failed";
  }
  return "?";
}

Controller::Controller(engine::DB* db, TunerOptions options)
    : db_(db),
      options_(std::move(options)),
      monitor_(options_.window_ops, options_.window_slices) {
  if (options_.pinned) {
    Decision d;
    d.time = std::chrono::system_clock::now();
    d.old_shape = db_->shape();
    d.new_shape = *options_.pinned;
    d.outcome = Decision::Outcome::kPinned;
    if (!(d.old_shape == d.new_shape)) {
      Status s = db_->reshape(d.new_shape);
      if (!s.ok()) {
        d.outcome = Decision::Outcome::kFailed;
        d.error = s.to_string();
      }
    }
    std::lock_guard g(mu_);
    record_locked(std::move(d));
    return;
  }
  if (!options_.enabled) return;
  {
    std::lock_guard g(mu_);
    monitor_.reset(operation_counts(db_->properties()));
  }
  if (options_.observe_interval.count() > 0)
    background_ = std::thread([this] { background_loop(); });
}

Controller::~Controller() {
  if (background_.joinable()) {
    {
      std::lock_guard g(bg_mu_);
      stop_ = true;
    }
    bg_cv_.notify_all();
    background_.join();
  }
}

void Controller::background_loop() {
  std::unique_lock l(bg_mu_);
  while (!stop_) {
    bg_cv_.wait_for(l, options_.observe_interval, [this] { return stop_; });
    if (stop_) break;
    l.unlock();
    observe();
    l.lock();
  }
}

void Controller::observe() {
  if (!options_.enabled || options_.pinned) return;
  std::unique_lock l(mu_, std::try_to_lock);
  if (!l.owns_lock()) return;  // another thread is observing; it or the next call counts ours
  observe_locked();
}

void Controller::observe_locked() {
  engine::Properties props = db_->properties();
  if (monitor_.add(operation_counts(props)) == 0) return;
  block_marks_.emplace_back(double(props.blocks_read), double(props.block_cache_hits));
  while (block_marks_.size() > options_.window_slices + 1) block_marks_.pop_front();
  if (!monitor_.full()) return;
  WorkloadMix mix = monitor_.mix();
  double entries = tree_params(props).entries;
  bool moved = !last_mix_ || mix_distance(mix, *last_mix_) >= options_.change_threshold;
  double f = std::max(options_.resize_factor, 1.0 + 1e-9);
  entries = std::max(entries, 1.0);
  bool resized = last_entries_ > 0 && (entries >= last_entries_ * f || entries * f <= last_entries_);
  if (moved || resized) decide_locked(props, mix);
}

TreeParams Controller::tree_params(const engine::Properties& props) const {
  TreeParams tree = options_.tree;
  double entries = 0, bytes = 0;
  for (const engine::LevelInfo& level : props.levels) {
    for (const engine::RunInfo& run : level.runs) {
      entries += double(run.entries);
      bytes += double(run.file_size);
    }
  }
  tree.entries = entries;
  if (entries > 0 && bytes > 0) tree.entry_bytes = bytes / entries;
  // Memtable bytes per entry: every flush took about M bytes of memtable.
  double written = double(props.entries_written);
  if (options_.estimate_memtable_entry_bytes && written > 0 && props.flushes > 0) {
    double flushed = double(props.flushes) * tree.write_buffer_bytes + double(props.memtable_bytes);
    tree.memtable_entry_bytes = flushed / written;
    tree.level1_absorbs_flushes = true;
  }
  return tree;
}

void Controller::decide_locked(const engine::Properties& props, const WorkloadMix& mix) {
  TreeParams tree = tree_params(props);
  OptimizerOptions opt{options_.search, options_.min_gain};
  Proposal p = optimize(weighted_mix(mix), tree, props.shape, opt);
  Decision d;
  d.time = std::chrono::system_clock::now();
  d.operations = monitor_.operations();
  d.mix = mix;
  d.entries = tree.entries;
  d.old_shape = props.shape;
  d.new_shape = p.best;
  d.old_cost = p.current_cost;
  d.new_cost = p.best_cost;
  d.predicted_gain = p.gain;
  d.outcome = Decision::Outcome::kKept;
  if (p.change) {
    Status s = db_->reshape(p.best);
    d.outcome = s.ok() ? Decision::Outcome::kReshaped : Decision::Outcome::kFailed;
    if (!s.ok()) d.error = s.to_string();
  }
  last_mix_ = mix;
  last_entries_ = std::max(tree.entries, 1.0);
  record_locked(std::move(d));
}

WorkloadMix Controller::weighted_mix(const WorkloadMix& mix) const {
  WorkloadMix m = mix;
  m.writes *= options_.write_weight;
  if (options_.weigh_reads_by_cache_misses && block_marks_.size() >= 2) {
    double disk = block_marks_.back().first - block_marks_.front().first;
    double cached = block_marks_.back().second - block_marks_.front().second;
    if (disk + cached > 0) {
      // Never below 1%: a warm cache must not make lookups free.
      double miss = std::max(disk / (disk + cached), 0.01);
      m.point_hits *= miss;
      m.point_misses *= miss;
      m.seeks *= miss;
    }
  }
  return m;
}

void Controller::record_locked(Decision decision) {
  decisions_++;
  history_.push_back(std::move(decision));
  while (history_.size() > std::max<size_t>(options_.history, 1)) history_.pop_front();
}

std::vector<Decision> Controller::history() const {
  std::lock_guard g(mu_);
  return {history_.begin(), history_.end()};
}

uint64_t Controller::decisions() const {
  std::lock_guard g(mu_);
  return decisions_;
}

WorkloadMix Controller::window_mix() const {
  std::lock_guard g(mu_);
  return monitor_.full() ? monitor_.mix() : WorkloadMix{};
}

}  // namespace lsm4kv::tuner
