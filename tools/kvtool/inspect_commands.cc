// kvtool info, stats, tree and verify; the shared open and error helpers.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "kvcache_api/store_admin.h"
#include "tools/kvtool/commands.h"
#include "tools/kvtool/output.h"

namespace lsm4kv::kvtool {
namespace {

using kvcache::KvStore;

// "opaque" for a namespace declared by bytes per token.
const char* dtype_name(const kvcache::KvLayout& l) {
  if (l.is_opaque()) return "opaque";
  switch (l.dtype) {
    case kvcache::DType::kF16: return "f16";
    case kvcache::DType::kBF16: return "bf16";
    case kvcache::DType::kF32: return "f32";
    case kvcache::DType::kFP8: return "fp8";
  }
  return "?";
}

// "pid 1234 per DIR/STATS, updated 3 s ago" when the stats file says a
// process has the store open.
std::string holder(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> kv;
  if (!kvcache::admin::read_stats_file(dir, &kv).ok()) return "pid unknown";
  std::map<std::string, std::string> m(kv.begin(), kv.end());
  if (m["state"] != "running") return "pid unknown";
  std::string s = "pid " + m["pid"] + " according to " + dir + "/" + kvcache::admin::kStatsFile;
  if (is_number(m["written_unix_ms"])) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    long long ago = now.count() - std::stoll(m["written_unix_ms"]) / 1000;
    s += ", updated " + std::to_string(ago) + " s ago";
  }
  return s;
}

void print_progress(uint64_t done, uint64_t total) {
  constexpr int kWidth = 40;
  const double f = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(f * kWidth);
  std::string bar(filled, '#');
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\rverify [%s] %3d%%  %s / %s ", bar.c_str(), static_cast<int>(f * 100),
               human_bytes(done).c_str(), human_bytes(total).c_str());
  std::fflush(stderr);
}

}  // namespace

int fail(const Common& c, int code, const std::string& message) {
  std::fprintf(stderr, "kvtool %s: %s\n", c.command.c_str(), message.c_str());
  return code;
}

int fail_status(const Common& c, const Status& s, bool writing) {
  if (s.is_invalid_argument()) return fail(c, kExitUsage, s.message());
  if (s.is_busy()) {
    std::string what = c.dir + " is open in another process (" + holder(c.dir) + "); ";
    if (writing) what += "refusing to change a store another process is using: stop it first";
    else what += "its locks are held, so '" + c.command + "' cannot read it: stop that process, or use 'kvtool stats' (reads the stats file it writes)";
    return fail(c, kExitProblems, what);
  }
  return fail(c, kExitProblems, s.to_string());
}

// Inspection opens the store read-only: it writes nothing to the directory
// (no index recovery, no stats file), so a damaged store is shown as it is.
bool open_store(const Common& c, bool writing, std::unique_ptr<KvStore>* out, int* code) {
  kvcache::StoreOptions o;
  o.dir = c.dir;
  o.read_only = !writing;
  Status s = kvcache::admin::open_existing(o, out);
  if (s.ok()) return true;
  *code = fail_status(c, s, writing);
  return false;
}

// ------------------------------------------------------------------- info

