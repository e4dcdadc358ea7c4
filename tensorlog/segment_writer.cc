#include "tensorlog/segment_writer.h"

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <new>

namespace lsm4kv::tensorlog {

AlignedBuffer::AlignedBuffer(size_t n) : size_(n) {
  void* p = nullptr;
  if (::posix_memalign(&p, kAlign, std::max<size_t>(n, kAlign)) != 0) throw std::bad_alloc();
  data_ = static_cast<char*>(p);
}
AlignedBuffer::~AlignedBuffer() { std::free(data_); }
AlignedBuffer::AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) {
  o.data_ = nullptr;
  o.size_ = 0;
}
AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
  std::swap(data_, o.data_);
  std::swap(size_, o.size_);
  return *this;
}

Status encode_batch(Codec codec, std::span<const RecordInput> records, EncodedBatch* out) {
  size_t capacity = 0;
  for (const RecordInput& r : records) {
    if (r.tag.size() > kMaxTagLen)
      return Status::invalid_argument("tag of " + std::to_string(r.tag.size()) +
                                      " bytes; at most " + std::to_string(kMaxTagLen));
    if (r.data == nullptr && r.size > 0) return Status::invalid_argument("record without data");
    capacity += align_up(kRecordHeaderSize + r.tag.size() + max_encoded_length(codec, r.size));
  }
  // A buffer handed in big enough is reused: a fresh one costs a page fault
  // per 4 KiB, as much as the copy itself.
  if (out->buffer.size() < capacity) out->buffer = AlignedBuffer(capacity);
  out->lengths.clear();
  char* p = out->buffer.data();
  for (const RecordInput& r : records) {
    RecordHeader h;
    h.codec = static_cast<uint8_t>(codec);
    h.tag_len = static_cast<uint16_t>(r.tag.size());
    h.raw_len = r.size;
    std::memcpy(p + kRecordHeaderSize, r.tag.data(), r.tag.size());
    h.stored_len = encode(codec, static_cast<const char*>(r.data), r.size,
                          p + kRecordHeaderSize + r.tag.size());
    uint64_t len = h.record_length();
    h.encode(p);
    h.checksum = record_checksum(p, len);
    h.encode(p);
    std::memset(p + len, 0, align_up(len) - len);
    out->lengths.push_back(len);
    p += align_up(len);
  }
  out->bytes = static_cast<size_t>(p - out->buffer.data());
  return Status::ok();
}

EncodedBatch batch_of_encoded(std::span<const std::string_view> records) {
  EncodedBatch b;
  size_t capacity = 0;
  for (std::string_view r : records) capacity += align_up(r.size());
  b.buffer = AlignedBuffer(capacity);
  char* p = b.buffer.data();
  for (std::string_view r : records) {
    std::memcpy(p, r.data(), r.size());
    std::memset(p + r.size(), 0, align_up(r.size()) - r.size());
    b.lengths.push_back(r.size());
    p += align_up(r.size());
  }
  b.bytes = capacity;
  return b;
}

struct SegmentWriter::Waiter {
  EncodedBatch* batch;  // encoded by the caller, or
  Codec codec;          // with records non-empty: encoded by the leader, in chunks
  std::span<const RecordInput> records;
  bool force_sync;
  std::vector<Location>* locations;
  Status status;
  bool done = false;
  std::condition_variable cv;

  bool chunked() const { return !records.empty(); }
  size_t bytes() const { return batch ? batch->bytes : 0; }
};

SegmentWriter::SegmentWriter(FileSystem* fs, std::string dir, SegmentWriterOptions options,
                             Catalog* catalog)
    : fs_(fs), dir_(std::move(dir)), options_(options), catalog_(catalog) {}

SegmentWriter::~SegmentWriter() { close(); }

Status SegmentWriter::append(EncodedBatch* batch, bool force_sync,
                             std::vector<Location>* locations) {
  Waiter w{batch, Codec::kNone, {}, force_sync, locations, Status::ok(), false, {}};
  return enqueue(&w);
}

