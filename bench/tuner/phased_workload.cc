#include "bench/tuner/phased_workload.h"

#include <algorithm>
#include <chrono>
#include <numeric>

namespace lsm4kv::bench {

namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr char kNamespace[2] = {0, 1};
constexpr size_t kPageBytes = 8;

}  // namespace

void add_counter_deltas(const engine::Properties& a, const engine::Properties& b,
                        StageStats* s) {
  auto sum = [](const std::vector<uint64_t>& v) {
    return double(std::accumulate(v.begin(), v.end(), uint64_t{0}));
  };
  s->entries_written += double(b.entries_written - a.entries_written);
  s->lookups += double(b.point_lookups_found - a.point_lookups_found) +
                double(b.point_lookups_empty - a.point_lookups_empty) + double(b.seeks - a.seeks);
  s->bytes_written += double(b.flush_bytes_written - a.flush_bytes_written) +
                      sum(b.compaction_bytes_written) - sum(a.compaction_bytes_written);
  s->compaction_bytes_read += sum(b.compaction_bytes_read) - sum(a.compaction_bytes_read);
  s->lookup_bytes_read += double(b.block_bytes_read - a.block_bytes_read);
  s->blocks_read += double(b.blocks_read - a.blocks_read);
}

PhasedWorkload::PhasedWorkload(engine::DB* db, const WorkloadConfig& config,
                               tuner::Controller* tuner)
    : db_(db), config_(config), tuner_(tuner), rng_(config.seed), value_(config.value_bytes, 'v') {}

std::string PhasedWorkload::key(const std::vector<uint64_t>& prompt, int pages) const {
  std::string k(kNamespace, 2);
  for (int i = 0; i < pages; i++) {
    uint64_t f = prompt[size_t(i)];
    for (int b = 0; b < 8; b++) k.push_back(char(f >> (56 - 8 * b)));  // big-endian
  }
  return k;
}

Status PhasedWorkload::probe(const std::vector<uint64_t>& prompt, int* cached) {
  int pages = int(prompt.size());
  if (config_.probe == ProbeMode::kBinarySearch) {
    // Largest n with page n stored (prefix-closed: a monotone predicate).
    int lo = 0, hi = pages;
    std::string v;
    while (lo < hi) {
      int mid = (lo + hi + 1) / 2;
      Status s = db_->get({}, key(prompt, mid), &v);
      if (s.ok()) lo = mid;
      else if (s.is_not_found()) hi = mid - 1;
      else return s;
    }
    *cached = lo;
    return Status::OK();
  }
  std::string target = key(prompt, pages);
  auto it = db_->new_iterator({});
  it->seek_for_prev(target);
  LSM4KV_RETURN_IF_ERROR(it->status());
  *cached = 0;
  if (!it->valid()) return Status::OK();
  std::string_view found = it->key();
  size_t n = std::min(found.size(), target.size());
  size_t common = 0;
  while (common < n && found[common] == target[common]) common++;
  if (common < 2) return Status::OK();
  size_t whole = std::min(common, found.size());
  *cached = int((whole - 2) / kPageBytes);
  return Status::OK();
}

Status PhasedWorkload::request(size_t base, int reuse, StageStats* stats) {
  std::vector<uint64_t> prompt;
  if (base < prompts_.size()) {
    reuse = std::min<int>(reuse, int(prompts_[base].size()));
    prompt.assign(prompts_[base].begin(), prompts_[base].begin() + reuse);
  } else {
    reuse = 0;
  }
  while (int(prompt.size()) < config_.pages) prompt.push_back(splitmix(next_fingerprint_++));

  int cached = 0;
  LSM4KV_RETURN_IF_ERROR(probe(prompt, &cached));
  if (cached != reuse) stats->wrong++;
  if (cached > 0) {
    std::vector<std::string> keys;
    for (int i = 1; i <= cached; i++) keys.push_back(key(prompt, i));  // ascending: prefixes
    std::vector<std::string_view> views(keys.begin(), keys.end());
    std::vector<std::string> values;
    std::vector<Status> statuses;
    LSM4KV_RETURN_IF_ERROR(db_->multi_get({}, views, &values, &statuses));
    for (const Status& s : statuses)
      if (!s.ok()) stats->wrong++;
  }
  if (cached < config_.pages) {
    engine::WriteBatch batch;
    for (int i = cached + 1; i <= config_.pages; i++) batch.put(key(prompt, i), value_);
    LSM4KV_RETURN_IF_ERROR(db_->write({}, &batch));
  }
  prompts_.push_back(std::move(prompt));
  stats->requests++;
  stats->pages_hit += cached;
  stats->pages_total += config_.pages;
  if (tuner_) tuner_->observe();
  return Status::OK();
}

Status PhasedWorkload::warm_up(uint64_t entries, double max_share) {
  StageStats ignored;
  std::uniform_real_distribution<double> u(0, 1);
  uint64_t start = db_->properties().entries_written;
  while (db_->properties().entries_written - start < entries) {
    for (int i = 0; i < 64; i++) {
      size_t base = prompts_.empty() ? 0 : rng_() % prompts_.size();
      int reuse = prompts_.empty() ? 0 : int(u(rng_) * max_share * config_.pages);
      LSM4KV_RETURN_IF_ERROR(request(base, reuse, &ignored));
    }
  }
  return db_->wait_for_compactions();
}

Status PhasedWorkload::run_stage(uint64_t requests, double hit_rate, StageStats* out) {
  std::uniform_real_distribution<double> u(0, 1);
  engine::Properties before = db_->properties();
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t r = 0; r < requests; r++) {
    size_t base = rng_() % prompts_.size();
    int reuse = std::min(config_.pages, int(hit_rate * config_.pages + u(rng_)));
    LSM4KV_RETURN_IF_ERROR(request(base, reuse, out));
  }
  LSM4KV_RETURN_IF_ERROR(db_->wait_for_compactions());
  out->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  add_counter_deltas(before, db_->properties(), out);
  return Status::OK();
}

}  // namespace lsm4kv::bench
