// kvtool compact, gc, reshape and evict: each prints the store's state before
// and after the operation.
#include <cstdio>
#include <functional>

#include "kvcache_api/store_admin.h"
#include "tools/kvtool/commands.h"
#include "tools/kvtool/output.h"

namespace lsm4kv::kvtool {
namespace {

using kvcache::KvStore;

struct Snapshot {
  LsmShape shape;
  std::vector<int> runs_per_level;
  uint64_t index_files = 0;
  uint64_t segments = 0, live_bytes = 0, dead_bytes = 0, stored_bytes = 0, pages_evicted = 0;
};

Snapshot snapshot(KvStore* store) {
  Snapshot s;
  const kvcache::StoreStats st = store->stats();
  engine::Properties p;
  kvcache::admin::index_properties(*store, &p).ignore_error();  // open: cannot fail
  s.shape = p.shape;
  for (const auto& l : p.levels) s.runs_per_level.push_back(static_cast<int>(l.runs.size()));
  s.index_files = p.live_files;
  s.segments = st.tensor_segments;
  s.live_bytes = st.tensor_live_bytes;
  s.dead_bytes = st.tensor_dead_bytes;
  s.stored_bytes = st.stored_bytes;
  s.pages_evicted = st.pages_evicted;
  return s;
}

void to_json(Json& j, const char* key, const Snapshot& s) {
  j.begin_object(key).field("T", s.shape.size_ratio);
  j.begin_array("K");
  for (int k : s.shape.runs_per_level) j.field({}, k);
  j.end_array().begin_array("runs_per_level");
  for (int r : s.runs_per_level) j.field({}, r);
  j.end_array()
      .field("index_files", s.index_files)
      .field("segments", s.segments)
      .field("live_bytes", s.live_bytes)
      .field("dead_bytes", s.dead_bytes)
      .field("stored_bytes", s.stored_bytes)
      .end_object();
}

void print(const char* when, const Snapshot& s) {
  std::printf("%-7s index T = %d, K = %s, runs per level %s, %llu files; tensor log %llu segments, live %s, "
              "dead %s; stored %s\n",
              when, s.shape.size_ratio, join(s.shape.runs_per_level).c_str(), join(s.runs_per_level).c_str(),
              static_cast<unsigned long long>(s.index_files), static_cast<unsigned long long>(s.segments),
              human_bytes(s.live_bytes).c_str(), human_bytes(s.dead_bytes).c_str(),
              human_bytes(s.stored_bytes).c_str());
}

// Opens the store for writing, runs op, reports before and after.
int operate(const Common& c, const std::function<Status(KvStore*)>& op, const std::function<void(Json&)>& extra = {}) {
  std::unique_ptr<KvStore> store;
  int code = 0;
  if (!open_store(c, true, &store, &code)) return code;
  const Snapshot before = snapshot(store.get());
  Status s = op(store.get());
  if (!s.ok()) return fail_status(c, s, true);
  const Snapshot after = snapshot(store.get());
  s = store->close();
  if (!s.ok()) return fail_status(c, s, true);
  if (c.json) {
    Json j;
    j.begin_object().field("operation", c.command);
    if (extra) extra(j);
    to_json(j, "before", before);
    to_json(j, "after", after);
    j.field("pages_evicted", after.pages_evicted - before.pages_evicted);
    j.end_object();
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("%s: done\n", c.command.c_str());
    print("before", before);
    print("after", after);
    if (after.pages_evicted > before.pages_evicted)
      std::printf("evicted %llu pages\n", static_cast<unsigned long long>(after.pages_evicted - before.pages_evicted));
  }
  return kExitOk;
}

}  // namespace

int run_compact(const Common& c) {
  return operate(c, [](KvStore* s) { return kvcache::admin::compact_index(*s); });
}

int run_gc(const Common& c) {
  return operate(c, [](KvStore* s) { return s->collect_garbage(); });
}

int run_reshape(const Common& c, const ReshapeArgs& a) {
  if (a.size_ratio < 2) return fail(c, kExitUsage, "--T must be at least 2");
  for (int k : a.runs_per_level)
    if (k < 1) return fail(c, kExitUsage, "--K values must be at least 1");
  LsmShape shape{.size_ratio = a.size_ratio, .runs_per_level = a.runs_per_level};
  return operate(c, [&](KvStore* s) { return kvcache::admin::reshape_index(*s, shape); });
}

int run_evict(const Common& c, uint64_t target_bytes) {
  return operate(
      c, [&](KvStore* s) { return s->evict_to(target_bytes); },
      [&](Json& j) { j.field("target_bytes", target_bytes); });
}

}  // namespace lsm4kv::kvtool
