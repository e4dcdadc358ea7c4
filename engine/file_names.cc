#include "engine/file_names.h"

#include <cctype>

namespace lsm4kv::engine {
namespace {
bool parse_number(const std::string& digits, uint64_t* number) {
  if (digits.empty() || digits.size() > 19) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *number = v;
  return true;
}
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

FileKind parse_file_name(const std::string& name, uint64_t* number) {
  if (name == "CURRENT") return FileKind::kCurrent;
  if (name == "LOCK") return FileKind::kLock;
  if (ends_with(name, ".tmp")) return FileKind::kTemp;
  if (name.rfind("MANIFEST-", 0) == 0 && parse_number(name.substr(9), number))
    return FileKind::kManifest;
  if (ends_with(name, ".wal") && parse_number(name.substr(0, name.size() - 4), number))
    return FileKind::kWal;
  if (ends_with(name, ".run") && parse_number(name.substr(0, name.size() - 4), number))
    return FileKind::kRun;
  return FileKind::kOther;
}

}  // namespace lsm4kv::engine
