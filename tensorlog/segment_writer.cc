#include "tensorlog/segment_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
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

namespace {

// The most a record of at most max_len bytes occupies, gap before it included.
uint64_t allocation_bound(uint64_t max_len) {
  return block_aligned_record(max_len) ? kAlign + align_up(max_len) : record_align_up(max_len);
}

Status check_records(std::span<const RecordInput> records) {
  for (const RecordInput& r : records) {
    if (r.tag.size() > kMaxTagLen)
      return Status::invalid_argument("tag of " + std::to_string(r.tag.size()) +
                                      " bytes; at most " + std::to_string(kMaxTagLen));
    if (r.slices.empty() && r.data == nullptr && r.size > 0) return Status::invalid_argument("record without data");
    size_t total = 0;
    for (const IoSlice& sl : r.slices) {
      if (sl.data == nullptr && sl.size > 0) return Status::invalid_argument("record slice without data");
      total += sl.size;
    }
    if (!r.slices.empty() && total != r.size)
      return Status::invalid_argument("record slices hold " + std::to_string(total) + " bytes, not " +
                                      std::to_string(r.size));
  }
  return Status::OK();
}

// Zeros from the end of the last allocation to the next block boundary.
void zero_to_block(EncodedBatch* b) {
  std::memset(b->buffer.data() + b->bytes, 0, align_up(b->bytes) - b->bytes);
}

// Starts a layout from block offset start; out->buffer must hold `capacity`.
// A buffer that is reused grows by a quarter at least: batches of varied
// sizes would otherwise replace it (and fault in every page again) at each
// new largest one.
void begin_layout(uint64_t start, size_t capacity, EncodedBatch* out) {
  const size_t have = out->buffer.size();
  if (have < capacity) out->buffer = AlignedBuffer(std::max(capacity, have + have / 4));
  out->start = start;
  out->bytes = start;
  out->offsets.clear();
  out->lengths.clear();
}

// Appends a record of len bytes whose bytes the caller puts at the returned
// pointer; zeros around it.
char* add_record(uint64_t len, EncodedBatch* b) {
  uint64_t at = next_record_offset(b->bytes, len);
  char* base = b->buffer.data();
  std::memset(base + b->bytes, 0, at - b->bytes);
  uint64_t end = at + allocated_bytes(len);
  std::memset(base + at + len, 0, end - at - len);
  b->offsets.push_back(at);
  b->lengths.push_back(len);
  b->bytes = end;
  return base + at;
}

}  // namespace

size_t encoded_capacity(Codec codec, std::span<const RecordInput> records, uint64_t start) {
  size_t capacity = start + kAlign;
  for (const RecordInput& r : records)
    capacity += allocation_bound(kRecordHeaderSize + r.tag.size() + max_encoded_length(codec, r.size));
  return capacity;
}

Status encode_batch(Codec codec, std::span<const RecordInput> records, EncodedBatch* out,
                    uint64_t start) {
  LSM4KV_RETURN_IF_ERROR(check_records(records));
  // A buffer handed in big enough is reused: a fresh one costs a page fault
  // per 4 KiB, as much as the copy itself.
  begin_layout(start, encoded_capacity(codec, records, start), out);
  char* base = out->buffer.data();
  for (const RecordInput& r : records) {
    uint64_t max_len = kRecordHeaderSize + r.tag.size() + max_encoded_length(codec, r.size);
    // Encoded where the longest encoding would go; moved down when it came
    // out short enough to be packed.
    uint64_t at = next_record_offset(out->bytes, max_len);
    char* p = base + at;
    RecordHeader h;
    h.codec = static_cast<uint8_t>(codec);
    h.tag_len = static_cast<uint16_t>(r.tag.size());
    h.raw_len = r.size;
    std::memcpy(p + kRecordHeaderSize, r.tag.data(), r.tag.size());
    char* payload = p + kRecordHeaderSize + r.tag.size();
    if (r.slices.empty()) {
      h.stored_len = encode(codec, static_cast<const char*>(r.data), r.size, payload);
    } else if (codec == Codec::kNone) {
      gather_copy(r.slices, payload);
      h.stored_len = r.size;
    } else {  // a compressing codec wants its input whole
      std::vector<char> whole(r.size);
      gather_copy(r.slices, whole.data());
      h.stored_len = encode(codec, whole.data(), r.size, payload);
    }
    uint64_t len = h.record_length();
    h.encode(p);
    h.checksum = record_checksum(p, len);
    h.encode(p);
    uint64_t final_at = next_record_offset(out->bytes, len);
    if (final_at != at) std::memmove(base + final_at, p, len);
    add_record(len, out);  // zeros the gap and the padding around it
  }
  zero_to_block(out);
  return Status::OK();
}