namespace {

// What kvtool info shows, gathered once for either form.
struct Info {
  std::vector<kvcache::admin::NamespaceInfo> namespaces;
  kvcache::StoreStats st;
  engine::Properties p;
  std::vector<tensorlog::SegmentInfo> segments;
  uint64_t pages = 0, index_entries = 0, bloom = 0, fences = 0;
  double live_ratio = 1.0;
  std::vector<std::pair<std::string, std::string>> tuner;  // "tuner.decision.*" lines of the stats file
};

Status gather_info(const Common& c, KvStore& store, Info* info) {
  auto& [namespaces, st, p, segments, pages, index_entries, bloom, fences, live_ratio, tuner] = *info;
  LSM4KV_RETURN_IF_ERROR(kvcache::admin::list_namespaces(store, &namespaces));
  st = store.stats();
  LSM4KV_RETURN_IF_ERROR(kvcache::admin::index_properties(store, &p));
  LSM4KV_RETURN_IF_ERROR(kvcache::admin::segments(store, &segments));
  for (const auto& n : namespaces) pages += n.pages;
  for (const auto& l : p.levels)
    for (const auto& r : l.runs) {
      index_entries += r.entries;
      bloom += r.bloom_memory_bytes;
      fences += r.fence_memory_bytes;
    }
  const uint64_t tensor_total = st.tensor_live_bytes + st.tensor_dead_bytes;
  live_ratio = tensor_total == 0 ? 1.0 : static_cast<double>(st.tensor_live_bytes) / tensor_total;
  // Tuner decisions are whatever "tuner.*" lines the last session's stats file holds.
  std::vector<std::pair<std::string, std::string>> persisted;
  kvcache::admin::read_stats_file(c.dir, &persisted).ignore_error();  // no stats file: no decisions to show
  for (const auto& kv : persisted)
    if (kv.first.starts_with("tuner.decision.")) tuner.push_back(kv);
  return Status::OK();
}

void print_info_json(const Common& c, const KvStore& store, const Info& info) {
  const auto& [namespaces, st, p, segments, pages, index_entries, bloom, fences, live_ratio, tuner] = info;
  Json j;
  j.begin_object()
      .field("dir", c.dir)
      .field("page_tokens", store.page_tokens())
      .field("pages", pages)
      .field("bytes", st.stored_bytes)
      .field("files", static_cast<uint64_t>(st.files));
  j.begin_array("namespaces");
  for (const auto& n : namespaces) {
    j.begin_object()
        .field("name", n.name)
        .field("id", static_cast<uint64_t>(n.id))
        .field("layers", n.layout.layers)
        .field("kv_heads", n.layout.kv_heads)
        .field("head_dim", n.layout.head_dim)
        .field("dtype", dtype_name(n.layout))
        .field("bytes_per_token", static_cast<uint64_t>(n.layout.bytes_per_token()))
        .field("pages", n.pages)
        .field("bytes", n.bytes)
        .end_object();
  }
  j.end_array();
  j.begin_object("index").field("T", p.shape.size_ratio);
  j.begin_array("K");
  for (int k : p.shape.runs_per_level) j.field({}, k);
  j.end_array();
  j.field("entries", index_entries).field("bloom_bytes", static_cast<uint64_t>(bloom))
      .field("fence_bytes", static_cast<uint64_t>(fences)).field("live_files", static_cast<uint64_t>(p.live_files));
  j.begin_array("levels");
  for (const auto& l : p.levels) {
    uint64_t lb = 0, le = 0;
    for (const auto& r : l.runs) {
      lb += r.bloom_memory_bytes;
      le += r.entries;
    }
    j.begin_object()
        .field("level", l.level)
        .field("runs", static_cast<uint64_t>(l.runs.size()))
        .field("max_runs", l.max_runs)
        .field("bytes", l.bytes)
        .field("capacity_bytes", l.capacity_bytes)
        .field("entries", le)
        .field("bloom_bytes", lb)
        .end_object();
  }
  j.end_array().end_object();
  j.begin_object("tensor_log")
      .field("segments", static_cast<uint64_t>(segments.size()))
      .field("live_bytes", st.tensor_live_bytes)
      .field("dead_bytes", st.tensor_dead_bytes)
      .field("live_ratio", live_ratio);
  j.begin_array("segment_list");
  for (const auto& sg : segments) {
    const uint64_t t = sg.live_bytes + sg.dead_bytes;
    j.begin_object()
        .field("id", sg.id)
        .field("file_bytes", sg.file_bytes)
        .field("live_bytes", sg.live_bytes)
        .field("dead_bytes", sg.dead_bytes)
        .field("live_ratio", t == 0 ? 1.0 : static_cast<double>(sg.live_bytes) / t)
        .field("records", sg.records)
        .field("live_records", sg.live_records)
        .field("sealed", sg.sealed)
        .field("active", sg.active)
        .field("torn_bytes", sg.torn_bytes)
        .end_object();
  }
  j.end_array().end_object();
  j.begin_object("tuner").field("T", p.shape.size_ratio);
  j.begin_array("K");
  for (int k : p.shape.runs_per_level) j.field({}, k);
  j.end_array();
  j.begin_array("decisions");
  for (const auto& [k, v] : tuner) j.field({}, v);
  j.end_array().end_object();
  j.end_object();
  std::printf("%s\n", j.str().c_str());
}

void print_info_text(const Common& c, const KvStore& store, const Info& info) {
  const auto& [namespaces, st, p, segments, pages, index_entries, bloom, fences, live_ratio, tuner] = info;
  std::printf("store          %s\n", c.dir.c_str());
  std::printf("page size      %u tokens\n", store.page_tokens());
  std::printf("stored         %llu pages, %s (%llu bytes)\n", static_cast<unsigned long long>(pages),
              human_bytes(st.stored_bytes).c_str(), static_cast<unsigned long long>(st.stored_bytes));
  std::printf("files          %zu (index %zu, tensor-log segments %zu)\n", st.files, p.live_files, segments.size());
  std::printf("\nnamespaces (%zu)\n", namespaces.size());
  std::printf("  %4s  %-24s %7s %8s %8s %5s %12s %10s %12s\n", "id", "name", "layers", "kv_heads", "head_dim",
              "dtype", "bytes/token", "pages", "bytes");
  for (const auto& n : namespaces)
    std::printf("  %4u  %-24s %7u %8u %8u %5s %12zu %10llu %12s\n", n.id, n.name.c_str(), n.layout.layers,
                n.layout.kv_heads, n.layout.head_dim, dtype_name(n.layout), n.layout.bytes_per_token(),
                static_cast<unsigned long long>(n.pages), human_bytes(n.bytes).c_str());
  std::printf("\nindex          T = %d, K = %s; %llu entries; Bloom filters %s, fence pointers %s\n",
              p.shape.size_ratio, join(p.shape.runs_per_level).c_str(),
              static_cast<unsigned long long>(index_entries), human_bytes(bloom).c_str(), human_bytes(fences).c_str());
  std::printf("  %5s %5s %5s %12s %12s %10s %10s\n", "level", "runs", "K", "bytes", "capacity", "entries", "bloom");
  for (const auto& l : p.levels) {
    uint64_t lb = 0, le = 0;
    for (const auto& r : l.runs) {
      lb += r.bloom_memory_bytes;
      le += r.entries;
    }
    std::printf("  %5d %5zu %5s %12s %12s %10llu %10s\n", l.level, l.runs.size(),
                l.level == 0 ? "-" : std::to_string(l.max_runs).c_str(), human_bytes(l.bytes).c_str(),
                l.level == 0 ? "-" : human_bytes(l.capacity_bytes).c_str(), static_cast<unsigned long long>(le),
                human_bytes(lb).c_str());
  }
  std::printf("\ntensor log     %zu segments, live %s, dead %s, live ratio %.3f\n", segments.size(),
              human_bytes(st.tensor_live_bytes).c_str(), human_bytes(st.tensor_dead_bytes).c_str(), live_ratio);
  std::printf("  %8s %12s %12s %12s %6s %9s %s\n", "segment", "file", "live", "dead", "live%", "records", "state");
  for (const auto& sg : segments) {
    const uint64_t t = sg.live_bytes + sg.dead_bytes;
    const std::string state = sg.active ? "active"
                              : sg.sealed ? "sealed"
                              : sg.torn_bytes > 0 ? "unsealed, torn tail of " + std::to_string(sg.torn_bytes) + " bytes"
                                                  : "unsealed";
    std::printf("  %8llu %12s %12s %12s %5.1f%% %9llu %s\n", static_cast<unsigned long long>(sg.id),
                human_bytes(sg.file_bytes).c_str(), human_bytes(sg.live_bytes).c_str(),
                human_bytes(sg.dead_bytes).c_str(), t == 0 ? 100.0 : 100.0 * sg.live_bytes / t,
                static_cast<unsigned long long>(sg.records), state.c_str());
  }
  std::printf("\ntuner          current shape T = %d, K = %s\n", p.shape.size_ratio,
              join(p.shape.runs_per_level).c_str());
  if (tuner.empty()) std::printf("  no decisions recorded in %s/%s\n", c.dir.c_str(), kvcache::admin::kStatsFile);
  else std::printf("  recent decisions (last session, oldest first; unix ms, outcome, shape, modelled I/Os per op):\n");
  for (const auto& [k, v] : tuner) std::printf("  %s\n", v.c_str());
}

}  // namespace

