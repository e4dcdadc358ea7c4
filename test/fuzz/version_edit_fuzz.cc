// Fuzz target: VersionEdit, the manifest record (engine/version_edit.h).
//
// Input: one selector byte, then:
//   bit 0 = 0: an encoded edit. A decoded edit holds only values the engine
//              can act on (level < kMaxLevels = 16, size ratio T >= 2, K >= 1 per level),
//              and encode(decode(x)) decodes to the same edit.
//   bit 0 = 1: an edit built from the bytes (every field present or not, per
//              the bits of the next byte) -> encode -> decode == the edit.
#include <cstring>
#include <string>

#include "base/coding.h"
#include "engine/counters.h"
#include "engine/version_edit.h"
#include "test/fuzz/fuzz_util.h"

using namespace lsm4kv::engine;
using lsm4kv::fuzz::Input;

namespace {

bool same_run(const RunRecord& a, const RunRecord& b) {
  return a.level == b.level && a.file_number == b.file_number && a.file_size == b.file_size &&
         a.entries == b.entries && a.min_seq == b.min_seq && a.max_seq == b.max_seq;
}

bool same(const VersionEdit& a, const VersionEdit& b) {
  if (a.log_number != b.log_number || a.next_file_number != b.next_file_number ||
      a.last_sequence != b.last_sequence || a.shape != b.shape || a.removed != b.removed ||
      a.added.size() != b.added.size())
    return false;
  for (size_t i = 0; i < a.added.size(); i++)
    if (!same_run(a.added[i], b.added[i])) return false;
  return true;
}

void check_ranges(const VersionEdit& e) {
  if (e.shape) {
    FUZZ_CHECK(e.shape->size_ratio >= 2);
    FUZZ_CHECK(e.shape->runs_per_level.size() <= static_cast<size_t>(kMaxLevels));
    for (int k : e.shape->runs_per_level) FUZZ_CHECK(k >= 1);
  }
  for (const RunRecord& r : e.added) FUZZ_CHECK(r.level >= 0 && r.level < kMaxLevels);
  for (const auto& [level, number] : e.removed) FUZZ_CHECK(level >= 0 && level < kMaxLevels);
}

void decode(std::string_view bytes) {
  VersionEdit e;
  if (!e.decode_from(bytes).ok()) return;
  check_ranges(e);
  std::string enc;
  e.encode_to(&enc);
  VersionEdit f;
  FUZZ_CHECK(f.decode_from(enc).ok());
  FUZZ_CHECK(same(e, f));
  std::string enc2;
  f.encode_to(&enc2);
  FUZZ_CHECK(enc2 == enc);
}

void round_trip(Input* in) {
  uint8_t present = in->byte();
  VersionEdit e;
  if (present & 1) e.log_number = in->u64();
  if (present & 2) e.next_file_number = in->u64();
  if (present & 4) e.last_sequence = in->u64();
  if (present & 8) {
    Shape s;
    s.size_ratio = 2 + in->byte();
    s.runs_per_level.clear();
    for (int n = in->byte() % 8; n > 0; n--) s.runs_per_level.push_back(1 + in->byte());
    e.shape = s;
  }
  while (in->left() > 0) {
    uint8_t kind = in->byte();
    if (kind & 1) {
      e.removed.emplace_back(kind % kMaxLevels, in->u64());
    } else {
      RunRecord r;
      r.level = kind % kMaxLevels;
      r.file_number = in->u64();
      r.file_size = in->u64();
      r.entries = in->u64();
      r.min_seq = in->u64();
      r.max_seq = in->u64();
      e.added.push_back(r);
    }
  }
  std::string enc;
  e.encode_to(&enc);
  VersionEdit f;
  FUZZ_CHECK(f.decode_from(enc).ok());
  FUZZ_CHECK(same(e, f));
  // Every cut of the encoding short of its end is not the same edit: it
  // fails to decode or lacks what the cut removed.
  if (!enc.empty()) {
    VersionEdit g;
    if (g.decode_from(std::string_view(enc).substr(0, enc.size() - 1)).ok())
      FUZZ_CHECK(!same(e, g));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return lsm4kv::fuzz::two_modes(data, size, decode, round_trip);
}
