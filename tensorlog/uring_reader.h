// UringReader: reads a batch of records at the disk's speed. The extents are
// sorted by (segment, offset); extents whose enclosing blocks touch or overlap
// on disk (packed records share blocks) are coalesced into
// one run (up to max_run_bytes); runs are cut into reads of at most
// max_io_bytes, and up to queue_depth reads are kept in flight through one
// io_uring, with the segment files and the staging arena registered with the
// ring when the kernel allows it (fixed files, fixed buffers).
//
// Staging memory is one arena from the PinnedPool, used as a ring: a run takes
// a contiguous slice, and the slice is released once every record of the run
// has been visited and the device copies enqueued from it have finished (the
// visitor says so, and the reader fences the caller's stream). So disk reads
// overlap with checksum verification, decoding and host-to-device copies of
// earlier runs: multi-buffering, of which double-buffering is the least.
//
// Reads use O_DIRECT descriptors when the segment has one; a read refused with
// EINVAL (a file system without O_DIRECT support) is retried buffered.
//
// Thread-safety: a UringReader is used by one thread at a time (the
// TensorLog keeps a pool of them).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "tensorlog/pinned_pool.h"
#include "tensorlog/record_format.h"
#include "tensorlog/segment.h"

struct io_uring;

namespace lsm4kv::tensorlog {

struct ReadExtent {
  std::shared_ptr<SegmentFile> file;
  Location location;
};

// Called once per extent, on the reading thread, in completion order: with
// the record's bytes (location.length of them) and OK, or with nullptr and the
// read's error. Set *device_pending when copies from `record` were enqueued
// on the stream; the memory is then kept until they are done.
using RecordVisitor =
    std::function<void(size_t index, const char* record, const Status& io, bool* device_pending)>;

struct UringReaderOptions {
  unsigned queue_depth = 64;                  // reads in flight
  size_t staging_bytes = size_t{64} << 20;    // the arena
  size_t max_io_bytes = size_t{1} << 20;      // one read
  size_t max_run_bytes = size_t{8} << 20;     // coalescing limit
  bool register_files = true;
  bool register_buffers = true;
};

struct UringReaderStats {
  uint64_t runs = 0;       // coalesced runs read
  uint64_t reads = 0;      // read requests submitted
  uint64_t bytes = 0;      // bytes read
  uint64_t buffered_fallbacks = 0;
  bool fixed_buffers = false;
  bool fixed_files = false;
};

class UringReader {
 public:
  static Status create(const UringReaderOptions& options, PinnedPool* pool,
                       std::unique_ptr<UringReader>* out);
  ~UringReader();
  UringReader(const UringReader&) = delete;
  UringReader& operator=(const UringReader&) = delete;

  // Reads every extent and visits it. Returns an error only when the ring
  // itself fails; per-record errors go to the visitor. `stream` is the CUDA
  // stream device copies go to (fenced before staging memory is reused).
  Status read(std::span<const ReadExtent> extents, const RecordVisitor& visit, void* stream);

  const UringReaderStats& stats() const { return stats_; }

  // Lets go of the registered files of segments no one else holds. A
  // registered file holds its segment's inode: the one to let go of a deleted
  // segment frees its blocks (~14 ms for 32 MiB here), so the thread that
  // deletes segments calls this first, and reads rarely pay for it.
  void drop_dead_slots();

 private:
  struct Run;
  struct Io;
  struct FileSlot;
  struct Batch;
  UringReader(const UringReaderOptions& options, PinnedPool* pool);
  Status init();
  int file_slot(const std::shared_ptr<SegmentFile>& file);
  // Gives the run staging memory; false when the arena has no room yet.
  bool place(Run* run, std::vector<Run>& runs, std::deque<size_t>& live, size_t index);
  Status finish_run(Run* run, std::span<const ReadExtent> extents,
                    const std::vector<size_t>& order, const RecordVisitor& visit, void* stream);
  // Frees the arena memory of the oldest runs that are done.
  Status release(std::vector<Run>& runs, std::deque<size_t>& live);
  Status read_sync(std::vector<Run>& runs, std::span<const ReadExtent> extents,
                   const std::vector<size_t>& order, const RecordVisitor& visit, void* stream);
  void plan_runs(Batch* b) const;
  Status read_ring(Batch* b);
  void stage_runs(Batch* b);
  Status submit_reads(Batch* b);
  void complete_read(Batch* b, size_t idx, int res);

  const UringReaderOptions options_;
  PinnedPool* const pool_;
  std::unique_ptr<io_uring> ring_;
  bool ring_ready_ = false;
  PinnedBuffer arena_;
  size_t head_ = 0;  // next free byte of the arena ring
  std::vector<FileSlot> slots_;
  uint64_t use_clock_ = 0;
  uint64_t batch_clock_ = 0;  // slots used since then belong to the current batch
  UringReaderStats stats_;
};

}  // namespace lsm4kv::tensorlog