Status SegmentWriter::append_chunked(Codec codec, std::span<const RecordInput> records,
                                     std::vector<Location>* locations) {
  for (const RecordInput& r : records) {
    if (r.tag.size() > kMaxTagLen)
      return Status::invalid_argument("tag of " + std::to_string(r.tag.size()) +
                                      " bytes; at most " + std::to_string(kMaxTagLen));
    if (r.data == nullptr && r.size > 0) return Status::invalid_argument("record without data");
  }
  locations->clear();
  if (records.empty()) return Status::ok();
  Waiter w{nullptr, codec, records, false, locations, Status::ok(), false, {}};
  return enqueue(&w);
}

Status SegmentWriter::enqueue(Waiter* w) {
  std::unique_lock<std::mutex> l(mu_);
  queue_.push_back(w);
  while (!w->done && w != queue_.front()) w->cv.wait(l);
  if (w->done) return w->status;

  std::vector<Waiter*> group{w};
  bool sync = options_.sync != SyncMode::kNone || w->force_sync;
  size_t bytes = w->bytes();
  if (options_.sync != SyncMode::kPerBatch && !w->chunked()) {
    for (size_t i = 1; i < queue_.size() && bytes < options_.max_group_bytes; ++i) {
      if (queue_[i]->chunked()) break;  // leads a group of its own
      group.push_back(queue_[i]);
      bytes += queue_[i]->bytes();
      sync = sync || queue_[i]->force_sync;
    }
  }
  l.unlock();
  Status s = write_group(group, sync);
  l.lock();
  for (Waiter* g : group) {
    queue_.pop_front();
    g->status = s;
    g->done = true;
    if (g != w) g->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
  return s;
}

Status SegmentWriter::sync() {
  EncodedBatch empty;
  std::vector<Location> none;
  return append(&empty, true, &none);
}

Status SegmentWriter::close() {
  std::lock_guard<std::mutex> l(mu_);
  if (!active_) return Status::ok();
  std::unique_ptr<Active> a = std::move(active_);
  Status s = seal(a.get());
  if (s.is_ok() && dir_dirty_) s = fs_->sync_dir(dir_);
  if (s.is_ok()) dir_dirty_ = false;
  if (s.is_ok()) catalog_->published(a->id, {}, a->size, true);
  return s;
}

// The new segment is not synced here: a flush now would wait for the writes
// in flight (measured: ~10 ms a rotation, a tenth of the time of 1 GiB
// batches). Its header goes out with the group's data sync and its name with
// the directory sync after it (seal_group); a crash before that leaves at
// most a segment whose header block reads as zeros, which recovery removes:
// nothing in it was acknowledged.
Status SegmentWriter::open_segment() {
  auto a = std::make_unique<Active>();
  a->id = catalog_->new_segment_id();
  a->path = dir_ + "/" + segment_file_name(a->id);
  const std::string& path = a->path;
  if (options_.direct_writes) {
    LSM4KV_RETURN_IF_ERROR(fs_->new_direct_writable(path, &a->file));
  } else {
    LSM4KV_RETURN_IF_ERROR(fs_->new_writable(path, &a->file));
  }
  AlignedBuffer header(kAlign);
  encode_segment_header(a->id, header.data());
  Status s = a->file->append(std::string_view(header.data(), kAlign));
  if (s.is_ok()) s = catalog_->segment_created(a->id);
  if (!s.is_ok()) {
    a->file->close();
    fs_->remove(path);
    return s;
  }
  a->size = kAlign;
  a->group_start_size = kAlign;
  a->created_in_group = true;
  dir_dirty_ = true;
  active_ = std::move(a);
  return Status::ok();
}

// Ends a group: syncs and seals its segments (sync_and_seal), then, when
// segments were created since the last directory sync and anything was
// synced, the directory.
Status SegmentWriter::seal_group(std::vector<Active>* retired, bool sync) {
  LSM4KV_RETURN_IF_ERROR(sync_and_seal(retired, sync));
  if (!dir_dirty_ || (!sync && retired->empty())) return Status::ok();
  LSM4KV_RETURN_IF_ERROR(fs_->sync_dir(dir_));
  dir_dirty_ = false;
  return Status::ok();
}

// Syncs the data of the group's segments (the retired ones whatever the
// mode: data before seal), then seals the retired ones. Every sync goes
// through WritableFile::sync(), so a FileSystem wrapper sees each one (a
// single io_uring round of fdatasyncs saved little: two or three files at a
// rotation, once per segment).
Status SegmentWriter::sync_and_seal(std::vector<Active>* retired, bool sync) {
  Status s;
  if (sync && active_) s = active_->file->sync();
  for (size_t i = 0; s.is_ok() && i < retired->size(); ++i) s = seal(&(*retired)[i]);
  return s;
}

Status SegmentWriter::seal(Active* a) {
  std::string seal_bytes = build_seal(a->id, a->size, a->records);
  Status s = a->file->sync();
  if (s.is_ok()) s = a->file->append(seal_bytes);
  if (s.is_ok()) s = a->file->sync();
  if (s.is_ok()) s = a->file->close();
  if (s.is_ok()) a->size += seal_bytes.size();
  return s;
}

// Chunks go through the ring, several in flight; a batch encoded by its
// caller is one write, waited for right away: a plain pwrite, which costs
// less than the ring's hand-off to a kernel worker.
// A file without a descriptor (a wrapper's plain WritableFile) takes appends.
Status SegmentWriter::write_piece(Active* a, const char* data, size_t n, int slot) {
  WritableFile* f = a->file.get();
  int fd = f->fd();
  if (!ring_ || slot == WriteRing::kNoSlot || fd < 0) return f->append(std::string_view(data, n));
  size_t align = f->direct_alignment();
  int direct = align != 0 && kAlign % align == 0 ? f->direct_fd() : -1;
  uint64_t offset = f->size();
  f->advance(n);
  return ring_->write(direct, fd, data, n, offset, slot, a->path.c_str());
}

Status SegmentWriter::place(const EncodedBatch& batch, int slot, std::vector<Active>* retired,
                            bool sync, std::vector<Location>* locations) {
  const char* buf = batch.buffer.data();
  size_t piece = 0, pos = 0;  // [piece, pos) of buf goes to the active segment
  for (uint64_t len : batch.lengths) {
    uint64_t padded = align_up(len);
    bool full = active_ && !active_->records.empty() &&
                active_->size + padded > options_.segment_size;
    if (!active_ || full) {
      if (active_ && pos > piece)
        LSM4KV_RETURN_IF_ERROR(write_piece(active_.get(), buf + piece, pos - piece, slot));
      piece = pos;
      if (active_) retired->push_back(std::move(*active_));
      active_.reset();
      LSM4KV_RETURN_IF_ERROR(open_segment());
    }
    locations->push_back({active_->id, active_->size, len});
    active_->records.push_back({active_->size, len, false});
    active_->size += padded;
    pos += padded;
  }
  if (pos > piece) return write_piece(active_.get(), buf + piece, pos - piece, slot);
  return Status::ok();
}

// Encodes chunk k into buffer k % chunk_buffers once the writes from that
// buffer are done, so up to chunk_buffers - 1 chunks are in flight while the
// next is encoded. Chunk k holds at most first_chunk_bytes << k (and at most
// chunk_bytes) of encoded records, but always at least one record.
Status SegmentWriter::write_chunks(const Waiter& w, std::vector<Active>* retired, bool sync) {
  unsigned n = std::max(1u, options_.chunk_buffers);
  if (chunks_.empty()) {
    chunks_.resize(n + 1);
    for (unsigned i = 0; i < n; ++i) chunks_[i].buffer = AlignedBuffer(options_.chunk_bytes);
    if (options_.direct_writes) {
      std::vector<std::span<char>> slots;
      for (EncodedBatch& c : chunks_) slots.emplace_back(c.buffer.data(), c.buffer.size());
      // A chunk is written in one piece per segment it touches, usually one.
      ring_ = std::make_unique<WriteRing>(4 * (n + 1), slots);
    }
  }
  std::span<const RecordInput> rest = w.records;
  size_t budget = std::min(options_.first_chunk_bytes, options_.chunk_bytes);
  for (size_t k = 0; !rest.empty(); ++k, budget = std::min(2 * budget, options_.chunk_bytes)) {
    size_t count = 0, bytes = 0;
    while (count < rest.size()) {
      const RecordInput& r = rest[count];
      size_t need =
          align_up(kRecordHeaderSize + r.tag.size() + max_encoded_length(w.codec, r.size));
      if (count > 0 && bytes + need > budget) break;
      bytes += need;
      ++count;
    }
    // A record bigger than a chunk buffer gets the last slot, never registered:
    // encode_batch grows that buffer.
    int slot = bytes > options_.chunk_bytes ? static_cast<int>(n) : static_cast<int>(k % n);
    if (ring_) LSM4KV_RETURN_IF_ERROR(ring_->wait_slot(slot));
    EncodedBatch* chunk = &chunks_[static_cast<size_t>(slot)];
    LSM4KV_RETURN_IF_ERROR(encode_batch(w.codec, rest.first(count), chunk));
    LSM4KV_RETURN_IF_ERROR(place(*chunk, slot, retired, sync, w.locations));
    rest = rest.subspan(count);
  }
  return Status::ok();
}

Status SegmentWriter::write_group(std::vector<Waiter*>& group, bool sync) {
  std::vector<Active> retired;  // rotated out during this group, sealed at its end
  if (active_) {
    active_->group_start_size = active_->size;
    active_->group_start_records = active_->records.size();
    active_->created_in_group = false;
  }
  Status s;
  for (Waiter* w : group) {
    w->locations->clear();
    s = w->chunked() ? write_chunks(*w, &retired, sync)
                     : place(*w->batch, WriteRing::kNoSlot, &retired, sync, w->locations);
    if (!s.is_ok()) break;
  }
  // Every write must be done (failed or not) before the files are synced,
  // sealed or cut back.
  if (ring_) {
    Status d = ring_->drain();
    if (s.is_ok()) s = d;
  }
  if (s.is_ok()) s = seal_group(&retired, sync);
  if (!s.is_ok()) {
    if (active_) retired.push_back(std::move(*active_));
    active_.reset();
    roll_back(retired);
    for (Waiter* w : group) w->locations->clear();
    return s;
  }
  auto added = [](const Active& a) {
    return std::vector<SegmentRecord>(a.records.begin() + static_cast<long>(a.group_start_records),
                                      a.records.end());
  };
  for (const Active& r : retired) catalog_->published(r.id, added(r), r.size, true);
  if (active_) catalog_->published(active_->id, added(*active_), active_->size, false);
  return Status::ok();
}

void SegmentWriter::roll_back(std::vector<Active>& touched) {
  for (Active& a : touched) {
    const std::string& path = a.path;
    if (a.file) a.file->close();
    if (a.created_in_group) {
      catalog_->segment_dropped(a.id);
      fs_->remove(path);
      continue;
    }
    // Cut the failed group off and seal what came before; if even that fails
    // the segment stays unsealed and is scanned at the next open.
    a.records.resize(a.group_start_records);
    a.size = a.group_start_size;
    if (!fs_->truncate(path, a.size).is_ok()) continue;
    if (!fs_->new_appendable(path, &a.file).is_ok()) continue;
    if (seal(&a).is_ok()) {
      catalog_->published(a.id, {}, a.size, true);
    } else {
      a.file->close();
      fs_->truncate(path, a.group_start_size);
    }
  }
}

}  // namespace lsm4kv::tensorlog
