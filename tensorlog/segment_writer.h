// SegmentWriter: appends batches of records to the active segment, rotates
// segments when they reach their size bound, and makes batches durable as the
// sync mode says.
//
// A small batch is encoded (codec, header, checksum, packing) by the calling
// thread into one aligned buffer (EncodedBatch), laid out for where the
// active segment's records end when it is encoded (tail_hint()), then
// queued, so concurrent writers encode in parallel; the leader re-lays out
// (copies) a batch whose guess was wrong, or the part of it that goes to a
// new segment. Records are packed (record_format.h): the last, partial block
// of the active segment is kept in memory and written again, in front of the
// next batch's records, in the same aligned write. A big batch (append_chunked) is encoded by the
// writer itself, chunk by chunk, into its own registered chunk buffers: while
// the WriteRing has earlier chunks on their way to the disk the writing thread
// encodes the next, so the disk's queue never drains inside a batch; the
// chunks grow (256 KiB, 512 KiB, ... 16 MiB) so the first write starts early. Batches
// queue up; the writer at the head of the queue is the leader and writes for
// everyone (a big batch always forms a group of its own):
//
//   kNone        no fdatasync; a group of queued batches is written together.
//   kPerBatch    every batch is written and fdatasync'ed on its own: once,
//                after its last chunk.
//   kGroupCommit the leader writes every queued batch, then one fdatasync
//                covers them all (the classic group commit of a WAL).
//
// INVARIANT: a location is returned (and published to the Catalog) only after
// its whole batch was written, and synced when the mode or the caller asks.
// A failed write or sync (EIO, ENOSPC, short write) of any chunk waits for the
// writes still in flight, cuts every segment the group touched back to its
// size before the group, seals the segment that was active (segments created
// by the group are removed), and returns the error to every batch of the
// group: none of a failed batch is ever visible. The next batch starts a new
// segment.
//
// A segment is sealed (index record + footer, see record_format.h) when it is
// rotated out or the writer is closed; data is fdatasync'ed before its seal,
// which is synced only at close (a rotated segment's seal may be lost to a
// power cut: recovery then scans it).
//
// Thread-safety: append(), append_chunked() and sync() may be called from
// many threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/sync_mode.h"
#include "base/io_slice.h"
#include "base/file_system.h"
#include "base/status.h"
#include "tensorlog/codec.h"
#include "tensorlog/record_format.h"
#include "tensorlog/segment.h"
#include "tensorlog/write_ring.h"

namespace lsm4kv::tensorlog {

using ::lsm4kv::SyncMode;  // base/sync_mode.h

// One record to append: the caller's tag (<= kMaxTagLen bytes) and the raw
// tensor bytes, in host memory.
struct RecordInput {
  RecordInput() = default;
  RecordInput(std::string_view t, const void* d, size_t n) : tag(t), data(d), size(n) {}
  RecordInput(std::string_view t, std::span<const IoSlice> s, size_t n) : tag(t), size(n), slices(s) {}

  std::string_view tag;
  const void* data = nullptr;
  size_t size = 0;
  // When not empty, the record's bytes are these slices in order (their
  // sizes sum to `size`; `data` is unused): copied into the segment's
  // buffer straight from them.
  std::span<const IoSlice> slices;
};

// Heap memory aligned to kAlign.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n);
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& o) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

// A batch ready to be placed: its records' checksums are bound to no segment
// (segment 0, record_format.h), the writer binds each to the segment it
// places it in. Buffer byte 0 stands for the start of the block
// in which the segment's records end (at block offset `start`); records are
// laid out from there as record_format.h places them, zeros between and after
// them up to a block boundary. Bytes [0, start) get the segment's tail block.
struct EncodedBatch {
  AlignedBuffer buffer;
  uint64_t start = 0;             // < kAlign, a multiple of kRecordAlign
  std::vector<uint64_t> offsets;  // of each record in buffer
  std::vector<uint64_t> lengths;  // record lengths, in order
  size_t bytes = 0;               // end of the last record's allocation in buffer
  // New records (not a collection's copies): rather than grow a file, they
  // go to a reused one when the catalog has a spare for this writer
  // (TensorLog, "Reused files": the put head's).
  bool takes_spare = false;
};

// Buffer bytes encode_batch needs at most for these records from `start`.
size_t encoded_capacity(Codec codec, std::span<const RecordInput> records, uint64_t start);
// Encodes records with codec into out->buffer (reused when big enough), laid
// out from block offset start. InvalidArgument for a tag that is too long.
Status encode_batch(Codec codec, std::span<const RecordInput> records, EncodedBatch* out,
                    uint64_t start = 0);
