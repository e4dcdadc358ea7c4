// The stats file (admin::kStatsFile): what a serving store writes into its
// directory every few seconds and at close, and reading it back (kvtool
// stats, info). Declared in store_admin.h and kv_store_impl.h.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "kvcache_api/kv_store_impl.h"

namespace lsm4kv::kvcache {
namespace {

constexpr auto kStatsInterval = std::chrono::seconds(10);

FileSystem* posix() { return FileSystem::posix(); }

std::string join(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

// ------------------------------------------------------------- stats file

std::string format_stats(const StoreStats& st, const engine::Properties& p, uint32_t page_tokens,
                         const char* state) {
  std::string out = "# lsm4kv store statistics: \"key value\" lines (kvtool stats)\n";
  auto put = [&](const std::string& k, const std::string& v) { out += k + " " + v + "\n"; };
  auto num = [&](const std::string& k, uint64_t v) { put(k, std::to_string(v)); };
  auto real = [&](const std::string& k, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    put(k, buf);
  };
  num("format", 1);
  put("state", state);
  num("pid", static_cast<uint64_t>(::getpid()));
  num("written_unix_ms", static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch())
                                                   .count()));
  num("page_tokens", page_tokens);
  num("hit_tokens", st.hit_tokens);
  num("miss_tokens", st.miss_tokens);
  num("hit_pages", st.hit_pages);
  num("miss_pages", st.miss_pages);
  num("bytes_put", st.bytes_put);
  num("bytes_got", st.bytes_got);
  num("pages_put", st.pages_put);
  num("pages_evicted", st.pages_evicted);
  num("evictions", st.evictions);
  num("collisions", st.collisions);
  num("corrupt_pages_dropped", st.corrupt_pages_dropped);
  for (auto [name, l] : {std::pair{"put", &st.put_latency}, {"probe", &st.probe_latency}, {"get", &st.get_latency}}) {
    num(std::string(name) + "_latency.count", l->count);
    real(std::string(name) + "_latency.p50_us", l->p50_us);
    real(std::string(name) + "_latency.p99_us", l->p99_us);
  }
  num("stored_bytes", st.stored_bytes);
  num("files", st.files);
  num("tensor.segments", st.tensor_segments);
  num("tensor.live_bytes", st.tensor_live_bytes);
  num("tensor.dead_bytes", st.tensor_dead_bytes);
  num("tensor.file_bytes", st.tensor_file_bytes);
  num("tensor.spare_bytes", st.tensor_spare_bytes);
  num("tensor.gc_bytes_copied", st.gc_bytes_copied);
  num("index.T", static_cast<uint64_t>(p.shape.size_ratio));
  put("index.K", join(p.shape.runs_per_level));
  std::vector<int> runs;
  for (const auto& l : p.levels) runs.push_back(static_cast<int>(l.runs.size()));
  put("index.runs_per_level", join(runs));
  num("index.entries_written", p.entries_written);
  num("index.point_lookups_found", p.point_lookups_found);
  num("index.point_lookups_empty", p.point_lookups_empty);
  num("index.seeks", p.seeks);
  num("index.bloom_checked", p.bloom_checked);
  num("index.bloom_negatives", p.bloom_negatives);
  num("index.bloom_false_positives", p.bloom_false_positives);
  num("index.blocks_read", p.blocks_read);
  num("index.block_cache_hits", p.block_cache_hits);
  num("index.flushes", p.flushes);
  num("index.compactions", p.compactions);
  num("index.write_stalls", p.write_stalls);
  real("index.write_amplification", p.write_amplification());
  // The tuner's recent decisions, oldest first: what `kvtool info` lists.
  num("tuner.decisions", st.tuner_decisions.size());
  for (size_t i = 0; i < st.tuner_decisions.size(); i++) {
    const TunerDecision& d = st.tuner_decisions[i];
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%lld %s T=%d K=%s -> T=%d K=%s; cost %.3f -> %.3f (gain %.1f%%); mix w=%.2f r=%.2f z=%.2f s=%.2f",
                  static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             d.time.time_since_epoch()).count()),
                  outcome_name(d.outcome), d.old_shape.size_ratio,
                  join(d.old_shape.runs_per_level).c_str(), d.new_shape.size_ratio,
                  join(d.new_shape.runs_per_level).c_str(), d.old_cost, d.new_cost, 100 * d.predicted_gain,
                  d.writes, d.point_hits, d.point_misses, d.seeks);
    put("tuner.decision." + std::to_string(i), std::string(buf) + (d.error.empty() ? "" : "; " + d.error));
  }
  return out;
}

// Writes without fsync: the file is advisory (a machine crash may lose the
// last update), and close() stays cheap. Atomic by rename.
Status write_stats_file(const std::string& dir, const std::string& data) {
  const std::string path = dir + "/" + admin::kStatsFile, tmp = path + ".tmp";
  std::unique_ptr<WritableFile> f;
  LSM4KV_RETURN_IF_ERROR(posix()->new_writable(tmp, &f));
  Status s = f->append(data);
  Status c = f->close();
  if (s.ok()) s = c;
  if (s.ok()) s = posix()->rename(tmp, path);
  if (!s.ok()) posix()->remove(tmp).ignore_error();
  return s;
}

}  // namespace

Status KvStoreImpl::write_stats(const char* state) {
  const std::string data = format_stats(stats(), index_->properties(), opt_.page_tokens, state);
  // One writer at a time: the stats thread and a caller share STATS.tmp.
  std::lock_guard g(stats_file_mu_);
  return write_stats_file(opt_.dir, data);
}

Status KvStoreImpl::persist_stats() {
  LSM4KV_RETURN_IF_ERROR(check_writable("persist_stats"));
  return write_stats("running");
}

void KvStoreImpl::start_stats_writer() {
  // The first write in the thread too: stats() waits for the loader, which
  // open does not.
  stats_thread_ = std::thread([this] {
    persist_stats().ignore_error();  // best effort: the stats file is advisory
    std::unique_lock l(stats_mu_);
    while (!stats_cv_.wait_for(l, kStatsInterval, [this] { return stats_stop_; })) {
      l.unlock();
      persist_stats().ignore_error();  // advisory, as above
      l.lock();
    }
  });
}

void KvStoreImpl::stop_stats_writer() {
  if (!stats_thread_.joinable()) return;
  {
    std::lock_guard g(stats_mu_);
    stats_stop_ = true;
  }
  stats_cv_.notify_all();
  stats_thread_.join();
  write_stats("closed").ignore_error();  // advisory
}

namespace admin {

Status read_stats_file(const std::string& dir, std::vector<std::pair<std::string, std::string>>* out) {
  out->clear();
  std::string data;
  Status s = read_file(posix(), dir + "/" + kStatsFile, &data);
  if (s.is_not_found() || (!s.ok() && !posix()->exists(dir + "/" + kStatsFile)))
    return Status::not_found(dir + ": no stats file (" + kStatsFile + "): the store was never opened by a serving process");
  LSM4KV_RETURN_IF_ERROR(s);
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    std::string line = data.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? data.size() : nl + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos) return Status::corruption(dir + "/" + kStatsFile + ": malformed line '" + line + "'");
    out->emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  return Status::OK();
}


}  // namespace admin
}  // namespace lsm4kv::kvcache
