// Fuzz target: SortedRun::open over a whole file (engine/sorted_run.h), then
// every way of reading it: verify(), a full scan both ways, seeks, gets.
//
// Input: one selector byte, then:
//   bit 0 = 0: the file's bytes, as is. Whatever open() accepts must read
//              without crashing; a verify() that passes implies that a full
//              scan passes, with exactly properties().entries entries in
//              strictly increasing key order, each found again by get().
//   bit 0 = 1: entries cut from the bytes are written with RunBuilder (block
//              size, restart interval and Bloom bits from the selector), and
//              then, when bit 1 is set, one byte of the file is flipped. The
//              intact run must read back exactly its entries. A damaged run
//              must fail cleanly or still answer correctly: every block and
//              the footer carry a checksum, so no read may return wrong data.
#include <map>
#include <string>
#include <vector>

#include "engine/run_builder.h"
#include "engine/sorted_run.h"
#include "test/fuzz/fuzz_util.h"

using namespace lsm4kv::engine;
using lsm4kv::Status;
using lsm4kv::fuzz::Input;
using lsm4kv::fuzz::MemFileSystem;

namespace {

const std::string kPath = "/db/000007.run";

struct Entry {
  EntryType type;
  SequenceNumber seq;
  std::string value;
  bool operator==(const Entry&) const = default;
};
using Model = std::map<std::string, Entry>;

Entry at(const InternalIterator& it) { return {it.type(), it.seq(), std::string(it.value())}; }

// Scans forward and backward. Returns the entries seen by a clean forward
// scan in *out; false when a scan failed. `expect` (may be null): every
// entry returned must be in it.
bool scan(const SortedRun& run, const Model* expect, Model* out) {
  ReadOptions ro;
  auto it = run.new_iterator(ro);
  std::string prev;
  size_t n = 0;
  for (it->seek_to_first(); it->valid(); it->next()) {
    std::string k(it->key());
    if (n++ > 0) FUZZ_CHECK(prev < k);  // a run's keys are strictly increasing
    if (expect) {
      auto e = expect->find(k);
      FUZZ_CHECK(e != expect->end());
      FUZZ_CHECK(e->second == at(*it));
    }
    (*out)[k] = at(*it);
    prev = std::move(k);
  }
  if (!it->status().ok()) {
    FUZZ_CHECK(it->status().to_string().find(kPath) != std::string::npos);
    return false;
  }
  size_t back = 0;
  for (it->seek_to_last(); it->valid(); it->prev()) {
    auto e = out->find(std::string(it->key()));
    FUZZ_CHECK(e != out->end());
    FUZZ_CHECK(e->second == at(*it));
    back++;
  }
  if (!it->status().ok()) return false;
  FUZZ_CHECK(back == out->size());
  return true;
}

// Point lookups and seeks for every key of `keys` (and its neighbours).
// Answers that are OK must agree with `truth`.
void lookups(const SortedRun& run, const Model& keys, const Model& truth) {
  ReadOptions ro;
  auto it = run.new_iterator(ro);
  for (const auto& [k, e] : keys) {
    for (const std::string& probe : {k, k + '\0', k.empty() ? k : k.substr(0, k.size() - 1)}) {
      RunLookup r;
      Status s = run.get(probe, ro, &r);
      if (s.ok()) {
        auto t = truth.find(probe);
        FUZZ_CHECK(r.found == (t != truth.end()));
        if (r.found) FUZZ_CHECK((Entry{r.type, r.seq, r.value} == t->second));
      } else {
        FUZZ_CHECK(s.to_string().find(kPath) != std::string::npos);
      }
      it->seek(probe);
      if (it->valid()) {
        auto t = truth.lower_bound(probe);
        FUZZ_CHECK(t != truth.end() && t->first == it->key() && t->second == at(*it));
      } else if (it->status().ok()) {
        FUZZ_CHECK(truth.lower_bound(probe) == truth.end());
      }
      it->seek_for_prev(probe);
      if (it->valid()) {
        auto t = truth.upper_bound(probe);
        FUZZ_CHECK(t != truth.begin());
        --t;
        FUZZ_CHECK(t->first == it->key() && t->second == at(*it));
      } else if (it->status().ok()) {
        FUZZ_CHECK(truth.upper_bound(probe) == truth.begin());
      }
    }
  }
}

void decode(std::string_view bytes) {
  MemFileSystem fs;
  fs.files[kPath] = std::string(bytes);
  std::shared_ptr<SortedRun> run;
  Status s = SortedRun::open(&fs, kPath, 7, nullptr, nullptr, &run);
  if (!s.ok()) {
    FUZZ_CHECK(s.to_string().find(kPath) != std::string::npos);
    return;
  }
  bool verified = run->verify().ok();
  Model seen;
  bool scanned = scan(*run, nullptr, &seen);
  if (verified) {
    FUZZ_CHECK(scanned);
    FUZZ_CHECK(seen.size() == run->entries());
    lookups(*run, seen, seen);
  } else if (scanned) {
    lookups(*run, seen, seen);
  }
}

void build(uint8_t selector, Input* in) {
  RunBuildOptions o;
  o.block_size = 64 << (in->byte() % 7);
  o.restart_interval = 1 + in->byte() % 17;
  o.bloom_bits_per_key = (in->byte() % 40) / 2.0;
  bool damage = selector & 2;
  size_t damage_at = 0;
  if (damage) damage_at = in->byte() | size_t{in->byte()} << 8 | size_t{in->byte()} << 16;
  Model truth;
  std::vector<RangeTombstone> ts;
  while (in->left() > 0) {
    uint8_t kind = in->byte();
    std::string key(in->take(in->byte() % 20));
    SequenceNumber seq = in->byte() | uint64_t{kind} << 8;
    if (kind % 8 == 7) {
      ts.push_back({key, std::string(in->take(in->byte() % 20)), seq});
      continue;
    }
    Entry e{kind % 2 ? EntryType::kPut : EntryType::kDelete, seq, ""};
    if (e.type == EntryType::kPut) e.value = std::string(in->take(in->byte() % 64));
    truth[key] = e;
  }
  MemFileSystem fs;
  {
    std::unique_ptr<lsm4kv::WritableFile> f;
    FUZZ_CHECK(fs.new_writable(kPath, &f).ok());
    RunBuilder b(o, std::move(f));
    for (const auto& [k, e] : truth) FUZZ_CHECK(b.add(k, e.type, e.seq, e.value).ok());
    b.set_range_tombstones(FragmentedTombstones(ts));
    RunMeta meta;
    FUZZ_CHECK(b.finish(&meta).ok());
    FUZZ_CHECK(meta.file_size == fs.files[kPath].size());
    FUZZ_CHECK(meta.entries == truth.size());
  }
  std::string& file = fs.files[kPath];
  if (damage) {
    damage_at %= file.size();
    file[damage_at] = static_cast<char>(file[damage_at] ^ (1 << (selector >> 5)));
  }
  std::shared_ptr<SortedRun> run;
  Status s = SortedRun::open(&fs, kPath, 7, nullptr, nullptr, &run);
  if (!damage) {
    FUZZ_CHECK(s.ok());
    FUZZ_CHECK(run->verify().ok());
    FUZZ_CHECK(run->entries() == truth.size());
    FUZZ_CHECK(run->range_tombstones() == FragmentedTombstones(ts));
    Model seen;
    FUZZ_CHECK(scan(*run, &truth, &seen));
    FUZZ_CHECK(seen == truth);
    lookups(*run, truth, truth);
    return;
  }
  if (!s.ok()) {
    FUZZ_CHECK(s.is_corruption());
    FUZZ_CHECK(s.to_string().find(kPath) != std::string::npos);
    return;
  }
  // The flip landed somewhere open() does not read (a data block): verify()
  // reads everything and must notice.
  FUZZ_CHECK(!run->verify().ok());
  FUZZ_CHECK(run->range_tombstones() == FragmentedTombstones(ts));
  Model seen;
  scan(*run, &truth, &seen);
  lookups(*run, truth, truth);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  uint8_t selector = in.byte();
  if (selector & 1) build(selector, &in);
  else decode(in.rest());
  return 0;
}
