#include "tensorlog/verify_dir.h"

#include <algorithm>

#include "tensorlog/segment.h"

namespace lsm4kv::tensorlog {
namespace {

void check_header(SegmentFiles* files, uint64_t id, const std::string& path, const ProblemFn& problem) {
  std::string block(kAlign, '\0');
  size_t got = 0;
  Status s = files->read_at(id, 0, block.size(), block.data(), &got);
  if (s.ok() && got < kSegmentHeaderSize) s = Status::corruption(path + ": shorter than its header");
  if (s.ok()) s = decode_segment_header(block.data(), id, path);
  if (!s.ok()) problem("segment " + path + ": " + s.to_string());
}

}  // namespace

Status SegmentFiles::read_at(uint64_t segment, uint64_t offset, size_t n, char* dst, size_t* got) {
  auto& f = files_[segment];
  if (!f) {
    Status s = fs_->new_random_access(path(segment), &f);
    if (!s.ok()) {
      files_.erase(segment);
      return s;
    }
  }
  return f->read(offset, n, dst, got);
}

Status SegmentFiles::read_record(const Location& loc, std::string* buf, std::string_view* tag) {
  buf->resize(loc.length);
  size_t got = 0;
  Status s = read_at(loc.segment, loc.offset, loc.length, buf->data(), &got);
  if (s.ok() && got != loc.length) s = Status::corruption("the segment ends inside the record");
  RecordHeader h;
  if (s.ok()) s = verify_record(buf->data(), loc, &h);
  if (s.ok()) *tag = std::string_view(buf->data() + kRecordHeaderSize, h.tag_len);
  return s;
}

std::vector<uint64_t> list_segments(FileSystem* fs, const std::string& dir, const ProblemFn& problem) {
  std::vector<std::string> names;
  std::vector<uint64_t> ids;
  Status s = fs->list_dir(dir, &names);
  if (!s.ok()) problem(s.to_string());
  for (const auto& n : names) {
    uint64_t id;
    if (parse_segment_file_name(n, &id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void verify_segment(FileSystem* fs, SegmentFiles* files, uint64_t id, bool active, const ProblemFn& problem) {
  const std::string path = files->path(id);
  if (active) return check_header(files, id, path, problem);
  SegmentRecords rec;
  bool empty = false;
  Status s = recover_segment(fs, files->dir(), id, /*read_only=*/true, &rec, &empty);
  if (!s.ok()) {
    problem("segment " + path + ": " + s.to_string());
  } else if (empty) {
    problem("segment " + path + ": no segment header (shorter than a block, or a zeroed block: created and never "
            "synced); a writable open deletes it");
  } else if (rec.torn_bytes > 0) {
    problem("segment " + path + ": torn tail: " + std::to_string(rec.torn_bytes) + " bytes after its last " +
            "complete record (at offset " + std::to_string(rec.file_bytes - rec.torn_bytes) +
            "); a writable open cuts them off");
  }
}

void verify_dir(FileSystem* fs, const std::string& dir, const std::set<uint64_t>& active,
                const ProblemFn& problem, uint64_t* segments) {
  SegmentFiles files(fs, dir);
  for (uint64_t id : list_segments(fs, dir, problem)) {
    (*segments)++;
    verify_segment(fs, &files, id, active.count(id) > 0, problem);
  }
}

}  // namespace lsm4kv::tensorlog
