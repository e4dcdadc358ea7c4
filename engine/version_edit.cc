#include "engine/version_edit.h"

#include "base/coding.h"
#include "engine/counters.h"

namespace lsm4kv::engine {
namespace {
enum Tag : uint32_t {
  kLogNumber = 1,
  kNextFileNumber = 2,
  kLastSequence = 3,
  kShape = 4,
  kAddRun = 5,
  kRemoveRun = 6,
};
// The levels a Version holds (recovery indexes its levels by these numbers).
constexpr uint32_t kMaxLevel = kMaxLevels;
}  // namespace

void VersionEdit::encode_to(std::string* dst) const {
  if (log_number) {
    put_varint32(dst, kLogNumber);
    put_varint64(dst, *log_number);
  }
  if (next_file_number) {
    put_varint32(dst, kNextFileNumber);
    put_varint64(dst, *next_file_number);
  }
  if (last_sequence) {
    put_varint32(dst, kLastSequence);
    put_varint64(dst, *last_sequence);
  }
  if (shape) {
    put_varint32(dst, kShape);
    put_varint32(dst, static_cast<uint32_t>(shape->size_ratio));
    put_varint32(dst, static_cast<uint32_t>(shape->runs_per_level.size()));
    for (int k : shape->runs_per_level) put_varint32(dst, static_cast<uint32_t>(k));
  }
  for (const auto& [level, number] : removed) {
    put_varint32(dst, kRemoveRun);
    put_varint32(dst, static_cast<uint32_t>(level));
    put_varint64(dst, number);
  }
  for (const RunRecord& r : added) {
    put_varint32(dst, kAddRun);
    put_varint32(dst, static_cast<uint32_t>(r.level));
    put_varint64(dst, r.file_number);
    put_varint64(dst, r.file_size);
    put_varint64(dst, r.entries);
    put_varint64(dst, r.min_seq);
    put_varint64(dst, r.max_seq);
  }
}

Status VersionEdit::decode_from(std::string_view in) {
  *this = VersionEdit();
  auto bad = [](const char* what) { return Status::corruption(std::string("version edit: ") + what); };
  while (!in.empty()) {
    uint32_t tag;
    if (!get_varint32(&in, &tag)) return bad("bad tag");
    uint64_t v;
    uint32_t a, b;
    switch (tag) {
      case kLogNumber:
        if (!get_varint64(&in, &v)) return bad("bad log number");
        log_number = v;
        break;
      case kNextFileNumber:
        if (!get_varint64(&in, &v)) return bad("bad next file number");
        next_file_number = v;
        break;
      case kLastSequence:
        if (!get_varint64(&in, &v)) return bad("bad last sequence");
        last_sequence = v;
        break;
      case kShape: {
        Shape s;
        // T and every K become ints: a value past INT_MAX would turn negative.
        if (!get_varint32(&in, &a) || !get_varint32(&in, &b) || a < 2 || a > INT32_MAX ||
            b > kMaxLevel)
          return bad("bad shape");
        s.size_ratio = static_cast<int>(a);
        s.runs_per_level.clear();
        for (uint32_t i = 0; i < b; i++) {
          uint32_t k;
          if (!get_varint32(&in, &k) || k < 1 || k > INT32_MAX) return bad("bad runs per level");
          s.runs_per_level.push_back(static_cast<int>(k));
        }
        shape = s;
        break;
      }
      case kAddRun: {
        RunRecord r;
        if (!get_varint32(&in, &a) || a >= kMaxLevel || !get_varint64(&in, &r.file_number) ||
            !get_varint64(&in, &r.file_size) || !get_varint64(&in, &r.entries) ||
            !get_varint64(&in, &r.min_seq) || !get_varint64(&in, &r.max_seq))
          return bad("bad added run");
        r.level = static_cast<int>(a);
        added.push_back(r);
        break;
      }
      case kRemoveRun:
        if (!get_varint32(&in, &a) || a >= kMaxLevel || !get_varint64(&in, &v))
          return bad("bad removed run");
        removed.emplace_back(static_cast<int>(a), v);
        break;
      default:
        return bad("unknown tag");
    }
  }
  return Status::OK();
}

}  // namespace lsm4kv::engine
