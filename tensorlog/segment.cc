#include "tensorlog/segment.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/coding.h"
#include "tensorlog/codec.h"

namespace lsm4kv::tensorlog {

Status SegmentFile::open(const std::string& path, uint64_t id, bool direct_io,
                         std::shared_ptr<SegmentFile>* out) {
  std::shared_ptr<SegmentFile> f(new SegmentFile(path, id));
  f->buffered_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f->buffered_fd_ < 0) return Status::from_errno(errno, "open " + path);
  if (direct_io) f->direct_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  *out = std::move(f);
  return Status::OK();
}

SegmentFile::~SegmentFile() {
  if (direct_fd_ >= 0) ::close(direct_fd_);
  if (buffered_fd_ >= 0) ::close(buffered_fd_);
}

bool SegmentRecords::add(uint64_t offset, uint64_t length) {
  if (!records.push_back(offset, length)) return false;
  live_records++;
  live_bytes += allocated_bytes(length);
  return true;
}

bool SegmentRecords::mark_dead(uint64_t offset, uint64_t length) {
  const size_t i = records.find(offset);
  if (i == RecordTable::kNone || records.dead(i)) return false;
  const SegmentRecord r = records.at(i);
  if (r.length != length) return false;
  records.set_dead(i);
  live_records--;
  live_bytes -= allocated_bytes(r.length);
  dead_bytes += allocated_bytes(r.length);
  return true;
}

std::string encode_segment_index(std::span<const SegmentRecord> records) {
  std::string out;
  put_varint64(&out, records.size());
  uint64_t prev_end = kAlign;
  for (const SegmentRecord& r : records) {
    put_varint64(&out, r.offset - prev_end);
    put_varint64(&out, r.length);
    prev_end = r.offset + allocated_bytes(r.length);
  }
  return out;
}

Status decode_segment_index(std::string_view in, const std::string& where, RecordTable* records) {
  uint64_t n = 0;
  if (!get_varint64(&in, &n) || n > in.size()) return Status::corruption(where + ": bad index");
  records->clear();
  records->reserve(n);
  uint64_t prev_end = kAlign;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t gap = 0, length = 0;
    if (!get_varint64(&in, &gap) || !get_varint64(&in, &length))
      return Status::corruption(where + ": truncated index");
    constexpr uint64_t kLimit = uint64_t{1} << 48;
    if (gap > kLimit || length > kLimit || prev_end > kLimit)
      return Status::corruption(where + ": index entry out of range");
    uint64_t offset = prev_end + gap;
    if (offset % kRecordAlign != 0) return Status::corruption(where + ": misaligned index entry");
    if (length < kRecordHeaderSize || !records->push_back(offset, length))
      return Status::corruption(where + ": index entry out of range or order");
    prev_end = offset + allocated_bytes(length);
  }
  return Status::OK();
}

std::string build_seal(uint64_t segment_id, uint64_t end, std::span<const SegmentRecord> records) {
  std::string payload = encode_segment_index(records);
  RecordHeader h;
  h.codec = kIndexRecord;
  h.raw_len = payload.size();
  h.stored_len = payload.size();
  uint64_t len = h.record_length();
  // The index starts at end (a multiple of kRecordAlign); the footer at the
  // next block boundary after it.
  uint64_t footer = align_up(end + len);
  std::string out(footer + kAlign - end, '\0');
  h.encode(out.data());
  std::memcpy(out.data() + kRecordHeaderSize, payload.data(), payload.size());
  h.checksum = bound_checksum(out.data(), len, segment_id);
  h.encode(out.data());
  encode_footer(segment_id, end, len, out.data() + (footer - end));
  return out;
}

