// make_record: one tensor-log record (tensorlog/record_format.h) laid out as
// the segment writer lays it out: header, tag, payload encoded with `codec`,
// checksum right. Shared by the tensor-log fuzz targets and the seed writer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tensorlog/codec.h"
#include "tensorlog/record_format.h"

namespace lsm4kv::fuzz {

// The record's checksum is bound to `segment` (record_format.h).
inline std::string make_record(uint8_t codec, std::string_view tag, std::string_view raw, uint64_t segment) {
  using namespace tensorlog;
  std::string stored(max_encoded_length(static_cast<Codec>(codec), raw.size()), '\0');
  stored.resize(encode(static_cast<Codec>(codec), raw.data(), raw.size(), stored.data()));
  RecordHeader h;
  h.codec = codec;
  h.tag_len = static_cast<uint16_t>(tag.size());
  h.raw_len = raw.size();
  h.stored_len = stored.size();
  std::string rec(kRecordHeaderSize, '\0');
  rec += tag;
  rec += stored;
  h.encode(rec.data());
  h.checksum = bound_checksum(rec.data(), rec.size(), segment);
  h.encode(rec.data());
  return rec;
}

}  // namespace lsm4kv::fuzz
