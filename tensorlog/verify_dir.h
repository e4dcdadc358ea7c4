// Offline checks of a tensor log's directory, writing nothing: every
// segment's header and, for a segment not being written, its record list as
// a writable open would rebuild it (read-only: nothing is cut or sealed
// here), so what that open would drop is reported (a torn tail, a segment
// never synced). Problems are reported one line each, naming the file; the
// checks go on past them. The store's verifier (kvcache_api) composes these
// with the index's (engine/verify_dir.h) and checks records by location
// through SegmentFiles.
//
// Thread-safety: SegmentFiles is for one thread; the functions share nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/file_system.h"
#include "tensorlog/record_format.h"

namespace lsm4kv::tensorlog {

using ProblemFn = std::function<void(std::string)>;

// Reads a directory's segments by offset, keeping each file open.
class SegmentFiles {
 public:
  SegmentFiles(FileSystem* fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  std::string path(uint64_t segment) const { return dir_ + "/" + segment_file_name(segment); }
  Status read_at(uint64_t segment, uint64_t offset, size_t n, char* dst, size_t* got);
  // Reads the record at loc into *buf and verifies its checksum; *tag
  // points into *buf. Corruption when the segment ends inside it.
  Status read_record(const Location& loc, std::string* buf, std::string_view* tag);

 private:
  FileSystem* const fs_;
  const std::string dir_;
  std::map<uint64_t, std::unique_ptr<RandomAccessFile>> files_;
};

// The segment ids in dir, ascending; a listing failure is a problem.
std::vector<uint64_t> list_segments(FileSystem* fs, const std::string& dir, const ProblemFn& problem);

// Checks one segment; `active` (being written: its tail moves): the header only.
void verify_segment(FileSystem* fs, SegmentFiles* files, uint64_t id, bool active, const ProblemFn& problem);

// Every segment of dir; *segments counts them.
void verify_dir(FileSystem* fs, const std::string& dir, const std::set<uint64_t>& active,
                const ProblemFn& problem, uint64_t* segments);

}  // namespace lsm4kv::tensorlog
