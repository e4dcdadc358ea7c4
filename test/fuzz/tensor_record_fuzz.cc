// Fuzz target: the tensor log's on-disk units (tensorlog/record_format.h,
// the segment index of tensorlog/segment.h, the payload codecs of
// tensorlog/codec.h).
//
// Input: one selector byte; selector % 8 picks the unit, the rest is input.
//   0 record header   32 bytes: decode; a decoded header re-encodes to them.
//   1 verify_record   bytes + a length: never reads past the length.
//   2 record RT       codec, tag, payload -> a record laid out as the writer
//                     does -> verify_record OK; one flipped byte -> Corruption.
//   3 segment header  a block (the input, zero padded): decode; round trip of
//                     an id; a header never decodes for another id.
//   4 segment footer  the same for the footer.
//   5 segment index   decode; decode(encode(x)) == x; records from the bytes
//                     -> encode -> decode == them.
//   6 Location / file name   decode(encode(x)) == x for both.
//   7 codec           decode arbitrary stored bytes (raw_len from the input)
//                     under each codec; encode -> decode == the raw bytes.
#include <algorithm>
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

namespace {

// A block of kAlign bytes: the input, zero padded or cut.
std::string block_of(std::string_view bytes) {
  std::string b(bytes.substr(0, kAlign));
  b.resize(kAlign, '\0');
  return b;
}

void record_header(Input* in) {
  std::string bytes(in->take(kRecordHeaderSize));
  bytes.resize(kRecordHeaderSize, '\0');
  RecordHeader h;
  if (!h.decode(bytes.data(), "fuzz").ok()) return;
  FUZZ_CHECK(h.tag_len <= kMaxTagLen);
  char again[kRecordHeaderSize];
  h.encode(again);
  FUZZ_CHECK(std::memcmp(again, bytes.data(), kRecordHeaderSize) == 0);
}

void verify_bytes(Input* in) {
  Location loc;
  loc.segment = in->byte();
  loc.offset = kRecordAlign * in->byte();
  uint64_t want = in->byte() | uint64_t{in->byte()} << 8;
  std::string bytes(in->rest());  // exactly the bytes a read of loc returned
  loc.length = std::min<uint64_t>(want, bytes.size());
  bytes.resize(loc.length);
  bytes.shrink_to_fit();
  RecordHeader h;
  Status s = verify_record(bytes.data(), loc, &h);
  if (s.ok()) FUZZ_CHECK(h.record_length() == loc.length);
  else FUZZ_CHECK(s.is_corruption());
}

void record_round_trip(Input* in) {
  uint8_t codec = in->byte() % 3;
  size_t flip_at = in->byte() | size_t{in->byte()} << 8;
  std::string tag(in->take(in->byte() | static_cast<size_t>(in->byte() % 16) << 8));
  if (tag.size() > kMaxTagLen) tag.resize(kMaxTagLen);
  std::string raw(in->rest());
  std::string rec = lsm4kv::fuzz::make_record(codec, tag, raw, 3);
  const size_t stored_len = rec.size() - kRecordHeaderSize - tag.size();
  Location loc{3, 5 * kAlign, rec.size()};
  RecordHeader got;
  FUZZ_CHECK(verify_record(rec.data(), loc, &got).ok());
  FUZZ_CHECK(got.codec == codec && got.tag_len == tag.size() && got.raw_len == raw.size() &&
             got.stored_len == stored_len);
  std::string back(raw.size(), '\0');
  FUZZ_CHECK(decode(static_cast<Codec>(codec), rec.data() + kRecordHeaderSize + tag.size(), stored_len,
                    back.data(), back.size(), "fuzz")
                 .ok());
  FUZZ_CHECK(back == raw);
  flip_at %= rec.size();
  rec[flip_at] = static_cast<char>(rec[flip_at] ^ 0x10);
  Status s = verify_record(rec.data(), loc, &got);
  FUZZ_CHECK(s.is_corruption());
  FUZZ_CHECK(s.to_string().find(loc.to_string()) != std::string::npos);
}

void segment_header(Input* in) {
  uint64_t id = in->u64();
  std::string block = block_of(in->rest());
  Status s = decode_segment_header(block.data(), id, "fuzz");
  if (s.ok()) {
    std::string again(kAlign, '\0');
    encode_segment_header(id, again.data());
    FUZZ_CHECK(std::memcmp(again.data(), block.data(), kSegmentHeaderSize) == 0);
  }
  encode_segment_header(id, block.data());
  FUZZ_CHECK(decode_segment_header(block.data(), id, "fuzz").ok());
  FUZZ_CHECK(!decode_segment_header(block.data(), id + 1, "fuzz").ok());
}

void segment_footer(Input* in) {
  uint64_t id = in->u64(), off = in->u64(), len = in->u64();
  std::string block = block_of(in->rest());
  uint64_t o = 0, l = 0;
  if (decode_footer(block.data(), id, &o, &l)) {
    std::string again(kAlign, '\0');
    encode_footer(id, o, l, again.data());
    FUZZ_CHECK(std::memcmp(again.data(), block.data(), kFooterSize) == 0);
  }
  encode_footer(id, off, len, block.data());
  FUZZ_CHECK(decode_footer(block.data(), id, &o, &l));
  FUZZ_CHECK(o == off && l == len);
  FUZZ_CHECK(!decode_footer(block.data(), id ^ 1, &o, &l));
}

void segment_index(Input* in) {
  if (in->byte() & 1) {
    RecordTable table;
    Status s = decode_segment_index(in->rest(), "fuzz", &table);
    if (!s.ok()) {
      FUZZ_CHECK(s.is_corruption());
      return;
    }
    const std::vector<SegmentRecord> recs = table.to_vector();
    for (size_t i = 0; i < recs.size(); i++) {
      FUZZ_CHECK(recs[i].offset % kRecordAlign == 0 && !recs[i].dead);
      FUZZ_CHECK(table.find(recs[i].offset) == i);
      if (i > 0) FUZZ_CHECK(recs[i].offset > recs[i - 1].offset);
    }
    RecordTable again;
    FUZZ_CHECK(decode_segment_index(encode_segment_index(recs), "fuzz", &again).ok());
    FUZZ_CHECK(again.to_vector() == recs);
    return;
  }
  std::vector<SegmentRecord> recs;
  uint64_t end = kAlign;
  while (in->left() > 0) {
    uint64_t length = in->byte() | uint64_t{in->byte()} << 8 | uint64_t{in->byte()} << 16;
    if (in->byte() == 0xff) length <<= 16;  // records of 2^31 bytes and more: the table's side list
    length = std::max<uint64_t>(length, kRecordHeaderSize);  // no record is shorter
    uint64_t offset = next_record_offset(end + kRecordAlign * (in->byte() % 4), length);
    if (offset >= RecordTable::kOffsetLimit) break;
    recs.push_back({offset, length, false});
    end = offset + allocated_bytes(length);
  }
  RecordTable back;
  FUZZ_CHECK(decode_segment_index(encode_segment_index(recs), "fuzz", &back).ok());
  FUZZ_CHECK(back.to_vector() == recs);
  // Marking dead keeps every length (the dead bit shares the length's word).
  for (size_t i = 0; i < back.size(); i += 2) back.set_dead(i);
  for (size_t i = 0; i < back.size(); i++) {
    const SegmentRecord r = back.at(i);
    FUZZ_CHECK(r.length == recs[i].length && r.offset == recs[i].offset && r.dead == (i % 2 == 0));
  }
}

void location_and_name(Input* in) {
  std::string_view bytes = in->rest();
  std::string_view cursor = bytes;
  Location l;
  if (l.decode_from(&cursor)) {
    FUZZ_CHECK(l.offset % kRecordAlign == 0);
    std::string enc;
    l.encode_to(&enc);
    FUZZ_CHECK(enc.size() <= Location::kMaxEncodedLength);
    std::string_view e = enc;
    Location m;
    FUZZ_CHECK(m.decode_from(&e) && e.empty() && m == l);
  }
  uint64_t id = 0;
  if (parse_segment_file_name(bytes, &id)) {
    FUZZ_CHECK(id < 10000000000000000ull);
    FUZZ_CHECK(segment_file_name(id) == bytes);
  }
  Input again(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  id = again.u64() % 10000000000000000ull;
  uint64_t parsed = 0;
  FUZZ_CHECK(parse_segment_file_name(segment_file_name(id), &parsed) && parsed == id);
}

void codec(Input* in) {
  uint8_t c = in->byte();
  size_t raw_len = in->byte() | size_t{in->byte()} << 8 | static_cast<size_t>(in->byte() % 8) << 16;  // < 512 KiB: up to 2 frames
  if (c & 0x80) {
    std::string stored(in->rest());
    std::string dst(raw_len, '\0');
    Status s = decode(static_cast<Codec>(c % 4), stored.data(), stored.size(), dst.data(), raw_len, "fuzz");
    if (!s.ok()) FUZZ_CHECK(s.is_corruption());
    return;
  }
  // Round trip: raw bytes from the input, stretched to raw_len by repetition
  // (compressible, so that LZ4 frames are used and not only raw ones).
  std::string_view src = in->rest();
  std::string raw(raw_len, '\0');
  for (size_t i = 0; i < raw_len && !src.empty(); i++) raw[i] = src[i % src.size()];
  Codec k = static_cast<Codec>(c % 3);
  std::string stored(max_encoded_length(k, raw.size()), '\0');
  stored.resize(encode(k, raw.data(), raw.size(), stored.data()));
  std::string back(raw.size(), '\0');
  FUZZ_CHECK(decode(k, stored.data(), stored.size(), back.data(), back.size(), "fuzz").ok());
  FUZZ_CHECK(back == raw);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  switch (in.byte() % 8) {
    case 0: record_header(&in); break;
    case 1: verify_bytes(&in); break;
    case 2: record_round_trip(&in); break;
    case 3: segment_header(&in); break;
    case 4: segment_footer(&in); break;
    case 5: segment_index(&in); break;
    case 6: location_and_name(&in); break;
    case 7: codec(&in); break;
  }
  return 0;
}
