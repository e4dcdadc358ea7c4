#include "bench/compaction/shape_run.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <memory>
#include <cstdio>
#include <random>

#include "engine/db.h"
#include "engine/write_batch.h"

namespace lsm4kv::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool parse_int(std::string_view s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The value of page i: 24 bytes standing for the tensor record's location
// (segment, offset, length) in the store; content does not matter here.
std::string value_of(uint64_t page, size_t bytes) {
  std::string v(bytes, '\0');
  for (size_t i = 0; i < bytes; i++) v[i] = static_cast<char>((page >> (8 * (i % 8))) + i);
  return v;
}

// Counter deltas over one phase.
struct Delta {
  engine::Properties before, after;
  double operator()(uint64_t engine::Properties::*field) const {
    return double(after.*field - before.*field);
  }
  double blocks() const { return (*this)(&engine::Properties::blocks_read) +
                                 (*this)(&engine::Properties::block_cache_hits); }
};

void record_structure(const engine::Properties& p, Measured* m) {
  m->runs_per_level.clear();
  m->bits_per_level.clear();
  m->entry_bytes_per_level.clear();
  for (const engine::LevelInfo& level : p.levels) {
    double entries = 0, bits = 0, bytes = 0;
    for (const engine::RunInfo& run : level.runs) {
      m->runs.push_back({level.level, double(run.entries), double(run.file_size),
                         run.bloom_bits_per_key});
      entries += double(run.entries);
      bytes += double(run.file_size);
      bits += double(run.entries) * run.bloom_bits_per_key;
    }
    m->disk_entries += entries;
    m->disk_bytes += bytes;
    if (level.level == 0) {
      m->level0_runs = int(level.runs.size());
      continue;
    }
    m->runs_per_level.push_back(int(level.runs.size()));
    m->bits_per_level.push_back(entries > 0 ? bits / entries : 0);
    m->entry_bytes_per_level.push_back(entries > 0 ? bytes / entries : 0);
  }
  while (!m->runs_per_level.empty() && m->runs_per_level.back() == 0) {
    m->runs_per_level.pop_back();
    m->bits_per_level.pop_back();
    m->entry_bytes_per_level.pop_back();
  }
  m->flushes = double(p.flushes);
  m->user_bytes = double(p.user_bytes_written);
  m->written_bytes = double(p.flush_bytes_written);
  for (uint64_t b : p.compaction_bytes_written) m->written_bytes += double(b);
  m->write_amplification = p.write_amplification();
  // Flushes move every entry not in the memtable once: disk entries is the
  // count they wrote (keys are distinct).
  m->flush_entry_bytes = m->disk_entries > 0 ? double(p.flush_bytes_written) / m->disk_entries : 0;
}

Status load(engine::DB* db, const ShapeSpec& spec, const BenchConfig& config,
            const PromptKeys& keys, uint64_t* reshaped_at) {
  engine::WriteOptions wo;
  engine::WriteBatch batch;
  const uint64_t half = keys.size() / 2;
  *reshaped_at = 0;
  // Waiting after every quarter memtable of user bytes catches each flush
  // before the next: the memtable charges at least the user bytes.
  const size_t drain_every = std::max<size_t>(config.write_buffer_bytes / 4, 1);
  size_t since_drain = 0;
  for (uint64_t page = 0; page < keys.size();) {
    if (spec.reshape_to && *reshaped_at == 0 && page >= half) {
      LSM4KV_RETURN_IF_ERROR(db->reshape(*spec.reshape_to));
      *reshaped_at = page;
    }
    // One prompt's pages per batch, as put_batch writes them.
    uint64_t end = keys.prompt_end(page);
    batch.clear();
    for (; page < end; page++) batch.put(keys.key(page), value_of(page, config.value_bytes));
    LSM4KV_RETURN_IF_ERROR(db->write(wo, &batch));
    since_drain += batch.byte_size();
    if (!config.background_compaction && since_drain >= drain_every) {
      LSM4KV_RETURN_IF_ERROR(db->wait_for_compactions());
      since_drain = 0;
    }
  }
  return db->wait_for_compactions();
}

// Times fn over every key; returns ops/s.
template <typename Fn>
Status timed(const std::vector<std::string>& keys, Fn fn, double* ops) {
  auto start = Clock::now();
  for (const std::string& k : keys) LSM4KV_RETURN_IF_ERROR(fn(k));
  double s = seconds_since(start);
  *ops = s > 0 ? double(keys.size()) / s : 0;
  return Status::OK();
}

Status measure_lookups(engine::DB* db, const BenchConfig& config, const PromptKeys& keys,
                       Measured* m) {
  std::mt19937_64 rng(config.seed);
  std::vector<std::string> hits, misses, seeks;
  for (uint64_t i = 0; i < config.lookups; i++) {
    hits.push_back(keys.key(rng() % keys.size()));
    misses.push_back(keys.absent_key(rng() % keys.size()));
    seeks.push_back(keys.absent_key(rng() % keys.size()));
  }
  const double n = double(config.lookups);
  engine::ReadOptions ro;
  std::string value;
  Delta d;

  d.before = db->properties();
  LSM4KV_RETURN_IF_ERROR(timed(hits, [&](const std::string& k) {
    Status s = db->get(ro, k, &value);
    if (s.is_not_found()) m->wrong_results++;
    return s.is_not_found() ? Status::OK() : s;
  }, &m->hit_ops));
  d.after = db->properties();
  m->hit_runs = d(&engine::Properties::runs_probed) / n;
  m->hit_blocks = d.blocks() / n;
  m->hit_disk_blocks = d(&engine::Properties::blocks_read) / n;
  if (config.warm_gets) {
    LSM4KV_RETURN_IF_ERROR(timed(hits, [&](const std::string& k) {
      Status s = db->get(ro, k, &value);
      return s.is_not_found() ? Status::OK() : s;
    }, &m->hit_warm_ops));
  }

  d.before = db->properties();
  LSM4KV_RETURN_IF_ERROR(timed(misses, [&](const std::string& k) {
    Status s = db->get(ro, k, &value);
    if (s.ok()) m->wrong_results++;
    return s.ok() || s.is_not_found() ? Status::OK() : s;
  }, &m->miss_ops));
  d.after = db->properties();
  m->miss_runs = d(&engine::Properties::runs_probed) / n;
  m->miss_blocks = d.blocks() / n;
  m->miss_filters = d(&engine::Properties::bloom_checked) / n;
  double checked = d(&engine::Properties::bloom_checked);
  m->bloom_fpr = checked > 0 ? d(&engine::Properties::bloom_false_positives) / checked : 0;

  d.before = db->properties();
  LSM4KV_RETURN_IF_ERROR(timed(seeks, [&](const std::string& k) {
    // A fresh iterator per seek, as the store's probe() does.
    std::unique_ptr<engine::Iterator> it = db->new_iterator(ro);
    it->seek(k);
    if (it->valid()) value.assign(it->value());
    return it->status();
  }, &m->seek_ops));
  d.after = db->properties();
  double seek_count = d(&engine::Properties::seeks);
  m->seek_blocks = seek_count > 0 ? d.blocks() / seek_count : 0;
  return Status::OK();
}

// Fits bytes per entry E(n) = a + b·log2(N/n) (TreeParams::run_entry_bytes)
// to the runs the load left and to the flushed runs, by least squares.
void fit_entry_bytes(const Measured& m, double n_total, double per_flush, tuner::TreeParams* p) {
  std::vector<Measured::RunSize> points = m.runs;
  if (m.flush_entry_bytes > 0) {
    Measured::RunSize flushed;
    flushed.entries = per_flush;
    flushed.bytes = per_flush * m.flush_entry_bytes;
    points.push_back(flushed);
  }
  double sx = 0, sy = 0, sxx = 0, sxy = 0, k = 0;
  for (const auto& r : points) {
    if (r.entries <= 0) continue;
    double x = std::log2(std::max(n_total / r.entries, 1.0)), y = r.bytes / r.entries;
    sx += x, sy += y, sxx += x * x, sxy += x * y, k += 1;
  }
  p->entry_bytes = m.disk_entries > 0 ? m.disk_bytes / m.disk_entries : 1;
  p->entry_bytes_per_halving = 0;
  double var = k * sxx - sx * sx;
  if (k >= 2 && var > 1e-9) {
    double b = (k * sxy - sx * sy) / var;
    double a = (sy - b * sx) / k;
    if (b > 0 && a > 0) {
      p->entry_bytes = a;
      p->entry_bytes_per_halving = b;
    }
  }
}

// Sizes the models need, as this run produced them.
tuner::TreeParams calibrate(const BenchConfig& config, const Measured& m, double entries) {
  tuner::TreeParams p;
  p.entries = entries;
  p.user_entry_bytes = entries > 0 ? m.user_bytes / entries : 1;
  double per_flush = m.flushes > 0 ? m.disk_entries / m.flushes : entries;
  fit_entry_bytes(m, entries, per_flush, &p);
  p.memtable_entry_bytes = double(config.write_buffer_bytes) / std::max(per_flush, 1.0);
  p.write_buffer_bytes = double(config.write_buffer_bytes);
  p.block_bytes = 4096;
  p.bloom_bits_per_key = config.bloom_bits_per_key;
  p.allocation = config.bloom_allocation;
  return p;
}

// The measured runs as a model tree, to evaluate the lookup formulas on.
tuner::PolicyTree measured_tree(const Measured& m, double entries) {
  tuner::PolicyTree t;
  for (const Measured::RunSize& r : m.runs) {
    if (r.level < 1) continue;
    if (t.levels.size() < size_t(r.level)) t.levels.resize(size_t(r.level));
    t.levels[size_t(r.level - 1)].push_back({r.entries, r.bytes, r.bits_per_key});
  }
  t.memtable_entries = std::max(0.0, entries - m.disk_entries);
  return t;
}

void print_runs(const ShapeResult& r) {
  for (const Measured::RunSize& run : r.measured.runs)
    std::fprintf(stderr, "  measured L%d: %10.0f entries %12.0f bytes (%.1f B/entry) %.1f bits/key\n",
                 run.level, run.entries, run.bytes, run.bytes / run.entries, run.bits_per_key);
  for (size_t i = 0; i < r.model_tree.levels.size(); i++)
    for (const tuner::ModelRun& run : r.model_tree.levels[i])
      std::fprintf(stderr, "  model    L%zu: %10.0f entries %12.0f bytes (%.1f B/entry) %.1f bits/key\n",
                   i + 1, run.entries, run.bytes, run.bytes / run.entries, run.bits_per_key);
  std::fprintf(stderr, "  flushes %.0f (model %.0f); E(n) = %.2f + %.3f·log2(N/n) B/entry\n",
               r.measured.flushes, r.model_tree.flushes, r.params.entry_bytes,
               r.params.entry_bytes_per_halving);
}

}  // namespace