int run_info(const Common& c) {
  std::unique_ptr<KvStore> store;
  int code = 0;
  if (!open_store(c, false, &store, &code)) return code;
  Info info;
  Status s = gather_info(c, *store, &info);
  if (!s.ok()) return fail_status(c, s, false);
  if (c.json) print_info_json(c, *store, info);
  else print_info_text(c, *store, info);
  return kExitOk;
}

// ------------------------------------------------------------------ stats

// Reads only the stats file: works while a serving process has the store open.
int run_stats(const Common& c) {
  std::error_code ec;
  if (!std::filesystem::is_directory(c.dir, ec)) return fail(c, kExitUsage, c.dir + ": no such directory");
  if (!std::filesystem::exists(c.dir + "/index/CURRENT", ec))
    return fail(c, kExitUsage, c.dir + ": not an lsm4kv store (no index/CURRENT)");
  std::vector<std::pair<std::string, std::string>> kv;
  Status s = kvcache::admin::read_stats_file(c.dir, &kv);
  if (!s.ok()) return fail(c, kExitProblems, s.message());
  if (c.json) {
    Json j;
    j.begin_object();
    for (const auto& [k, v] : kv) {
      if (is_number(v)) j.raw(k, v);
      else j.field(k, v);
    }
    j.end_object();
    std::printf("%s\n", j.str().c_str());
    return kExitOk;
  }
  std::map<std::string, std::string> m(kv.begin(), kv.end());
  std::string when;
  if (is_number(m["written_unix_ms"])) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    when = ", written " + std::to_string(now.count() - std::stoll(m["written_unix_ms"]) / 1000) + " s ago";
  }
  std::printf("%s/%s: %s by pid %s%s\n", c.dir.c_str(), kvcache::admin::kStatsFile,
              m["state"] == "running" ? "a running store (updated every few seconds)" : "the last session, at close",
              m["pid"].c_str(), when.c_str());
  for (const auto& [k, v] : kv) {
    if (k == "state" || k == "pid" || k == "written_unix_ms" || k == "format") continue;
    std::printf("  %-32s %s\n", k.c_str(), v.c_str());
  }
  return kExitOk;
}

