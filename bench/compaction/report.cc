#include "bench/compaction/report.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace lsm4kv::bench {
namespace {

std::string num(double v, int precision = 3) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
  return buf;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// Measured vs model: "meas / model", with † when more than 30% apart.
std::string versus(double measured, double model, int decimals) {
  bool off = model != 0 ? std::fabs(measured - model) > 0.3 * std::fabs(model)
                        : std::fabs(measured) > 1e-9;
  return fixed(measured, decimals) + " / " + fixed(model, decimals) + (off ? " †" : "");
}

// The same with the model evaluated on the measured runs, in brackets.
std::string versus(double measured, double model, double on_measured, int decimals) {
  return versus(measured, model, decimals) + " [" + fixed(on_measured, decimals) + "]";
}

std::string kops(double ops) { return fixed(ops / 1000, 0) + "k"; }

}  // namespace

std::string runs_per_level_text(const std::vector<int>& runs) {
  std::string s;
  for (size_t i = 0; i < runs.size(); i++) s += (i ? "/" : "") + std::to_string(runs[i]);
  return s.empty() ? "-" : s;
}

std::string runs_per_level_text(const tuner::PolicyTree& tree) {
  std::vector<int> runs;
  for (const auto& level : tree.levels) runs.push_back(int(level.size()));
  return runs_per_level_text(runs);
}

void write_csv(std::ostream& out, const std::vector<ShapeResult>& results) {
  out << "shape,T,K,K_after,entries,user_entry_bytes,disk_entry_bytes,entry_bytes_per_halving,"
         "memtable_entry_bytes,"
         "flushes_meas,flushes_model,levels_meas,levels_model,levels_lit,runs_meas,runs_model,"
         "runs_lit,structure_meas,structure_model,wa_meas,wa_model,wa_lit,"
         "hit_runs_meas,hit_runs_model,hit_runs_lit,hit_blocks_meas,hit_blocks_model,"
         "miss_runs_meas,miss_runs_model,miss_runs_lit,miss_blocks_meas,miss_blocks_model,"
         "miss_filters_meas,fpr_meas,fpr_model,seek_blocks_meas,seek_blocks_model,seek_blocks_lit,"
         "hit_disk_blocks_meas,load_ops,hit_ops,hit_warm_ops,miss_ops,seek_ops,load_seconds,"
         "bits_per_level_meas,entry_bytes_per_level_meas,flush_entry_bytes,wa_closed,"
         "hit_runs_on_meas,miss_runs_on_meas,fpr_on_meas,seek_blocks_on_meas,wrong_results\n";
  for (const ShapeResult& r : results) {
    const Measured& m = r.measured;
    const tuner::Costs& mo = r.model;
    const tuner::Costs& li = r.literature;
    double runs_meas = 0;
    for (int x : m.runs_per_level) runs_meas += x;
    std::string bits, entry_bytes;
    for (size_t i = 0; i < m.bits_per_level.size(); i++) {
      bits += (i ? "/" : "") + fixed(m.bits_per_level[i], 1);
      entry_bytes += (i ? "/" : "") + fixed(m.entry_bytes_per_level[i], 1);
    }
    out << '"' << r.spec.label << '"' << ',' << r.spec.shape.size_ratio << ','
        << r.spec.shape.runs_at(1) << ',' << r.spec.final_shape().runs_at(1) << ','
        << num(r.params.entries, 10) << ',' << num(r.params.user_bytes(), 5) << ','
        << num(r.params.entry_bytes, 5) << ',' << num(r.params.entry_bytes_per_halving, 4)
        << ',' << num(r.params.memtable_bytes(), 5) << ','
        << m.flushes << ',' << r.model_tree.flushes << ',' << m.runs_per_level.size() << ','
        << mo.levels << ',' << li.levels << ',' << runs_meas << ',' << mo.runs << ','
        << li.runs << ',' << runs_per_level_text(m.runs_per_level) << ','
        << runs_per_level_text(r.model_tree) << ',' << num(m.write_amplification, 4) << ','
        << num(mo.write_amplification, 4) << ',' << num(li.write_amplification, 4) << ','
        << num(m.hit_runs, 4) << ',' << num(mo.point_hit_runs, 4) << ','
        << num(li.point_hit_runs, 4) << ',' << num(m.hit_blocks, 4) << ','
        << num(mo.point_hit_blocks, 4) << ',' << num(m.miss_runs, 4) << ','
        << num(mo.point_miss_runs, 4) << ',' << num(li.point_miss_runs, 4) << ','
        << num(m.miss_blocks, 4) << ',' << num(mo.point_miss_blocks, 4) << ','
        << num(m.miss_filters, 4) << ',' << num(m.bloom_fpr, 4) << ',' << num(mo.bloom_fpr, 4)
        << ',' << num(m.seek_blocks, 4) << ',' << num(mo.seek_blocks, 4) << ','
        << num(li.seek_blocks, 4) << ',' << num(m.hit_disk_blocks, 4) << ','
        << fixed(m.load_ops, 0) << ',' << fixed(m.hit_ops, 0) << ',' << fixed(m.hit_warm_ops, 0)
        << ',' << fixed(m.miss_ops, 0) << ',' << fixed(m.seek_ops, 0) << ','
        << fixed(m.load_seconds, 1) << ',' << (bits.empty() ? "-" : bits) << ','
        << (entry_bytes.empty() ? "-" : entry_bytes) << ',' << fixed(m.flush_entry_bytes, 1)
        << ',' << num(r.model_closed.write_amplification, 4) << ','
        << num(r.model_on_measured.point_hit_runs, 4) << ','
        << num(r.model_on_measured.point_miss_runs, 4) << ','
        << num(r.model_on_measured.bloom_fpr, 4) << ','
        << num(r.model_on_measured.seek_blocks, 4) << ',' << m.wrong_results << '\n';
  }
}

