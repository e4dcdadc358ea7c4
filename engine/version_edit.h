// VersionEdit: one change to the set of sorted runs (and the tree's shape),
// as recorded in the manifest. Replaying every edit of a manifest in order
// rebuilds the engine's state.
//
// Encoding: a sequence of (varint tag, fields) pairs:
//   kLogNumber       varint64  WALs numbered below this are obsolete
//   kNextFileNumber  varint64
//   kLastSequence    varint64
//   kShape           varint T (2..INT32_MAX), varint n (<= 16), n × varint K (1..INT32_MAX)
//   kAddRun          varint level (< kMaxLevels = 16), varint64 file_number, varint64 file_size,
//                    varint64 entries, varint64 min_seq, varint64 max_seq
//   kRemoveRun       varint level (< 16), varint64 file_number
// Applying an edit removes runs first, then adds runs in the listed order,
// each at the FRONT of its level (runs within a level are kept newest first;
// every run the engine adds is newer than the runs already in that level).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/entry.h"
#include "engine/options.h"

namespace lsm4kv::engine {

struct RunRecord {
  int level = 0;
  uint64_t file_number = 0;
  uint64_t file_size = 0;
  uint64_t entries = 0;
  SequenceNumber min_seq = 0;
  SequenceNumber max_seq = 0;
};

struct VersionEdit {
  std::optional<uint64_t> log_number;
  std::optional<uint64_t> next_file_number;
  std::optional<SequenceNumber> last_sequence;
  std::optional<Shape> shape;
  std::vector<RunRecord> added;
  std::vector<std::pair<int, uint64_t>> removed;  // (level, file_number)

  void encode_to(std::string* dst) const;
  Status decode_from(std::string_view in);
};

}  // namespace lsm4kv::engine
