#include "bench/peers/report.h"

#include <cstdio>

#include "bench/bench_util.h"

namespace lsm4kv::bench::peers {
namespace {

double gbps(uint64_t bytes, double s) { return s > 0 ? static_cast<double>(bytes) / s / 1e9 : 0; }

const RunResult* raw_row(const std::vector<RunResult>& rows) {
  for (const RunResult& r : rows) {
    if (r.backend.rfind("raw", 0) == 0) return &r;
  }
  return nullptr;
}

}  // namespace

void print_table(const std::string& title, const std::vector<RunResult>& rows) {
  const RunResult* raw = raw_row(rows);
  const double raw_get = raw ? gbps(raw->get_bytes, raw->get_s) : 0;
  const double raw_put = raw ? gbps(raw->put_bytes, raw->put_s) : 0;
  std::printf("\n%s\n\n", title.c_str());
  std::printf("| backend | hit rate | put GB/s | put p50/p99 ms | get GB/s | get p50/p99 ms | probe p50/p99 us "
              "| disk written / put | files | allocated GiB | wall s | get / raw | put / raw |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const RunResult& r : rows) {
    const double get = gbps(r.get_bytes, r.get_s), put = gbps(r.put_bytes, r.put_s);
    std::printf("| %s | %.3f | %.2f | %.1f / %.1f | %.2f | %.1f / %.1f | %.0f / %.0f | %.2f | %llu | %.2f | %.1f "
                "| %.2f | %.2f |\n",
                r.backend.c_str(),
                r.counted_pages ? static_cast<double>(r.hit_pages) / static_cast<double>(r.counted_pages) : 0.0,
                put, percentile(r.put_ms, 0.5), percentile(r.put_ms, 0.99), get, percentile(r.get_ms, 0.5),
                percentile(r.get_ms, 0.99), percentile(r.probe_us, 0.5), percentile(r.probe_us, 0.99),
                r.put_bytes ? static_cast<double>(r.device_written) / static_cast<double>(r.put_bytes) : 0.0,
                static_cast<unsigned long long>(r.files), static_cast<double>(r.allocated_bytes) / (1 << 30),
                r.wall_s, raw_get > 0 ? get / raw_get : 0.0, raw_put > 0 ? put / raw_put : 0.0);
  }
  std::fflush(stdout);
}

}  // namespace lsm4kv::bench::peers
