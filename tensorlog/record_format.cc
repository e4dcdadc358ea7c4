#include "tensorlog/record_format.h"

#include <cstdio>
#include <cstring>

#include "base/checksum.h"
#include "base/coding.h"

namespace lsm4kv::tensorlog {

void Location::encode_to(std::string* dst) const {
  put_varint64(dst, segment);
  put_varint64(dst, offset / kRecordAlign);
  put_varint64(dst, length);
}

bool Location::decode_from(std::string_view* in) {
  uint64_t units = 0;
  if (!get_varint64(in, &segment) || !get_varint64(in, &units) || !get_varint64(in, &length))
    return false;
  if (units > (UINT64_MAX / kRecordAlign)) return false;
  offset = units * kRecordAlign;
  return true;
}

std::string Location::to_string() const {
  return "segment " + std::to_string(segment) + " offset " + std::to_string(offset) +
         " length " + std::to_string(length);
}

void RecordHeader::encode(char* dst) const {
  encode_fixed32(dst, kRecordMagic);
  dst[4] = static_cast<char>(kFormatVersion);
  dst[5] = static_cast<char>(codec);
  dst[6] = static_cast<char>(tag_len & 0xff);
  dst[7] = static_cast<char>(tag_len >> 8);
  encode_fixed64(dst + 8, raw_len);
  encode_fixed64(dst + 16, stored_len);
  encode_fixed64(dst + 24, checksum);
}

Status RecordHeader::decode(const char* src, const std::string& where) {
  if (decode_fixed32(src) != kRecordMagic)
    return Status::corruption(where + ": bad record magic");
  if (static_cast<uint8_t>(src[4]) != kFormatVersion)
    return Status::corruption(where + ": unknown record version " +
                              std::to_string(static_cast<uint8_t>(src[4])));
  codec = static_cast<uint8_t>(src[5]);
  tag_len = static_cast<uint16_t>(static_cast<uint8_t>(src[6]) |
                                  (static_cast<uint8_t>(src[7]) << 8));
  raw_len = decode_fixed64(src + 8);
  stored_len = decode_fixed64(src + 16);
  checksum = decode_fixed64(src + 24);
  if (tag_len > kMaxTagLen) return Status::corruption(where + ": tag length out of range");
  if (stored_len > (uint64_t{1} << 40) || raw_len > (uint64_t{1} << 40))
    return Status::corruption(where + ": record length out of range");
  return Status::OK();
}

uint64_t record_checksum(const char* record, uint64_t length) {
  uint64_t seed = checksum64(record, 24);
  return checksum64_with_seed(record + kRecordHeaderSize, length - kRecordHeaderSize, seed);
}

void rebind_record(char* record, uint64_t from, uint64_t to) {
  encode_fixed64(record + 24, decode_fixed64(record + 24) ^ segment_mix(from) ^ segment_mix(to));
}

Status verify_record(const char* record, const Location& loc, RecordHeader* hdr) {
  if (loc.length < kRecordHeaderSize)
    return Status::corruption(loc.to_string() + ": record length shorter than a header");
  LSM4KV_RETURN_IF_ERROR(hdr->decode(record, loc.to_string()));
  if (hdr->record_length() != loc.length)
    return Status::corruption(loc.to_string() + ": record header says length " +
                              std::to_string(hdr->record_length()));
  if (bound_checksum(record, loc.length, loc.segment) != hdr->checksum)
    return Status::corruption(loc.to_string() + ": checksum mismatch");
  return Status::OK();
}

void encode_segment_header(uint64_t segment_id, char* block) {
  std::memset(block, 0, kAlign);
  encode_fixed64(block, kSegmentMagic);
  encode_fixed32(block + 8, kFormatVersion);
  encode_fixed32(block + 12, static_cast<uint32_t>(kAlign));
  encode_fixed64(block + 16, segment_id);
  encode_fixed64(block + 24, checksum64(block, 24));
}

Status decode_segment_header(const char* block, uint64_t segment_id, const std::string& where) {
  if (decode_fixed64(block) != kSegmentMagic || decode_fixed64(block + 24) != checksum64(block, 24))
    return Status::corruption(where + ": bad segment header");
  if (decode_fixed32(block + 8) != kFormatVersion)
    return Status::not_supported(where + ": segment format version " +
                                 std::to_string(decode_fixed32(block + 8)) + "; this build reads version " +
                                 std::to_string(kFormatVersion) + " only (no migration)");
  if (decode_fixed32(block + 12) != kAlign)
    return Status::corruption(where + ": unsupported segment alignment " +
                              std::to_string(decode_fixed32(block + 12)));
  if (decode_fixed64(block + 16) != segment_id)
    return Status::corruption(where + ": segment header names segment " +
                              std::to_string(decode_fixed64(block + 16)));
  return Status::OK();
}

bool names_other_segment(const char* block, uint64_t segment_id) {
  const uint64_t named = decode_fixed64(block + 16);
  return named != segment_id && decode_segment_header(block, named, "").ok();
}

void encode_footer(uint64_t segment_id, uint64_t index_offset, uint64_t index_length,
                   char* block) {
  std::memset(block, 0, kAlign);
  encode_fixed64(block, kFooterMagic);
  encode_fixed64(block + 8, segment_id);
  encode_fixed64(block + 16, index_offset);
  encode_fixed64(block + 24, index_length);
  encode_fixed64(block + 32, checksum64(block, 32));
}

bool decode_footer(const char* block, uint64_t segment_id, uint64_t* index_offset,
                   uint64_t* index_length) {
  if (decode_fixed64(block) != kFooterMagic || decode_fixed64(block + 32) != checksum64(block, 32))
    return false;
  if (decode_fixed64(block + 8) != segment_id) return false;
  *index_offset = decode_fixed64(block + 16);
  *index_length = decode_fixed64(block + 24);
  return true;
}

std::string segment_file_name(uint64_t id) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "seg-%016llu.tlog", static_cast<unsigned long long>(id));
  return buf;
}

bool parse_segment_file_name(std::string_view name, uint64_t* id) {
  if (name.size() != 4 + 16 + 5 || name.substr(0, 4) != "seg-" ||
      name.substr(20) != ".tlog")
    return false;
  uint64_t v = 0;
  for (char c : name.substr(4, 16)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *id = v;
  return true;
}

}  // namespace lsm4kv::tensorlog