Status parse_shape(const std::string& text, ShapeSpec* out) {
  auto bad = [&] { return Status::invalid_argument("shape '" + text + "': want T:K or T:K>K2"); };
  size_t colon = text.find(':');
  if (colon == std::string::npos) return bad();
  size_t arrow = text.find('>', colon);
  int t = 0, k = 0, k2 = 0;
  std::string_view sv(text);
  if (!parse_int(sv.substr(0, colon), &t)) return bad();
  if (!parse_int(sv.substr(colon + 1, arrow == std::string::npos ? std::string_view::npos
                                                                  : arrow - colon - 1), &k))
    return bad();
  if (t < 2 || k < 1) return bad();
  out->label = "T=" + std::to_string(t) + " K=" + std::to_string(k);
  out->shape = engine::Shape{.size_ratio = t, .runs_per_level = {k}};
  out->reshape_to.reset();
  if (arrow != std::string::npos) {
    if (!parse_int(sv.substr(arrow + 1), &k2) || k2 < 1) return bad();
    out->reshape_to = engine::Shape{.size_ratio = t, .runs_per_level = {k2}};
    out->label += "→" + std::to_string(k2);
  }
  return Status::OK();
}

Status run_shape(const ShapeSpec& spec, const BenchConfig& config, const PromptKeys& keys,
                 const std::string& dir, bool keep, ShapeResult* out) {
  *out = ShapeResult{};
  out->spec = spec;
  Measured& m = out->measured;
  engine::Options options;
  options.shape = spec.shape;
  options.write_buffer_size = config.write_buffer_bytes;
  options.sync_mode = engine::SyncMode::kNone;  // compaction is measured, not fsync
  options.bloom_bits_per_key = config.bloom_bits_per_key;
  options.bloom_allocation = config.bloom_allocation;
  options.block_cache_bytes = config.block_cache_bytes;
  options.error_if_exists = true;

  Status s;
  uint64_t reshaped_at = 0;
  {
    std::unique_ptr<engine::DB> db;
    s = engine::DB::open(options, dir, &db);
    if (s.ok()) {
      auto start = Clock::now();
      s = load(db.get(), spec, config, keys, &reshaped_at);
      m.load_seconds = seconds_since(start);
      m.load_ops = m.load_seconds > 0 ? double(keys.size()) / m.load_seconds : 0;
    }
    if (s.ok()) {
      record_structure(db->properties(), &m);
      s = measure_lookups(db.get(), config, keys, &m);
    }
    Status c = db ? db->close() : Status::OK();
    if (s.ok()) s = c;
  }
  if (!keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  if (!s.ok()) return s;

  const double n = double(keys.size());
  out->params = calibrate(config, m, n);
  const engine::Shape& final_shape = spec.final_shape();
  if (spec.reshape_to) {
    out->model_tree = tuner::replay_policy(
        {{spec.shape, double(reshaped_at)}, {*spec.reshape_to, n - double(reshaped_at)}},
        out->params);
  } else {
    out->model_tree = tuner::replay_policy({{spec.shape, n}}, out->params);
  }
  out->model = tuner::policy_costs(final_shape, out->params, out->model_tree);
  if (!spec.reshape_to) out->model_closed = tuner::predict_policy(spec.shape, out->params);
  out->model_on_measured = tuner::policy_costs(final_shape, out->params, measured_tree(m, n));
  if (config.verbose) print_runs(*out);
  // The literature's model knows one size per entry: the tree's mean.
  tuner::TreeParams flat = out->params;
  flat.entry_bytes = m.disk_entries > 0 ? m.disk_bytes / m.disk_entries : flat.entry_bytes;
  flat.entry_bytes_per_halving = 0;
  out->literature = tuner::predict(final_shape, flat);
  return Status::OK();
}

}  // namespace lsm4kv::bench