EncodedBatch batch_of_encoded(std::span<const std::string_view> records, uint64_t start) {
  EncodedBatch b;
  size_t capacity = start + kAlign;
  for (std::string_view r : records) capacity += allocation_bound(r.size());
  begin_layout(start, capacity, &b);
  for (std::string_view r : records) std::memcpy(add_record(r.size(), &b), r.data(), r.size());
  zero_to_block(&b);
  return b;
}

void layout_batch(std::span<const uint64_t> lengths, uint64_t start, EncodedBatch* out) {
  size_t capacity = start + kAlign;
  for (uint64_t len : lengths) capacity += allocation_bound(len);
  begin_layout(start, capacity, out);
  // Only what no record covers is zeroed here (the caller fills every
  // record): zeroing the whole buffer was a record-sized memset per copied
  // chunk.
  std::memset(out->buffer.data(), 0, start);
  for (uint64_t len : lengths) add_record(len, out);
  zero_to_block(out);
}

void relay_out(const EncodedBatch& from, size_t first, uint64_t start, EncodedBatch* out) {
  size_t capacity = start + kAlign;
  for (size_t i = first; i < from.lengths.size(); ++i) capacity += allocation_bound(from.lengths[i]);
  begin_layout(start, capacity, out);
  for (size_t i = first; i < from.lengths.size(); ++i)
    std::memcpy(add_record(from.lengths[i], out), from.buffer.data() + from.offsets[i],
                from.lengths[i]);
  zero_to_block(out);
}

struct SegmentWriter::Waiter {
  EncodedBatch* batch;  // encoded by the caller, or
  Codec codec;          // with records non-empty: encoded by the leader, in chunks
  std::span<const RecordInput> records;
  Durability durability;
  std::vector<Location>* locations;
  Status status;
  bool done = false;
  std::condition_variable cv;

  bool chunked() const { return !records.empty(); }
  size_t bytes() const { return batch ? batch->bytes : 0; }
};

SegmentWriter::SegmentWriter(FileSystem* fs, std::string dir, SegmentWriterOptions options,
                             Catalog* catalog)
    : fs_(fs), dir_(std::move(dir)), options_(options), catalog_(catalog), segment_size_(options.segment_size) {}

SegmentWriter::~SegmentWriter() { close().ignore_error(); }  // close() reports; a destructor cannot

Status SegmentWriter::append(EncodedBatch* batch, Durability durability, std::vector<Location>* locations) {
  Waiter w{batch, Codec::kNone, {}, durability, locations, Status::OK(), false, {}};
  return enqueue(&w);
}

Status SegmentWriter::append_chunked(Codec codec, std::span<const RecordInput> records,
                                     std::vector<Location>* locations) {
  LSM4KV_RETURN_IF_ERROR(check_records(records));
  locations->clear();
  if (records.empty()) return Status::OK();
  Waiter w{nullptr, codec, records, Durability::kByMode, locations, Status::OK(), false, {}};
  return enqueue(&w);
}

