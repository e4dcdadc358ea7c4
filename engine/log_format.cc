#include "engine/log_format.h"

#include <algorithm>

#include "base/checksum.h"
#include "base/coding.h"

namespace lsm4kv::engine {

Status LogWriter::add_record(std::string_view payload) {
  if (payload.size() > UINT32_MAX) return Status::invalid_argument("log record over 4 GiB");
  std::string rec;
  rec.reserve(kLogHeaderSize + payload.size());
  put_fixed32(&rec, static_cast<uint32_t>(payload.size()));
  put_fixed32(&rec, static_cast<uint32_t>(checksum64(rec.data(), 4)));
  put_fixed64(&rec, checksum64(payload));
  rec.append(payload);
  return file_->append(rec);
}

Status LogReader::open(FileSystem* fs, const std::string& path, TailMode mode,
                       std::unique_ptr<LogReader>* out) {
  std::string data;
  LSM4KV_RETURN_IF_ERROR(read_file(fs, path, &data));
  out->reset(new LogReader(path, std::move(data), mode));
  return Status::OK();
}

Status LogReader::corruption(const std::string& what) const {
  return Status::corruption(path_ + ": " + what + " at offset " + std::to_string(pos_));
}

bool LogReader::lost_sector(size_t end) const {
  constexpr size_t kSector = 512;
  end = std::min(end, data_.size());
  auto zeros = [&](size_t from, size_t to) {
    return std::all_of(data_.data() + from, data_.data() + to, [](char c) { return c == 0; });
  };
  const size_t first_boundary = std::min((pos_ / kSector + 1) * kSector, end);
  if (zeros(pos_, first_boundary)) return true;
  // A sector the record only begins in counts whole: a header that crosses
  // into a lost sector ends a few bytes into it.
  for (size_t s = first_boundary; s < end; s += kSector)
    if (zeros(s, std::min(s + kSector, data_.size()))) return true;
  return false;
}

Status LogReader::next(std::string_view* payload, bool* done) {
  *done = false;
  size_t left = data_.size() - pos_;
  if (left == 0) {
    *done = true;
    return Status::OK();
  }
  const char* h = data_.data() + pos_;
  if (left < kLogHeaderSize) {
    torn_tail_ = true;
    *done = true;
    return Status::OK();
  }
  uint32_t len = decode_fixed32(h);
  if (decode_fixed32(h + 4) != static_cast<uint32_t>(checksum64(h, 4))) {
    if (std::all_of(h, static_cast<const char*>(data_.data() + data_.size()), [](char c) { return c == 0; })) {
      torn_tail_ = true;
      *done = true;
      return Status::OK();
    }
    if (mode_ == TailMode::kTolerateDamagedLast && lost_sector(pos_ + kLogHeaderSize)) {
      torn_tail_ = true;
      *done = true;
      return Status::OK();
    }
    return corruption("bad record header checksum");
  }
  if (len > left - kLogHeaderSize) {
    torn_tail_ = true;
    *done = true;
    return Status::OK();
  }
  std::string_view body(h + kLogHeaderSize, len);
  if (checksum64(body) != decode_fixed64(h + 8)) {
    const char* end = h + kLogHeaderSize + len;
    bool nothing_after = std::all_of(end, static_cast<const char*>(data_.data() + data_.size()),
                                     [](char c) { return c == 0; });
    if (mode_ == TailMode::kTolerateDamagedLast && (nothing_after || lost_sector(pos_ + kLogHeaderSize + len))) {
      torn_tail_ = true;
      *done = true;
      return Status::OK();
    }
    return corruption("bad record payload checksum");
  }
  *payload = body;
  pos_ += kLogHeaderSize + len;
  return Status::OK();
}

}  // namespace lsm4kv::engine
