// Read counts across a restart: the records' reads since written
// (RecordTable::reads, which region eviction keeps records by) are saved at
// a clean close and restored at the next open, so that a restart does not
// turn every page the cache was serving into an unread one.
//
// File READS in the tensor log's directory, written whole at close
// (write_file_atomic) and deleted at open once applied:
//   0   u64  XXH3-64 of the payload
//   8        payload: varint64 count, then count x (encoded Location, u8 reads)
// Only live records with reads > 0 are listed. The counts are a hint: a
// missing, short or damaged file restores nothing (after a crash the pages
// count as unread, and eviction judges them so), and entries naming records
// that no longer exist are skipped.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "tensorlog/record_format.h"

namespace lsm4kv::tensorlog {

using ReadCount = std::pair<Location, uint32_t>;

inline constexpr const char* kReadCountsFile = "READS";

std::string encode_read_counts(const std::vector<ReadCount>& counts);
// False (and *out empty) when data is short or fails its checksum.
bool decode_read_counts(std::string_view data, std::vector<ReadCount>* out);

Status save_read_counts(FileSystem* fs, const std::string& dir, const std::vector<ReadCount>& counts);
// The saved counts (none when there is no file, or a damaged one), and the
// file removed unless read_only.
Status take_read_counts(FileSystem* fs, const std::string& dir, bool read_only, std::vector<ReadCount>* out);

}  // namespace lsm4kv::tensorlog