Status SegmentWriter::enqueue(Waiter* w) {
  std::unique_lock<std::mutex> l(mu_);
  queue_.push_back(w);
  while (!w->done && w != queue_.front()) w->cv.wait(l);
  if (w->done) return w->status;

  std::vector<Waiter*> group{w};
  auto wants_sync = [&](const Waiter* x) {
    return x->durability == Durability::kForce ||
           (x->durability == Durability::kByMode && options_.sync != SyncMode::kNone);
  };
  bool sync = wants_sync(w);
  size_t bytes = w->bytes();
  if (options_.sync != SyncMode::kPerBatch && !w->chunked()) {
    for (size_t i = 1; i < queue_.size() && bytes < options_.max_group_bytes; ++i) {
      if (queue_[i]->chunked()) break;  // leads a group of its own
      group.push_back(queue_[i]);
      bytes += queue_[i]->bytes();
      sync = sync || wants_sync(queue_[i]);
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
  return append(&empty, Durability::kForce, &none);
}

Status SegmentWriter::close() {
  std::lock_guard<std::mutex> l(mu_);
  if (!active_) return Status::OK();
  std::unique_ptr<Active> a = std::move(active_);
  Status s = a->file->sync();
  if (s.ok()) s = seal(a.get(), /*durable=*/true);
  if (s.is_no_space()) {
    // The records are durable; a seal that does not fit on a full disk only
    // makes the next open slower (the segment is scanned). Cut off what of it
    // was written; the segment is closed for writing all the same.
    a->file->close().ignore_error();
    s = fs_->truncate(a->path, a->size);
    a->file_size = a->size;
  }
  if (s.ok() && dir_dirty_) s = fs_->sync_dir(dir_);
  if (s.ok()) dir_dirty_ = false;
  if (s.ok()) catalog_->published(a->id, {}, a->file_size, true);
  tail_hint_.store(0, std::memory_order_relaxed);
  return s;
}

// The new segment is not synced here: a flush now would wait for the writes
// in flight (measured: ~10 ms a rotation, a tenth of the time of 1 GiB
// batches). Its header goes out with the group's data sync and its name with
// the directory sync after it (seal_group); a crash before that leaves at
// most a segment whose header block reads as zeros, which recovery removes:
// nothing in it was acknowledged. A reused file (the catalog's spare) is
// renamed first: until its header is durable it holds the old segment's
// header, which recovery also tells from an acknowledged one
// (recover_segment).
Status SegmentWriter::open_segment(bool take_spare) {
  auto a = std::make_unique<Active>();
  a->id = catalog_->new_segment_id();
  a->path = dir_ + "/" + segment_file_name(a->id);
  const std::string& path = a->path;
  std::string spare;
  if (take_spare && options_.direct_writes && catalog_->take_spare(&spare, &a->reserved)) {
    Status r = fs_->reuse_direct_writable(spare, &a->file);
    if (r.ok()) r = fs_->rename(spare, path);
    if (!r.ok()) {  // a new file instead
      a->file.reset();
      a->reserved = 0;
      fs_->remove(spare).ignore_error();
    }
  }
  if (!a->file)
    LSM4KV_RETURN_IF_ERROR(options_.direct_writes ? fs_->new_direct_writable(path, &a->file)
                                                  : fs_->new_writable(path, &a->file));
  AlignedBuffer header(kAlign);
  encode_segment_header(a->id, header.data());
  Status s = a->file->append(std::string_view(header.data(), kAlign));
  if (s.ok()) s = catalog_->segment_created(a->id, a->reserved);
  if (!s.ok()) {
    a->file->close().ignore_error();
    fs_->remove(path).ignore_error();
    return s;
  }
  a->size = kAlign;
  a->file_size = kAlign;
  a->positional = a->file->fd() >= 0;
  a->tail = AlignedBuffer(kAlign);
  a->group_start_size = kAlign;
  a->created_in_group = true;
  dir_dirty_ = true;
  active_ = std::move(a);
  return Status::OK();
}

// Ends a group: syncs and seals its segments (sync_and_seal), then, when
// segments were created since the last directory sync and anything was
// synced, the directory.
Status SegmentWriter::seal_group(std::vector<Active>* retired, bool sync) {
  LSM4KV_RETURN_IF_ERROR(sync_and_seal(retired, sync));
  if (!dir_dirty_ || (!sync && retired->empty())) return Status::OK();
  LSM4KV_RETURN_IF_ERROR(fs_->sync_dir(dir_));
  dir_dirty_ = false;
  return Status::OK();
}

// Syncs the data of the group's segments (the retired ones whatever the
// mode: data before seal), then seals the retired ones without syncing the
// seals: the group waits for its data, not for the seal's write and a second
// sync of each retired file (~0.4 ms a rotation). A seal lost to a power
// cut costs a scan at the next open (recover_segment), nothing else: the
// seal only indexes records already durable. That holds because place()
// writes a retired segment's partial last block before retiring it; were
// the seal's write the first of that block, the record ending in it would
// be durable only with the seal (the store's power-cut test loses it).
// Every sync goes through WritableFile::sync(), so a FileSystem wrapper
// sees each one (a single io_uring round of fdatasyncs saved little: two
// or three files at a rotation, once per segment).
Status SegmentWriter::sync_and_seal(std::vector<Active>* retired, bool sync) {
  Status s;
  if (sync && active_) s = active_->file->sync();
  for (size_t i = 0; s.ok() && i < retired->size(); ++i) s = seal(&(*retired)[i], /*durable=*/false);
  return s;
}

// The seal follows the last record in its block: a file written in place
// gets that block again, with the index after the records' bytes. The
// records' data is synced first; the seal itself only when durable (see
// sync_and_seal): a reused file is cut to the seal's end either way, and a
// cut lost to a crash leaves the old segment's bytes after the seal, which
// recovery scans past (their checksums name the old id).
Status SegmentWriter::seal(Active* a, bool durable) {
  std::string seal_bytes = build_seal(a->id, a->size, a->records);
  Status s = a->file->sync();
  if (s.ok() && a->positional) {
    uint64_t t = a->size % kAlign;
    AlignedBuffer buf(t + seal_bytes.size());
    std::memcpy(buf.data(), a->tail.data(), t);
    std::memcpy(buf.data() + t, seal_bytes.data(), seal_bytes.size());
    s = write_at(a, buf.data(), buf.size(), align_down(a->size), WriteRing::kNoSlot);
  } else if (s.ok()) {
    s = a->file->append(seal_bytes);
  }
  // A reused file ends with the seal, its old bytes after it cut off (their
  // blocks freed: one discard, usually of less than a record).
  const uint64_t end = a->size + seal_bytes.size();
  if (s.ok() && a->reserved > end) s = fs_->truncate(a->path, end);
  if (s.ok() && durable) s = a->file->sync();
  if (s.ok()) s = a->file->close();
  if (s.ok()) a->file_size = end;
  return s;
}

namespace {

// pwrite of all n bytes, through direct_fd when it is not -1 (the caller
// checked the alignment), else or where refused through fd.
Status pwrite_all(int direct_fd, int fd, const char* p, size_t n, uint64_t offset,
                  const std::string& what) {
  int use = direct_fd >= 0 ? direct_fd : fd;
  while (n > 0) {
    ssize_t w = ::pwrite(use, p, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EINVAL && use == direct_fd) {
      use = fd;  // the file system refuses O_DIRECT
      continue;
    }
    if (w < 0) return Status::from_errno(errno, "write " + what);
    if (w == 0) return Status::io_error("write " + what + ": wrote 0 bytes");
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
    if (w % static_cast<ssize_t>(kAlign) != 0) use = fd;  // the rest is unaligned
  }
  return Status::OK();
}

}  // namespace

// Chunks go through the ring, several in flight; anything else is one write,
// waited for right away: a plain pwrite, which costs less than the ring's
// hand-off to a kernel worker. data, n and offset are block aligned.
Status SegmentWriter::write_at(Active* a, const char* data, size_t n, uint64_t offset, int slot) {
  WritableFile* f = a->file.get();
  int fd = f->fd();
  if (fd < 0) return Status::io_error("write " + a->path + ": the file has no descriptor any more");
  size_t align = f->direct_alignment();
  int direct = align != 0 && kAlign % align == 0 ? f->direct_fd() : -1;
  if (offset + n > a->file_size) {
    f->advance(offset + n - a->file_size);
    a->file_size = offset + n;
  }
  if (!ring_ || slot == WriteRing::kNoSlot) return pwrite_all(direct, fd, data, n, offset, a->path);
  return ring_->write(direct, fd, data, n, offset, slot, a->path.c_str());
}

Status SegmentWriter::write_tail_block(Active* a) {
  AlignedBuffer block(kAlign);
  const uint64_t t = a->size % kAlign;
  std::memcpy(block.data(), a->tail.data(), t);
  std::memset(block.data() + t, 0, kAlign - t);
  return write_at(a, block.data(), kAlign, align_down(a->size), WriteRing::kNoSlot);
}

Status SegmentWriter::write_records(Active* a, char* data, uint64_t new_end, int slot, bool last) {
  const uint64_t base = align_down(a->size);
  const uint64_t t = a->size % kAlign;
  std::memcpy(data, a->tail.data(), t);
  if (!a->positional) {
    // A plain file appends the new bytes and nothing else.
    LSM4KV_RETURN_IF_ERROR(a->file->append(std::string_view(data + t, new_end - a->size)));
    a->file_size = new_end;
  } else {
    // Whole blocks; the partial last one only when no chunk of the batch
    // follows (that chunk writes it, whole or again partial, itself).
    uint64_t upto = last ? align_up(new_end) : align_down(new_end);
    if (upto > base) LSM4KV_RETURN_IF_ERROR(write_at(a, data, upto - base, base, slot));
  }
  std::memcpy(a->tail.data(), data + (align_down(new_end) - base), new_end % kAlign);
  a->size = new_end;
  return Status::OK();
}

Status SegmentWriter::place(EncodedBatch& batch, int slot, std::vector<Active>* retired, bool last,
                            std::vector<Location>* locations) {
  const size_t n = batch.lengths.size();
  for (size_t i = 0; i < n;) {
    if (!active_) LSM4KV_RETURN_IF_ERROR(open_segment(batch.takes_spare));
    Active* a = active_.get();
    const uint64_t t = a->size % kAlign;
    // The batch as encoded, when it was laid out for this very position;
    // else its remaining records again, in relaid_ (written at once).
    EncodedBatch* src = &batch;
    size_t first = 0;  // src's index of record i
    int src_slot = slot;
    if (i != 0 || batch.start != t) {
      relay_out(batch, i, t, &relaid_);
      src = &relaid_;
      first = i;
      src_slot = WriteRing::kNoSlot;
    }
    const uint64_t base = align_down(a->size);
    const uint64_t segment_size = segment_size_.load(std::memory_order_relaxed);
    size_t j = i;
    uint64_t end = a->size;
    for (; j < n; ++j) {
      uint64_t at = base + src->offsets[j - first];
      uint64_t rec_end = at + allocated_bytes(batch.lengths[j]);
      bool fits = rec_end <= segment_size || (a->records.empty() && j == i);
      // A spare waits and this record would grow the file: the spare first
      // ("Reused files", tensor_log.h).
      if (fits && batch.takes_spare && rec_end > a->reserved && catalog_->spare_ready() &&
          !(a->records.empty() && j == i))
        fits = false;
      if (!fits) break;
      rebind_record(src->buffer.data() + (at - base), 0, a->id);  // encoded unbound
      locations->push_back({a->id, at, batch.lengths[j]});
      a->records.push_back({at, batch.lengths[j], false});
      end = rec_end;
    }
    if (j > i)
      LSM4KV_RETURN_IF_ERROR(write_records(a, src->buffer.data(), end, src_slot, last || j < n));
    if (j < n) {
      // The partial last block an earlier chunk left to this one, which
      // wrote nothing here: written now, with the data (see sync_and_seal).
      if (a->positional && a->size % kAlign != 0 && a->file_size < align_up(a->size))
        LSM4KV_RETURN_IF_ERROR(write_tail_block(a));
      retired->push_back(std::move(*active_));
      active_.reset();
    }
    i = j;
  }
  tail_hint_.store(active_ ? active_->size % kAlign : 0, std::memory_order_relaxed);
  return Status::OK();
}

// Encodes chunk k into buffer k % chunk_buffers once the writes from that
// buffer are done, so up to chunk_buffers - 1 chunks are in flight while the
// next is encoded. Chunk k holds at most first_chunk_bytes << k (and at most
// chunk_bytes) of encoded records, but always at least one record.
Status SegmentWriter::write_chunks(const Waiter& w, std::vector<Active>* retired) {
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
    // Laid out for where the segment's records end now (a chunk that goes
    // to a new segment is laid out again by place).
    const uint64_t start = active_ ? active_->size % kAlign : 0;
    size_t count = 0, capacity = encoded_capacity(w.codec, {}, start);
    while (count < rest.size()) {
      size_t need = encoded_capacity(w.codec, rest.subspan(count, 1), 0) - kAlign;
      if (count > 0 && capacity + need > budget) break;
      capacity += need;
      ++count;
    }
    // A record bigger than a chunk buffer gets the last slot, never registered:
    // encode_batch grows that buffer.
    int slot = capacity > options_.chunk_bytes ? static_cast<int>(n) : static_cast<int>(k % n);
    if (ring_) LSM4KV_RETURN_IF_ERROR(ring_->wait_slot(slot));
    EncodedBatch* chunk = &chunks_[static_cast<size_t>(slot)];
    LSM4KV_RETURN_IF_ERROR(encode_batch(w.codec, rest.first(count), chunk, start));
    chunk->takes_spare = true;  // new records
    LSM4KV_RETURN_IF_ERROR(place(*chunk, slot, retired, count == rest.size(), w.locations));
    rest = rest.subspan(count);
  }
  return Status::OK();
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
    s = w->chunked() ? write_chunks(*w, &retired)
                     : place(*w->batch, WriteRing::kNoSlot, &retired, true, w->locations);
    if (!s.ok()) break;
  }
  // Every write must be done (failed or not) before the files are synced,
  // sealed or cut back.
  if (ring_) {
    Status d = ring_->drain();
    if (s.ok()) s = d;
  }
  if (s.ok()) s = seal_group(&retired, sync);
  if (!s.ok()) {
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
  for (const Active& r : retired) catalog_->published(r.id, added(r), r.file_size, true);
  if (active_) catalog_->published(active_->id, added(*active_), active_->file_size, false);
  return Status::OK();
}

void SegmentWriter::roll_back(std::vector<Active>& touched) {
  for (Active& a : touched) {
    const std::string& path = a.path;
    if (a.file) a.file->close().ignore_error();
    if (a.created_in_group) {
      catalog_->segment_dropped(a.id);
      fs_->remove(path).ignore_error();
      continue;
    }
    // Cut the failed group off (to the end of the last record before it:
    // the failed writes may have left bytes in its block) and seal what came
    // before, appending; if even that fails the segment stays unsealed and is
    // scanned at the next open.
    a.records.resize(a.group_start_records);
    a.size = a.group_start_size;
    a.file_size = a.size;
    a.positional = false;
    if (!fs_->truncate(path, a.size).ok()) continue;
    if (!fs_->new_appendable(path, &a.file).ok()) continue;
    if (seal(&a, /*durable=*/true).ok()) {
      catalog_->published(a.id, {}, a.file_size, true);
    } else {
      a.file->close().ignore_error();
      fs_->truncate(path, a.group_start_size).ignore_error();
    }
  }
}

}  // namespace lsm4kv::tensorlog
