// kvtool repair: rebuilds a store's index from its tensor log
// (KvStore::repair) and reports what was kept and what was lost. Exit 0 when
// every valid page was kept and no record was damaged, 1 when the repair
// failed or lost pages (damaged records, pages whose ancestors were lost).
#include <cstdio>

#include "tools/kvtool/commands.h"
#include "tools/kvtool/output.h"

namespace lsm4kv::kvtool {

int run_repair(const Common& c) {
  kvcache::StoreOptions o;
  o.dir = c.dir;
  kvcache::RepairReport r;
  Status s = kvcache::KvStore::repair(o, &r);
  if (!s.ok()) return fail_status(c, s, true);
  const bool lost = r.damaged_records > 0 || r.pages_dropped > 0;
  if (c.json) {
    Json j;
    j.begin_object()
        .field("operation", "repair")
        .field("dir", c.dir)
        .field("records_scanned", r.records_scanned)
        .field("pages_kept", r.pages_kept)
        .field("pages_dropped", r.pages_dropped)
        .field("damaged_records", r.damaged_records)
        .field("duplicates", r.duplicates)
        .field("foreign_records", r.foreign_records);
    j.begin_array("problems");
    for (const std::string& p : r.problems) j.field({}, p);
    j.end_array().end_object();
    std::printf("%s\n", j.str().c_str());
  } else {
    auto line = [](const char* what, uint64_t n, const char* note) {
      std::printf("  %-16s %llu%s\n", what, static_cast<unsigned long long>(n), note);
    };
    std::printf("repair: rebuilt %s/index from the tensor log (the old index is in %s/index.damaged)\n",
                c.dir.c_str(), c.dir.c_str());
    line("records scanned", r.records_scanned, "");
    line("pages kept", r.pages_kept, "");
    line("pages dropped", r.pages_dropped, "  (an ancestor's record is missing or damaged)");
    line("damaged records", r.damaged_records, "  (skipped)");
    line("duplicates", r.duplicates, "  (older copies of a page; the newest is kept)");
    line("foreign records", r.foreign_records, "  (no registered namespace, or another page size)");
    for (const std::string& p : r.problems) std::printf("  damaged: %s\n", p.c_str());
  }
  return lost ? kExitProblems : kExitOk;
}

}  // namespace lsm4kv::kvtool
