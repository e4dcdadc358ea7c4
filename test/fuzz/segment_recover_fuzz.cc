// Fuzz target: recover_segment (tensorlog/segment.h), the scan of a segment
// file at open: its header, its footer and index when sealed, every record
// when not, then the cut back and the seal.
//
// Input: one selector byte, then:
//   bit 0 = 0: the file's bytes, as is (rounded down to whole blocks half of
//              the time, as the writer leaves them).
//   bit 0 = 1: a file laid out from a description, so that the fuzzer gets
//              past the checksums: a header (valid, or damaged at a chosen
//              byte), records (codec, tag, payload; checksum right or wrong;
//              a chosen byte damaged), then nothing, a torn record, garbage,
//              the seal build_seal() writes, or a footer whose fields come
//              from the input but whose checksum is right.
// Properties, when recovery succeeds on a non-empty segment:
//   - the records are in increasing offset order, start at kAlign or later
//     where next_record_offset() puts them (a multiple of kRecordAlign, a
//     block boundary for a large one), and their allocations do not overlap;
//   - a segment that was scanned (not sealed before) lists records that each
//     verify when read back from the file, and is sealed afterwards;
//   - recovering the same file again gives the same records (from the index).
#include <cstring>
#include <string>
#include <vector>

#include "base/coding.h"
#include "tensorlog/codec.h"
#include "tensorlog/record_format.h"
#include "tensorlog/segment.h"
#include "test/fuzz/fuzz_util.h"
#include "test/fuzz/record_util.h"

using namespace lsm4kv::tensorlog;
using lsm4kv::Status;
using lsm4kv::fuzz::Input;
using lsm4kv::fuzz::MemFileSystem;

namespace {

constexpr uint64_t kId = 7;
const std::string kDir = "/tl";

std::string path() { return kDir + "/" + segment_file_name(kId); }

// A record from the input: codec, tag, payload (a pattern stretched to its
// length, so that LZ4 frames appear); its checksum right or from the input.
std::string record_from(Input* in, bool good_checksum) {
  uint8_t codec = in->byte() % 3;
  std::string tag(in->take(in->byte() % 64));
  size_t raw_len = in->byte() | static_cast<size_t>(in->byte() % 32) << 8;
  std::string_view src = in->take(in->byte());
  std::string raw(raw_len, '\0');
  for (size_t i = 0; i < raw_len && !src.empty(); i++) raw[i] = src[i % src.size()];
  std::string rec = lsm4kv::fuzz::make_record(codec, tag, raw, kId);
  if (!good_checksum) lsm4kv::encode_fixed64(rec.data() + 24, in->u64());
  return rec;
}

std::string describe(Input* in) {
  std::string file(kAlign, '\0');
  uint8_t hflags = in->byte();
  if (hflags % 8 != 0) {  // 1 in 8: an all-zero header block (never synced)
    encode_segment_header(hflags % 8 == 1 ? kId + 1 : kId, file.data());
    if (hflags & 0x80) file[in->byte() % kSegmentHeaderSize] ^= static_cast<char>(1 + in->byte() % 255);
  }
  std::vector<SegmentRecord> recs;
  int n = in->byte() % 6;
  for (int i = 0; i < n && in->left() > 0; i++) {
    uint8_t flags = in->byte();
    std::string rec = record_from(in, (flags & 3) != 0);
    if ((flags & 0x1c) == 0x1c) rec[in->byte() % rec.size()] ^= 0x01;  // damaged
    const uint64_t at = next_record_offset(file.size(), rec.size());
    file.resize(at, '\0');
    recs.push_back({at, rec.size(), false});
    file += rec;
    file.resize(at + allocated_bytes(rec.size()), '\0');
  }
  switch (in->byte() % 5) {
    case 0: break;
    case 1:  // a torn record: half of one appended
      if (!recs.empty()) {
        std::string rec = record_from(in, true);
        file += rec.substr(0, rec.size() / 2);
        file.resize(record_align_up(file.size()), '\0');
      }
      break;
    case 2: {  // garbage blocks
      std::string g(in->take(in->byte() % 64));
      if (!g.empty()) {
        file += g;
        file.resize(record_align_up(file.size()), '\0');
      }
      break;
    }
    case 3:  // the writer's seal
      file += build_seal(kId, file.size(), recs);
      break;
    case 4: {  // a footer with any fields, checksum right; maybe an index record
      if (in->byte() & 1) file += build_seal(kId, file.size(), recs).substr(0, kAlign);
      std::string block(kAlign, '\0');
      uint64_t id = in->byte() & 1 ? kId : kId + 1;
      uint64_t index_offset = in->u64();
      uint64_t index_length = in->u64();
      encode_footer(id, index_offset, index_length, block.data());
      file += block;
      break;
    }
  }
  return file;
}

struct Recovered {
  Status status;
  bool empty = false;
  SegmentRecords recs;
};

Recovered recover(MemFileSystem* fs) {
  Recovered r;
  r.status = recover_segment(fs, kDir, kId, /*read_only=*/false, &r.recs, &r.empty);
  if (!r.status.ok()) FUZZ_CHECK(r.status.to_string().find(path()) != std::string::npos);
  return r;
}

void check(MemFileSystem* fs) {
  const std::string before = fs->files[path()];
  Recovered r = recover(fs);
  if (!r.status.ok() || r.empty) return;
  const std::string& file = fs->files[path()];
  uint64_t end = kAlign;
  for (const SegmentRecord& rec : r.recs.records) {
    FUZZ_CHECK(rec.offset % kRecordAlign == 0);
    if (block_aligned_record(rec.length)) FUZZ_CHECK(rec.offset % kAlign == 0);
    FUZZ_CHECK(rec.offset >= end);
    FUZZ_CHECK(rec.length >= kRecordHeaderSize);
    end = rec.offset + allocated_bytes(rec.length);
  }
  FUZZ_CHECK(r.recs.sealed);
  // Sealed now, and not by this recovery: whatever the index lists is taken
  // as is (checked when read). Scanned by this recovery: all must verify.
  bool scanned = file != before;
  if (scanned) {
    for (const SegmentRecord& rec : r.recs.records) {
      FUZZ_CHECK(rec.offset + rec.length <= file.size());
      RecordHeader h;
      Location loc{kId, rec.offset, rec.length};
      FUZZ_CHECK(verify_record(file.data() + rec.offset, loc, &h).ok());
    }
  }
  Recovered again = recover(fs);
  FUZZ_CHECK(again.status.ok() && !again.empty && again.recs.sealed);
  FUZZ_CHECK(fs->files[path()] == file);  // nothing left to cut or seal
  FUZZ_CHECK(again.recs.records.size() == r.recs.records.size());
  for (size_t i = 0; i < r.recs.records.size(); i++) {
    FUZZ_CHECK(again.recs.records.at(i).offset == r.recs.records.at(i).offset);
    FUZZ_CHECK(again.recs.records.at(i).length == r.recs.records.at(i).length);
  }
  FUZZ_CHECK(again.recs.live_bytes == r.recs.live_bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  uint8_t selector = in.byte();
  MemFileSystem fs;
  if (selector & 1) {
    fs.files[path()] = describe(&in);
  } else {
    std::string file(in.rest());
    if (selector & 2) file.resize(file.size() / kAlign * kAlign);
    fs.files[path()] = std::move(file);
  }
  check(&fs);
  return 0;
}
