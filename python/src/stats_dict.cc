#include "python/src/stats_dict.h"

#include <pybind11/stl.h>

namespace lsm4kv::python {
namespace py = pybind11;

namespace {

py::dict percentiles(const kvcache::Percentiles& p) {
  py::dict d;
  d["p50_us"] = p.p50_us;
  d["p99_us"] = p.p99_us;
  d["count"] = p.count;
  return d;
}

py::dict memory(const kvcache::MemoryUsage& m) {
  py::dict d;
  d["index_filters"] = m.index_filters;
  d["index_fences"] = m.index_fences;
  d["index_block_cache"] = m.index_block_cache;
  d["index_memtables"] = m.index_memtables;
  d["tensor_tables"] = m.tensor_tables;
  d["eviction"] = m.eviction;
  d["total"] = m.total();
  return d;
}

}  // namespace

py::dict stats_dict(const kvcache::StoreStats& s) {
  py::dict d;
  d["hit_tokens"] = s.hit_tokens;
  d["miss_tokens"] = s.miss_tokens;
  d["hit_pages"] = s.hit_pages;
  d["miss_pages"] = s.miss_pages;
  d["bytes_put"] = s.bytes_put;
  d["bytes_got"] = s.bytes_got;
  d["pages_put"] = s.pages_put;
  d["pages_evicted"] = s.pages_evicted;
  d["evictions"] = s.evictions;
  d["collisions"] = s.collisions;
  d["corrupt_pages_dropped"] = s.corrupt_pages_dropped;
  d["index_rebuilt"] = s.index_rebuilt;
  d["put_latency"] = percentiles(s.put_latency);
  d["probe_latency"] = percentiles(s.probe_latency);
  d["get_latency"] = percentiles(s.get_latency);
  d["tensor_live_bytes"] = s.tensor_live_bytes;
  d["tensor_dead_bytes"] = s.tensor_dead_bytes;
  d["tensor_segments"] = s.tensor_segments;
  d["tensor_file_bytes"] = s.tensor_file_bytes;
  d["tensor_spare_bytes"] = s.tensor_spare_bytes;
  d["gc_bytes_copied"] = s.gc_bytes_copied;
  d["put_stalls"] = s.put_stalls;
  d["put_stall_micros"] = s.put_stall_micros;
  d["maintenance_rounds"] = s.maintenance_rounds;
  d["pages_readmitted"] = s.pages_readmitted;
  d["stored_bytes"] = s.stored_bytes;
  d["files"] = s.files;
  d["size_ratio"] = s.index_shape.size_ratio;
  d["index_runs_per_level_shape"] = s.index_shape.runs_per_level;
  d["runs_per_level"] = s.runs_per_level;
  d["memory"] = memory(s.memory);
  return d;
}

py::dict verify_dict(const kvcache::admin::VerifyReport& r) {
  py::dict d;
  d["clean"] = r.clean();
  d["problems"] = r.problems;
  d["run_files"] = r.run_files;
  d["wal_files"] = r.wal_files;
  d["manifests"] = r.manifests;
  d["segments"] = r.segments;
  d["entries"] = r.entries;
  d["records"] = r.records;
  d["record_bytes"] = r.record_bytes;
  return d;
}

}  // namespace lsm4kv::python
