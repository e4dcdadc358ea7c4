#include "tensorlog/dead_log.h"

#include <vector>

#include "base/checksum.h"
#include "base/coding.h"

namespace lsm4kv::tensorlog {
namespace {

constexpr const char* kFileName = "DEAD.log";

std::string encode_entry(std::span<const Location> locations) {
  std::string payload;
  put_varint64(&payload, locations.size());
  for (const Location& l : locations) l.encode_to(&payload);
  std::string out;
  put_fixed32(&out, static_cast<uint32_t>(payload.size()));
  put_fixed64(&out, checksum64(payload));
  out += payload;
  return out;
}

}  // namespace

Status DeadLog::open(FileSystem* fs, const std::string& dir, bool sync, bool read_only,
                     const std::function<bool(const Location&)>& replay,
                     std::unique_ptr<DeadLog>* out) {
  std::string path = dir + "/" + kFileName;
  std::vector<Location> kept;
  if (fs->exists(path)) {
    std::string data;
    LSM4KV_RETURN_IF_ERROR(read_file(fs, path, &data));
    std::string_view in(data);
    while (in.size() >= 12) {
      uint32_t n = decode_fixed32(in.data());
      uint64_t sum = decode_fixed64(in.data() + 4);
      if (in.size() - 12 < n) break;
      std::string_view payload = in.substr(12, n);
      if (checksum64(payload) != sum) break;
      in.remove_prefix(12 + n);
      uint64_t count = 0;
      if (!get_varint64(&payload, &count)) break;
      for (uint64_t i = 0; i < count; ++i) {
        Location l;
        if (!l.decode_from(&payload)) break;
        if (replay(l)) kept.push_back(l);
      }
    }
  }
  if (read_only) {
    out->reset(new DeadLog(sync, nullptr));
    return Status::OK();
  }
  Status s = write_file_atomic(fs, dir, kFileName, encode_entry(kept));
  // On a full disk the old file serves: its entries still replay the same.
  if (s.is_no_space()) s = Status::OK();
  LSM4KV_RETURN_IF_ERROR(s);
  std::unique_ptr<WritableFile> file;
  LSM4KV_RETURN_IF_ERROR(fs->new_appendable(path, &file));
  out->reset(new DeadLog(sync, std::move(file)));
  return Status::OK();
}

Status DeadLog::write(std::span<const Location> locations, bool sync) {
  if (locations.empty()) return Status::OK();
  std::string entry = encode_entry(locations);
  std::lock_guard<std::mutex> l(mu_);
  if (!file_) return Status::not_supported("DEAD.log: the tensor log is open read-only");
  LSM4KV_RETURN_IF_ERROR(file_->append(entry));
  if (sync) LSM4KV_RETURN_IF_ERROR(file_->sync());
  return Status::OK();
}

Status DeadLog::append(std::span<const Location> locations) { return write(locations, sync_); }

Status DeadLog::append_durable(std::span<const Location> locations) {
  return write(locations, true);
}

}  // namespace lsm4kv::tensorlog