// A batch of records that are already encoded (GC copies them byte for byte).
EncodedBatch batch_of_encoded(std::span<const std::string_view> records, uint64_t start = 0);
// Lays out *out (its buffer reused when big enough) for records of these
// lengths from block offset start, zero everywhere but the records: the
// caller copies each record to buffer + offsets[i].
void layout_batch(std::span<const uint64_t> lengths, uint64_t start, EncodedBatch* out);
// Lays out records [first, end) of `from` again from block offset start into
// *out (its buffer reused when big enough).
void relay_out(const EncodedBatch& from, size_t first, uint64_t start, EncodedBatch* out);

struct SegmentWriterOptions {
  uint64_t segment_size = uint64_t{256} << 20;
  SyncMode sync = SyncMode::kPerBatch;
  // Most bytes of queued batches one leader writes in one group.
  size_t max_group_bytes = size_t{64} << 20;
  // Create segments with FileSystem::new_direct_writable (POSIX: O_DIRECT, no
  // page-cache copy) and write big batches through io_uring when the file
  // has a descriptor; a FileSystem that does not override it (a test's fault
  // injector) gets plain appends.
  bool direct_writes = true;
  // append_chunked: encoded bytes per chunk (a single bigger record is a
  // chunk of its own), and chunk buffers, one being encoded while the others
  // are written. The buffers (chunk_bytes * chunk_buffers) are allocated at
  // the first big batch and kept.
  // 3 x 16 MiB in flight keep the disk busy while the leader is off the CPU
  // (on a loaded 2-core machine 8 x 4 MiB did worse: 0.6-0.7 of raw for
  // 1 GiB batches against 0.7-1.0).
  size_t chunk_bytes = size_t{16} << 20;
  unsigned chunk_buffers = 4;
  // The chunks of a batch grow from first_chunk_bytes, doubling up to
  // chunk_bytes, so that the disk starts on a batch after a short encode
  // (256 KiB: ~25 us at 11 GB/s) instead of a whole chunk's (16 MiB:
  // ~1.5 ms), while the later, bigger chunks keep the writes few (a 16 MiB
  // batch is 7 writes).
  size_t first_chunk_bytes = size_t{256} << 10;
  // Batches of more encoded bytes than this are pipelined (append_chunked).
  // Below it the caller's encode (<= ~0.35 ms) costs about what splitting a
  // small write does (each write waits for a kernel worker on a busy
  // machine). Median-slice ratios to raw, pipelined vs not: 544 KiB batches
  // 0.77-0.82 vs 0.88-0.92; 2 MiB 0.89-1.06 vs 0.92-0.98; 3.6 MiB
  // 0.86-0.97 vs 0.86-0.96; 4-8 MiB 0.96-1.05 vs 0.68-0.92.
  size_t pipeline_bytes = size_t{4} << 20;
};

class SegmentWriter {
 public:
  // What the owner of the writer (the TensorLog) learns from it.
  class Catalog {
   public:
    virtual ~Catalog() = default;
    virtual uint64_t new_segment_id() = 0;
    // The file of a collected segment to write the next segment over, and
    // its size; false when there is none (TensorLog: "Reused files"). The
    // catalog forgets it: the writer renames it or removes it.
    virtual bool take_spare(std::string* path, uint64_t* bytes) {
      (void)path, (void)bytes;
      return false;
    }
    // Whether take_spare() would give one (cheap: asked for every record).
    virtual bool spare_ready() const { return false; }
    // A segment file was created (with its header); the catalog opens it for
    // reading. reserved: the size of the reused file it was written over (0
    // for a new one). An error fails the write.
    virtual Status segment_created(uint64_t id, uint64_t reserved) = 0;
    // A segment created by a failed group was removed again.
    virtual void segment_dropped(uint64_t id) = 0;
    // Records were written (and synced as asked) to segment id, which now has
    // file_bytes bytes; sealed once the segment is closed for writing.
    virtual void published(uint64_t id, const std::vector<SegmentRecord>& added,
                           uint64_t file_bytes, bool sealed) = 0;
  };

  SegmentWriter(FileSystem* fs, std::string dir, SegmentWriterOptions options, Catalog* catalog);
  ~SegmentWriter();

