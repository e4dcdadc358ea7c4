// Names of the files in an engine directory:
//   CURRENT          the name of the live manifest, switched by atomic rename
//   LOCK             flock()ed by the process that has the DB open
//   MANIFEST-NNNNNN  log of version edits (engine/version_edit.h)
//   NNNNNN.wal       write-ahead log (engine/log_format.h)
//   NNNNNN.run       sorted run (engine/run_format.h)
// All numbers come from one counter persisted in the manifest.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace lsm4kv::engine {

enum class FileKind { kCurrent, kLock, kManifest, kWal, kRun, kTemp, kOther };

inline std::string numbered_name(uint64_t number, const char* suffix) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%06llu%s", static_cast<unsigned long long>(number), suffix);
  return buf;
}
inline std::string wal_name(uint64_t n) { return numbered_name(n, ".wal"); }
inline std::string run_name(uint64_t n) { return numbered_name(n, ".run"); }
inline std::string manifest_name(uint64_t n) { return "MANIFEST-" + numbered_name(n, ""); }

// Classifies a directory entry; *number is set for numbered kinds.
FileKind parse_file_name(const std::string& name, uint64_t* number);

}  // namespace lsm4kv::engine