// ------------------------------------------------------------------- tree

namespace {
std::string hex_key(std::string_view key) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < key.size(); i++) {
    unsigned char ch = static_cast<unsigned char>(key[i]);
    s += digits[ch >> 4];
    s += digits[ch & 15];
  }
  return s;
}
}  // namespace

int run_tree(const Common& c, const TreeArgs& a) {
  std::unique_ptr<KvStore> store;
  int code = 0;
  if (!open_store(c, false, &store, &code)) return code;
  kvcache::admin::TreeInfo t;
  Status s = kvcache::admin::tree(*store, a.ns, a.depth, a.top, &t);
  if (!s.ok()) return fail_status(c, s, false);
  auto fanout = [](const kvcache::admin::TreeLevel& l) {
    return l.parents == 0 ? 0.0 : static_cast<double>(l.children) / static_cast<double>(l.parents);
  };
  if (c.json) {
    Json j;
    j.begin_object()
        .field("namespace", a.ns)
        .field("page_tokens", store->page_tokens())
        .field("roots", t.roots)
        .field("pages", t.pages)
        .field("bytes", t.bytes);
    j.begin_array("depths");
    for (const auto& l : t.levels)
      j.begin_object()
          .field("depth", static_cast<uint64_t>(l.depth))
          .field("pages", l.pages)
          .field("bytes", l.bytes)
          .field("parents", l.parents)
          .field("children", l.children)
          .field("mean_fanout", fanout(l))
          .field("max_fanout", l.max_fanout)
          .end_object();
    j.end_array();
    j.begin_array("largest");
    for (const auto& st : t.largest) {
      j.begin_object()
          .field("root", hex_key(st.root_key))
          .field("pages", st.pages)
          .field("bytes", st.bytes)
          .field("depth", static_cast<uint64_t>(st.depth))
          .end_object();
    }
    j.end_array().end_object();
    std::printf("%s\n", j.str().c_str());
    return kExitOk;
  }
  std::printf("namespace %s: %llu root pages, %llu pages, %s (pages of %u tokens)\n", a.ns.c_str(),
              static_cast<unsigned long long>(t.roots), static_cast<unsigned long long>(t.pages),
              human_bytes(t.bytes).c_str(), store->page_tokens());
  std::printf("  %6s %10s %12s %10s %13s %11s\n", "depth", "pages", "bytes", "parents", "mean fan-out", "max fan-out");
  for (const auto& l : t.levels)
    std::printf("  %6zu %10llu %12s %10llu %13.2f %11llu\n", l.depth, static_cast<unsigned long long>(l.pages),
                human_bytes(l.bytes).c_str(), static_cast<unsigned long long>(l.parents), fanout(l),
                static_cast<unsigned long long>(l.max_fanout));
  if (!t.largest.empty()) std::printf("largest subtrees\n");
  for (const auto& st : t.largest) {
    std::printf("  root %s  %llu pages  %s  depth %zu\n", hex_key(st.root_key).c_str(),
                static_cast<unsigned long long>(st.pages), human_bytes(st.bytes).c_str(), st.depth);
  }
  return kExitOk;
}