  // When an append's records are made durable.
  enum class Durability : uint8_t {
    kByMode,    // as SegmentWriterOptions::sync says
    kForce,     // fdatasync'ed whatever the mode (sync() uses it)
    kByCaller,  // not here: the caller calls sync() before anything relies on them (a collection's copy)
  };
  // Appends a batch; fills *locations (one per record, in order). In a
  // group with others it is synced if any of them wants it.
  Status append(EncodedBatch* batch, Durability durability, std::vector<Location>* locations);
  // Encodes records with codec and appends them, chunk by chunk, as one batch
  // (all or nothing, synced once as the mode says). For the batches that
  // are pipelined(); InvalidArgument as encode_batch.
  Status append_chunked(Codec codec, std::span<const RecordInput> records,
                        std::vector<Location>* locations);
  // Whether a batch of encoded_bytes should go through append_chunked rather
  // than be encoded by its caller (see pipeline_bytes).
  bool pipelined(size_t encoded_bytes) const { return encoded_bytes > options_.pipeline_bytes; }
  // Segments begun from now on are this big (TensorLog::resize_segments).
  void set_segment_size(uint64_t bytes) { segment_size_.store(bytes, std::memory_order_relaxed); }
  // Block offset at which the active segment's records end now: the start
  // to encode a batch for (a guess; the leader re-lays out if it changed).
  uint64_t tail_hint() const { return tail_hint_.load(std::memory_order_relaxed); }
  // Makes everything appended so far durable.
  Status sync();
  // Seals the active segment; later appends start a new one.
  Status close();

 private:
  struct Waiter;
  struct Active {
    uint64_t id = 0;
    std::string path;
    std::unique_ptr<WritableFile> file;  // its fd() takes the ring's writes
    uint64_t size = 0;                  // end of the last record's allocation
    uint64_t file_size = 0;             // bytes in the file
    uint64_t reserved = 0;              // a reused file's old size (0: a new file)
    // The file has a descriptor: blocks are written at their offsets (the
    // partial last one again with the next batch). Otherwise new bytes are
    // appended, and the file ends at `size`.
    bool positional = false;
    AlignedBuffer tail;                  // kAlign: bytes [align_down(size), size)
    std::vector<SegmentRecord> records;  // all of its records
    uint64_t group_start_size = 0;      // size before the current group
    size_t group_start_records = 0;
    bool created_in_group = false;
  };

  Status enqueue(Waiter* w);
  Status write_group(std::vector<Waiter*>& group, bool sync);
  Status write_chunks(const Waiter& w, std::vector<Active>* retired);
  // Places the records of batch (whose buffer is chunk buffer `slot`, or
  // WriteRing::kNoSlot) in the active segment, rotating as needed, and writes
  // them. `last`: no chunk of the same batch follows (else the partial last
  // block is left to the next chunk's write).
  Status place(EncodedBatch& batch, int slot, std::vector<Active>* retired, bool last,
               std::vector<Location>* locations);
  // Writes the segment's bytes from align_down(a->size) to new_end, which are
  // data[0, new_end - align_down(a->size)) but for the tail block's bytes,
  // copied in here; `last` as for place. Advances a->size.
  Status write_records(Active* a, char* data, uint64_t new_end, int slot, bool last);
  Status write_at(Active* a, const char* data, size_t n, uint64_t offset, int slot);
  // Writes the partial last block (a->tail, zeros after it) in place.
  Status write_tail_block(Active* a);
  // take_spare: a spare file is written over when the catalog has one.
  Status open_segment(bool take_spare);
  // durable: the seal is synced too (see sync_and_seal).
  Status seal(Active* a, bool durable);
  Status seal_group(std::vector<Active>* retired, bool sync);
  Status sync_and_seal(std::vector<Active>* retired, bool sync);
  void roll_back(std::vector<Active>& retired);

  FileSystem* const fs_;
  const std::string dir_;
  const SegmentWriterOptions options_;
  Catalog* const catalog_;

  std::mutex mu_;
  std::deque<Waiter*> queue_;  // guarded by mu_; the front is the leader
  // Only the leader touches active_, ring_ and chunks_.
  std::unique_ptr<Active> active_;
  // chunk_buffers slots of chunk_bytes, then one for a record bigger than
  // that; registered with ring_ (declared after them: it goes first).
  std::vector<EncodedBatch> chunks_;
  std::unique_ptr<WriteRing> ring_;
  EncodedBatch relaid_;  // batches re-laid out for where they really go
  std::atomic<uint64_t> tail_hint_{0};
  std::atomic<uint64_t> segment_size_;  // options_.segment_size, until set_segment_size
  // A segment was created since the last directory sync.
  bool dir_dirty_ = false;
};

}  // namespace lsm4kv::tensorlog
