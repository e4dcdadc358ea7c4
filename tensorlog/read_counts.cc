#include "tensorlog/read_counts.h"

#include <algorithm>

#include "base/checksum.h"
#include "base/coding.h"

namespace lsm4kv::tensorlog {

std::string encode_read_counts(const std::vector<ReadCount>& counts) {
  std::string payload;
  put_varint64(&payload, counts.size());
  for (const auto& [loc, reads] : counts) {
    loc.encode_to(&payload);
    payload.push_back(static_cast<char>(std::min<uint32_t>(reads, 255)));
  }
  std::string out;
  put_fixed64(&out, checksum64(payload));
  out += payload;
  return out;
}

bool decode_read_counts(std::string_view data, std::vector<ReadCount>* out) {
  out->clear();
  uint64_t sum = 0, n = 0;
  if (!get_fixed64(&data, &sum) || checksum64(data) != sum || !get_varint64(&data, &n)) return false;
  std::vector<ReadCount> counts;
  for (uint64_t i = 0; i < n; ++i) {
    Location loc;
    if (!loc.decode_from(&data) || data.empty()) return false;
    counts.emplace_back(loc, static_cast<uint8_t>(data[0]));
    data.remove_prefix(1);
  }
  if (!data.empty()) return false;
  *out = std::move(counts);
  return true;
}

Status save_read_counts(FileSystem* fs, const std::string& dir, const std::vector<ReadCount>& counts) {
  if (counts.empty()) return Status::OK();
  return write_file_atomic(fs, dir, kReadCountsFile, encode_read_counts(counts));
}

Status take_read_counts(FileSystem* fs, const std::string& dir, bool read_only, std::vector<ReadCount>* out) {
  out->clear();
  const std::string path = dir + "/" + kReadCountsFile;
  if (!fs->exists(path)) return Status::OK();
  std::string data;
  LSM4KV_RETURN_IF_ERROR(read_file(fs, path, &data));
  decode_read_counts(data, out);  // damaged: nothing restored (a hint, see read_counts.h)
  return read_only ? Status::OK() : fs->remove(path);
}

}  // namespace lsm4kv::tensorlog