// ----------------------------------------------------------------- verify

int run_verify(const Common& c) {
  kvcache::StoreOptions o;
  o.dir = c.dir;
  kvcache::admin::VerifyReport r;
  const bool bar = !c.json && ::isatty(STDERR_FILENO);
  kvcache::admin::VerifyProgress progress;
  if (bar) progress = print_progress;
  Status s = kvcache::admin::verify_dir(o, &r, progress);
  if (bar) std::fprintf(stderr, "\n");
  if (!s.ok() && (s.is_busy() || s.is_invalid_argument())) return fail_status(c, s, false);
  if (!s.ok()) r.problems.push_back(s.to_string());
  if (c.json) {
    Json j;
    j.begin_object()
        .field("clean", r.clean())
        .field("run_files", r.run_files)
        .field("wal_files", r.wal_files)
        .field("manifests", r.manifests)
        .field("segments", r.segments)
        .field("entries", r.entries)
        .field("records", r.records)
        .field("record_bytes", r.record_bytes);
    j.begin_array("problems");
    for (const auto& p : r.problems) j.field({}, p);
    j.end_array().end_object();
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("checked %llu run files, %llu WALs, %llu manifest, %llu segments, %llu index entries, "
                "%llu tensor records (%s)\n",
                static_cast<unsigned long long>(r.run_files), static_cast<unsigned long long>(r.wal_files),
                static_cast<unsigned long long>(r.manifests), static_cast<unsigned long long>(r.segments),
                static_cast<unsigned long long>(r.entries), static_cast<unsigned long long>(r.records),
                human_bytes(r.record_bytes).c_str());
    if (r.clean()) std::printf("clean\n");
    else std::printf("%zu problems:\n", r.problems.size());
    for (const auto& p : r.problems) std::printf("  %s\n", p.c_str());
  }
  return r.clean() ? kExitOk : kExitProblems;
}

}  // namespace lsm4kv::kvtool