void write_markdown(std::ostream& out, const std::vector<ShapeResult>& results) {
  out << "Writes and tree structure (measured / engine-policy model; *lit.* = closed form of "
         "tuner/cost_model.h):\n\n"
         "| shape | runs per level, meas. | model | write amp. meas. / model | lit. | "
         "load ops/s |\n"
         "|---|---|---|---|---|---|\n";
  for (const ShapeResult& r : results) {
    const Measured& m = r.measured;
    out << "| " << r.spec.label << " | " << runs_per_level_text(m.runs_per_level) << " | "
        << runs_per_level_text(r.model_tree) << " | "
        << versus(m.write_amplification, r.model.write_amplification, 2) << " | "
        << fixed(r.literature.write_amplification, 2) << " | " << kops(m.load_ops) << " |\n";
  }
  out << "\nLookups (per operation; blocks = data blocks read from cache or disk; "
         "measured / engine-policy model [the model's formulas on the measured runs]):\n\n"
         "| shape | runs/hit | blocks/hit | runs/miss | blocks/miss | Bloom FPR | "
         "blocks/seek | get hit ops/s | get miss ops/s | seek ops/s |\n"
         "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const ShapeResult& r : results) {
    const Measured& m = r.measured;
    const tuner::Costs& mo = r.model;
    const tuner::Costs& on = r.model_on_measured;
    out << "| " << r.spec.label << " | " << versus(m.hit_runs, mo.point_hit_runs, 3) << " | "
        << versus(m.hit_blocks, mo.point_hit_blocks, 3) << " | "
        << versus(m.miss_runs, mo.point_miss_runs, on.point_miss_runs, 4) << " | "
        << versus(m.miss_blocks, mo.point_miss_blocks, 4) << " | "
        << versus(m.bloom_fpr, mo.bloom_fpr, on.bloom_fpr, 4) << " | "
        << versus(m.seek_blocks, mo.seek_blocks, on.seek_blocks, 2) << " | " << kops(m.hit_ops)
        << " | "
        << kops(m.miss_ops) << " | " << kops(m.seek_ops) << " |\n";
  }
}

}  // namespace lsm4kv::bench