namespace {

Status read_exact(RandomAccessFile* f, uint64_t offset, size_t n, char* buf,
                  const std::string& where, bool* short_read) {
  size_t got = 0;
  LSM4KV_RETURN_IF_ERROR(f->read(offset, n, buf, &got));
  (void)where;
  *short_read = got != n;
  return Status::OK();
}

// Reads the index of a sealed segment; false in *sealed when there is no
// valid footer or index (the caller then scans).
Status load_index(RandomAccessFile* f, uint64_t size, SegmentRecords* out,
                  const std::string& where, bool* sealed) {
  *sealed = false;
  if (size < 2 * kAlign) return Status::OK();
  std::string block(kAlign, '\0');
  bool short_read = false;
  LSM4KV_RETURN_IF_ERROR(read_exact(f, size - kAlign, kAlign, block.data(), where, &short_read));
  uint64_t index_offset = 0, index_length = 0;
  if (short_read || !decode_footer(block.data(), out->id, &index_offset, &index_length))
    return Status::OK();
  if (index_offset < kAlign || index_offset % kRecordAlign != 0 || index_length > size ||
      align_up(index_offset + index_length) + kAlign != size)
    return Status::OK();
  std::string rec(index_length, '\0');
  LSM4KV_RETURN_IF_ERROR(read_exact(f, index_offset, index_length, rec.data(), where,
                                    &short_read));
  RecordHeader h;
  Location loc{out->id, index_offset, index_length};
  if (short_read || !verify_record(rec.data(), loc, &h).ok() || h.codec != kIndexRecord)
    return Status::OK();
  RecordTable records;
  LSM4KV_RETURN_IF_ERROR(decode_segment_index(
      std::string_view(rec).substr(kRecordHeaderSize + h.tag_len), where, &records));
  // Taken whole: adding one by one regrows the table (up to 2x its RAM).
  out->records = std::move(records);
  out->live_records = out->records.size();
  for (const SegmentRecord& r : out->records) out->live_bytes += allocated_bytes(r.length);
  out->file_bytes = size;
  *sealed = true;
  return Status::OK();
}

// Reads a file front to back through a window of whole blocks.
class Window {
 public:
  Window(RandomAccessFile* f, uint64_t size) : f_(f), size_(size) {}
  // Makes [offset, offset + n) available; *data points at it, or is null
  // when the file ends before (it shrank since its size was taken).
  Status get(uint64_t offset, uint64_t n, const char** data) {
    *data = nullptr;
    if (offset < start_ || offset + n > start_ + buf_.size()) {
      start_ = align_down(offset);
      uint64_t want = std::max<uint64_t>(kWindowBytes, align_up(offset + n) - start_);
      want = std::min(want, size_ - start_);
      buf_.resize(want);
      size_t got = 0;
      LSM4KV_RETURN_IF_ERROR(f_->read(start_, want, buf_.data(), &got));
      buf_.resize(got);
      if (offset + n > start_ + got) return Status::OK();
    }
    *data = buf_.data() + (offset - start_);
    return Status::OK();
  }

 private:
  static constexpr uint64_t kWindowBytes = uint64_t{8} << 20;
  RandomAccessFile* const f_;
  const uint64_t size_;
  uint64_t start_ = 0;
  std::string buf_;
};

// Whether a whole data record that verifies starts at offset; *len its length.
Status valid_record_at(Window* w, uint64_t segment, uint64_t offset, uint64_t size,
                       const std::string& where, uint64_t* len, bool* valid) {
  *valid = false;
  if (offset + kRecordHeaderSize > size) return Status::OK();
  const char* p = nullptr;
  LSM4KV_RETURN_IF_ERROR(w->get(offset, kRecordHeaderSize, &p));
  if (p == nullptr || decode_fixed32(p) != kRecordMagic) return Status::OK();  // the common miss: cheap
  RecordHeader h;
  if (!h.decode(p, where).ok() || !is_known_codec(h.codec)) return Status::OK();
  *len = h.record_length();
  if (offset + *len > size) return Status::OK();  // torn tail
  if (block_aligned_record(*len) && offset % kAlign != 0) return Status::OK();
  LSM4KV_RETURN_IF_ERROR(w->get(offset, *len, &p));
  *valid = p != nullptr && bound_checksum(p, *len, segment) == h.checksum;
  return Status::OK();
}

// Scans records from the first block on; *end gets the end of the allocation
// of the last record that verifies. Past a record that does not (or zeros
// before a block-aligned record), every multiple of kRecordAlign is tried as
// a record start (a bad length cannot be trusted to skip by).
Status scan_records(RandomAccessFile* f, uint64_t size, SegmentRecords* out,
                    const std::string& where, uint64_t* end) {
  Window w(f, size);
  uint64_t offset = kAlign;
  *end = kAlign;
  while (offset + kRecordHeaderSize <= size) {
    uint64_t len = 0;
    bool valid = false;
    LSM4KV_RETURN_IF_ERROR(valid_record_at(&w, out->id, offset, size, where, &len, &valid));
    if (!valid) {
      offset += kRecordAlign;
      continue;
    }
    if (!out->add(offset, len)) return Status::corruption(where + ": record at " + std::to_string(offset) + " past the offset limit");
    offset += allocated_bytes(len);
    *end = offset;
  }
  return Status::OK();
}

}  // namespace

Status recover_segment(FileSystem* fs, const std::string& dir, uint64_t id, bool read_only,
                       SegmentRecords* out, bool* empty) {
  std::string path = dir + "/" + segment_file_name(id);
  *empty = false;
  out->id = id;
  out->records.clear();
  out->live_records = 0;
  out->live_bytes = out->dead_bytes = 0;
  std::unique_ptr<RandomAccessFile> f;
  LSM4KV_RETURN_IF_ERROR(fs->new_random_access(path, &f));
  uint64_t size = f->size();
  if (size < kAlign) {
    *empty = true;
    return Status::OK();
  }
  std::string block(kAlign, '\0');
  bool short_read = false;
  LSM4KV_RETURN_IF_ERROR(read_exact(f.get(), 0, kAlign, block.data(), path, &short_read));
  if (block.find_first_not_of('\0') == std::string::npos) {
    *empty = true;  // created, never synced: nothing in it was acknowledged
    return Status::OK();
  }
  // A sound header of another segment: a reused file caught between its
  // rename and the sync of its new header (tensor_log.h, "Reused files").
  // Either way round nothing in it was acknowledged: a batch is
  // acknowledged after its data sync, which writes the header, and the
  // directory sync after it, which makes the rename durable.
  if (names_other_segment(block.data(), id)) {
    *empty = true;
    return Status::OK();
  }
  LSM4KV_RETURN_IF_ERROR(decode_segment_header(block.data(), id, path));

  bool sealed = false;
  LSM4KV_RETURN_IF_ERROR(load_index(f.get(), size, out, path, &sealed));
  if (sealed) {
    out->sealed = true;
    return Status::OK();
  }
  uint64_t end = 0;
  LSM4KV_RETURN_IF_ERROR(scan_records(f.get(), size, out, path, &end));
  // The padding after the last record may be missing (a torn large record's
  // last block): the file then ends inside the allocation.
  const uint64_t kept = std::min(end, size);
  if (read_only) {
    out->file_bytes = size;  // a torn tail stays on disk, unread
    out->torn_bytes = size - kept;
    // Zeros to the end of the last record's block are how the writer leaves
    // its tail block, not a torn tail.
    if (size <= align_up(kept) && out->torn_bytes > 0) {
      std::string rest(out->torn_bytes, '\0');
      LSM4KV_RETURN_IF_ERROR(read_exact(f.get(), kept, rest.size(), rest.data(), path, &short_read));
      if (!short_read && rest.find_first_not_of('\0') == std::string::npos) out->torn_bytes = 0;
    }
    return Status::OK();
  }
  f.reset();
  if (kept < size) LSM4KV_RETURN_IF_ERROR(fs->truncate(path, kept));
  out->file_bytes = kept;
  // Seal it so that it is never scanned again; if that fails the segment stays
  // readable and is scanned again at the next open.
  std::unique_ptr<WritableFile> w;
  std::string seal = std::string(end - kept, '\0') + build_seal(id, end, out->records.to_vector());
  Status s = fs->new_appendable(path, &w);
  if (s.ok()) s = w->append(seal);
  if (s.ok()) s = w->sync();
  if (s.ok()) s = w->close();
  if (s.ok()) {
    out->sealed = true;
    out->file_bytes = kept + seal.size();
  } else {
    fs->truncate(path, kept).ignore_error();
  }
  return Status::OK();
}

}  // namespace lsm4kv::tensorlog

namespace lsm4kv::tensorlog {

Status scan_segment(FileSystem* fs, const std::string& path, uint64_t id,
                    const std::vector<SegmentRecord>& records, const ScanVisitor& valid,
                    const DamageVisitor& damaged) {
  // Consecutive records are read together, up to this many bytes at once.
  constexpr uint64_t kReadBytes = uint64_t{8} << 20;
  std::unique_ptr<RandomAccessFile> f;
  Status s = fs->new_random_access(path, &f);
  if (!s.ok()) {
    for (const SegmentRecord& r : records) damaged({id, r.offset, r.length}, s);
    return Status::OK();
  }
  std::string buf;
  for (size_t i = 0; i < records.size();) {
    size_t j = i + 1;
    const uint64_t first = records[i].offset;
    while (j < records.size() && records[j].offset + records[j].length - first <= kReadBytes) j++;
    const uint64_t span = records[j - 1].offset + records[j - 1].length - first;
    buf.resize(span);
    size_t got = 0;
    Status io = f->read(first, span, buf.data(), &got);
    for (; i < j; i++) {
      const Location loc{id, records[i].offset, records[i].length};
      const uint64_t at = records[i].offset - first;
      if (!io.ok()) {
        damaged(loc, io);
        continue;
      }
      if (at + loc.length > got) {
        damaged(loc, Status::corruption(path + ": " + loc.to_string() + ": the file ends inside the record"));
        continue;
      }
      RecordHeader h;
      Status v = verify_record(buf.data() + at, loc, &h);
      if (v.ok() && !is_known_codec(h.codec)) v = Status::corruption(loc.to_string() + ": not a data record");
      if (!v.ok()) {
        damaged(loc, Status::corruption(path + ": " + v.message()));
        continue;
      }
      valid(loc, std::string_view(buf.data() + at + kRecordHeaderSize, h.tag_len));
    }
  }
  return Status::OK();
}

}  // namespace lsm4kv::tensorlog
