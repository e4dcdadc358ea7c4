#include "tensorlog/uring_reader.h"

#include <liburing.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <deque>

#include "tensorlog/device_copy.h"

namespace lsm4kv::tensorlog {

struct UringReader::Run {
  size_t first = 0, last = 0;  // [first, last) of the sorted order
  SegmentFile* file = nullptr;
  int slot = -1;  // registered file slot of file->direct_fd(), or -1
  uint64_t offset = 0;  // the blocks that enclose the run's records
  uint64_t length = 0;  // multiple of kAlign
  // Where the file ended inside the run (a read returned 0): records past it
  // are reported as cut off.
  uint64_t eof = UINT64_MAX;
  char* buf = nullptr;
  size_t arena_start = 0;
  bool in_arena = false;
  PinnedBuffer temp;  // runs too big for the arena
  uint32_t pending = 0;
  Status status;
  bool visited = false;
  std::unique_ptr<CopyFence> fence;
};

struct UringReader::Io {
  size_t run;
  uint64_t off;  // in the run
  uint64_t len;
  uint64_t done = 0;
  bool buffered = false;
};

struct UringReader::FileSlot {
  uint64_t id = 0;
  std::weak_ptr<SegmentFile> file;
  uint64_t last_use = 0;
  bool used = false;
};

namespace {
constexpr unsigned kFileSlots = 64;
}

UringReader::UringReader(const UringReaderOptions& options, PinnedPool* pool)
    : options_(options), pool_(pool), ring_(std::make_unique<io_uring>()) {}

UringReader::~UringReader() {
  if (!ring_ready_) return;
  io_uring_queue_exit(ring_.get());
}

Status UringReader::create(const UringReaderOptions& options, PinnedPool* pool,
                           std::unique_ptr<UringReader>* out) {
  UringReaderOptions o = options;
  o.queue_depth = std::bit_ceil(std::clamp(o.queue_depth, 1u, 4096u));
  o.max_io_bytes = std::max<size_t>(align_up(o.max_io_bytes), kAlign);
  o.staging_bytes = std::max<size_t>(align_up(o.staging_bytes), 4 * o.max_io_bytes);
  o.max_run_bytes = std::clamp<size_t>(align_up(o.max_run_bytes), kAlign, o.staging_bytes / 4);
  std::unique_ptr<UringReader> r(new UringReader(o, pool));
  LSM4KV_RETURN_IF_ERROR(r->init());
  *out = std::move(r);
  return Status::OK();
}

Status UringReader::init() {
  LSM4KV_RETURN_IF_ERROR(pool_->acquire(options_.staging_bytes, &arena_));
  // Without io_uring (a seccomp profile may forbid it) reads fall back to pread.
  if (io_uring_queue_init(options_.queue_depth, ring_.get(), 0) != 0) return Status::OK();
  ring_ready_ = true;
  if (options_.register_buffers) {
    iovec iov{arena_.data(), arena_.size()};
    stats_.fixed_buffers = io_uring_register_buffers(ring_.get(), &iov, 1) == 0;
  }
  if (options_.register_files) {
    stats_.fixed_files = io_uring_register_files_sparse(ring_.get(), kFileSlots) == 0;
    if (stats_.fixed_files) slots_.resize(kFileSlots);
  }
  return Status::OK();
}

int UringReader::file_slot(const std::shared_ptr<SegmentFile>& file) {
  if (!stats_.fixed_files || file->direct_fd() < 0) return -1;
  ++use_clock_;
  size_t victim = slots_.size();
  for (size_t i = 0; i < slots_.size(); ++i) {
    FileSlot& s = slots_[i];
    if (s.used && s.id == file->id() && !s.file.expired()) {
      s.last_use = use_clock_;
      return static_cast<int>(i);
    }
    // A slot that a run of this batch uses is never taken over.
    if (s.used && s.last_use >= batch_clock_) continue;
    if (victim == slots_.size() || !s.used ||
        (slots_[victim].used && s.last_use < slots_[victim].last_use))
      victim = i;
  }
  if (victim == slots_.size()) return -1;  // all slots busy: a plain descriptor
  int fd = file->direct_fd();
  if (io_uring_register_files_update(ring_.get(), static_cast<unsigned>(victim), &fd, 1) != 1)
    return -1;
  slots_[victim] = {file->id(), file, use_clock_, true};
  return static_cast<int>(victim);
}

void UringReader::drop_dead_slots() {
  // A registered file keeps a collected segment's disk space; let it go.
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].used && slots_[i].file.expired()) {
      int fd = -1;
      io_uring_register_files_update(ring_.get(), static_cast<unsigned>(i), &fd, 1);
      slots_[i] = FileSlot{};
    }
  }
}

bool UringReader::place(Run* run, std::vector<Run>& runs, std::deque<size_t>& live,
                        size_t index) {
  uint64_t len = run->length;
  if (len > arena_.size() / 2) {
    run->status = pool_->acquire(len, &run->temp);
    run->buf = run->status.ok() ? run->temp.data() : nullptr;
    return true;
  }
  size_t start = 0;
  if (!live.empty()) {
    size_t oldest = runs[live.front()].arena_start;
    size_t newest = runs[live.back()].arena_start;
    if (newest >= oldest) {  // not wrapped: free is [head, end) and [0, oldest)
      if (arena_.size() - head_ >= len) {
        start = head_;
      } else if (oldest >= len) {
        start = 0;
      } else {
        return false;
      }
    } else if (oldest - head_ >= len) {  // wrapped: free is [head, oldest)
      start = head_;
    } else {
      return false;
    }
  }
  run->buf = arena_.data() + start;
  run->arena_start = start;
  run->in_arena = true;
  head_ = start + len;
  live.push_back(index);
  return true;
}

Status UringReader::finish_run(Run* run, std::span<const ReadExtent> extents,
                               const std::vector<size_t>& order, const RecordVisitor& visit,
                               void* stream) {
  bool device = false;
  for (size_t pos = run->first; pos < run->last; ++pos) {
    const ReadExtent& e = extents[order[pos]];
    Status st = run->status;
    if (st.ok() && e.location.offset + e.location.length > run->eof)
      st = Status::corruption("segment " + std::to_string(run->file->id()) + " offset " +
                              std::to_string(e.location.offset) + ": record extends past the end of " +
                              run->file->path() + " (truncated segment?)");
    const char* rec = st.ok() ? run->buf + (e.location.offset - run->offset) : nullptr;
    bool pending = false;
    visit(order[pos], rec, st, &pending);
    device = device || pending;
  }
  run->visited = true;
  Status s;
  if (device) {
    run->fence = std::make_unique<CopyFence>();
    s = run->fence->record(stream);
    if (s.ok() && !run->in_arena) s = run->fence->wait();
  }
  if (!run->in_arena) run->temp.reset();
  return s;
}

Status UringReader::release(std::vector<Run>& runs, std::deque<size_t>& live) {
  Status result;
  while (!live.empty() && runs[live.front()].visited) {
    Run& r = runs[live.front()];
    if (r.fence) {
      Status s = r.fence->wait();
      if (result.ok()) result = s;
    }
    live.pop_front();
  }
  if (live.empty()) head_ = 0;
  return result;
}

// One read() call's state while its runs go through the ring.
struct UringReader::Batch {
  Batch(std::span<const ReadExtent> e, const RecordVisitor& v, void* s) : extents(e), visit(v), stream(s) {}
  std::span<const ReadExtent> extents;
  std::vector<size_t> order;  // extents by file and offset
  const RecordVisitor& visit;
  void* stream;
  std::vector<Run> runs;
  std::vector<Io> ios;
  std::deque<size_t> queue;  // ios to submit
  std::deque<size_t> live;   // runs holding arena memory, oldest first
  size_t next_run = 0, finished = 0;
  unsigned inflight = 0;
  Status failure;
};

// Coalesces extents whose blocks touch or overlap on disk (packed records
// share blocks) into runs of whole blocks, in file and offset order.
void UringReader::plan_runs(Batch* b) const {
  b->order.resize(b->extents.size());
  for (size_t i = 0; i < b->order.size(); ++i) b->order[i] = i;
  std::sort(b->order.begin(), b->order.end(), [&](size_t x, size_t y) {
    const ReadExtent& e = b->extents[x];
    const ReadExtent& f = b->extents[y];
    if (e.file->id() != f.file->id()) return e.file->id() < f.file->id();
    return e.location.offset < f.location.offset;
  });
  for (size_t pos = 0; pos < b->order.size(); ++pos) {
    const ReadExtent& e = b->extents[b->order[pos]];
    const uint64_t lo = align_down(e.location.offset);
    const uint64_t hi = align_up(e.location.offset + e.location.length);
    if (!b->runs.empty()) {
      Run& last = b->runs.back();
      uint64_t end = last.offset + last.length;
      bool same_file = last.file == e.file.get();
      if (same_file && lo <= end && std::max(end, hi) - last.offset <= options_.max_run_bytes) {
        last.length = std::max(end, hi) - last.offset;
        last.last = pos + 1;
        continue;
      }
    }
    Run r;
    r.first = pos;
    r.last = pos + 1;
    r.file = e.file.get();
    r.offset = lo;
    r.length = hi - lo;
    b->runs.push_back(std::move(r));
  }
}

Status UringReader::read(std::span<const ReadExtent> extents, const RecordVisitor& visit,
                         void* stream) {
  if (extents.empty()) return Status::OK();
  Batch b(extents, visit, stream);
  plan_runs(&b);
  stats_.runs += b.runs.size();
  if (!ring_ready_) return read_sync(b.runs, extents, b.order, visit, stream);

  drop_dead_slots();
  batch_clock_ = use_clock_ + 1;
  for (Run& r : b.runs) r.slot = file_slot(extents[b.order[r.first]].file);
  head_ = 0;
  Status s = read_ring(&b);
  if (!s.ok()) return s;  // the ring itself failed: nothing more can be waited for
  // Nothing may still be in flight into the arena when we return.
  while (b.inflight > 0) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_wait_cqe(ring_.get(), &cqe) != 0) continue;
    io_uring_cqe_seen(ring_.get(), cqe);
    --b.inflight;
  }
  s = release(b.runs, b.live);
  return b.failure.ok() ? s : b.failure;
}

// Runs b's reads through the ring until every run is visited or one fails;
// an error of the ring itself is returned, a run's goes to b->failure.
Status UringReader::read_ring(Batch* b) {
  while (b->finished < b->runs.size()) {
    stage_runs(b);
    LSM4KV_RETURN_IF_ERROR(submit_reads(b));
    if (b->inflight == 0) {
      if (!b->failure.ok() || b->finished == b->runs.size()) break;
      if (b->queue.empty()) return Status::io_error("uring reader: staging arena cannot hold the next run");
      continue;
    }
    io_uring_cqe* cqe = nullptr;
    int rc;
    do {
      rc = io_uring_wait_cqe(ring_.get(), &cqe);
    } while (rc == -EINTR || rc == -EAGAIN);
    if (rc < 0) return Status::from_errno(-rc, "io_uring_wait_cqe");
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      ++seen;
      --b->inflight;
      complete_read(b, io_uring_cqe_get_data64(cqe), cqe->res);
    }
    io_uring_cq_advance(ring_.get(), seen);
    Status s = release(b->runs, b->live);
    if (b->failure.ok()) b->failure = s;
    if (!b->failure.ok() && b->inflight == 0) break;
  }
  return Status::OK();
}

// Gives the next runs arena memory and queues their reads, up to the queue
// depth and while the arena has room.
void UringReader::stage_runs(Batch* b) {
  while (b->failure.ok() && b->next_run < b->runs.size() && b->queue.size() < options_.queue_depth) {
    Run& r = b->runs[b->next_run];
    if (!place(&r, b->runs, b->live, b->next_run)) break;
    ++b->next_run;
    if (!r.status.ok()) {
      b->failure = finish_run(&r, b->extents, b->order, b->visit, b->stream);
      ++b->finished;
      continue;
    }
    for (uint64_t off = 0; off < r.length; off += options_.max_io_bytes) {
      b->queue.push_back(b->ios.size());
      b->ios.push_back({b->next_run - 1, off, std::min<uint64_t>(options_.max_io_bytes, r.length - off)});
      ++r.pending;
    }
  }
}

// Prepares queued reads (O_DIRECT through registered files and buffers where
// it can) and submits them.
Status UringReader::submit_reads(Batch* b) {
  unsigned prepared = 0;
  while (b->inflight < options_.queue_depth && !b->queue.empty()) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
    if (sqe == nullptr) break;
    size_t idx = b->queue.front();
    b->queue.pop_front();
    Io& io = b->ios[idx];
    Run& r = b->runs[io.run];
    char* dst = r.buf + io.off + io.done;
    uint64_t off = r.offset + io.off + io.done;
    unsigned len = static_cast<unsigned>(io.len - io.done);
    bool direct = !io.buffered && r.file->direct_fd() >= 0;
    bool fixed_file = direct && r.slot >= 0;
    int fd = fixed_file ? r.slot : (direct ? r.file->direct_fd() : r.file->buffered_fd());
    if (stats_.fixed_buffers && r.in_arena) {
      io_uring_prep_read_fixed(sqe, fd, dst, len, off, 0);
    } else {
      io_uring_prep_read(sqe, fd, dst, len, off);
    }
    if (fixed_file) sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, idx);
    ++b->inflight;
    ++prepared;
    ++stats_.reads;
  }
  if (prepared == 0) return Status::OK();
  int rc;
  do {
    rc = io_uring_submit(ring_.get());
  } while (rc == -EINTR || rc == -EAGAIN);
  // The ring is unusable; the prepared reads never went out.
  if (rc < 0) return Status::from_errno(-rc, "io_uring_submit");
  return Status::OK();
}

// One completion (res: the cqe's result) of read idx: requeued when it was
// interrupted, short, or refused O_DIRECT; its run is visited once all of
// the run's reads are done.
void UringReader::complete_read(Batch* b, size_t idx, int res) {
  Io& io = b->ios[idx];
  Run& r = b->runs[io.run];
  if (res == -EINTR || res == -EAGAIN) {
    b->queue.push_front(idx);
    return;
  }
  if (res == -EINVAL && !io.buffered && r.file->direct_fd() >= 0) {
    io.buffered = true;  // the file system refuses O_DIRECT here
    ++stats_.buffered_fallbacks;
    b->queue.push_front(idx);
    return;
  }
  if (res < 0) {
    r.status = Status::from_errno(-res, "read " + r.file->path() + " offset " + std::to_string(r.offset + io.off));
  } else if (res == 0) {
    // The end of the file: a segment written by appends ends inside its
    // last block. Records before it are whole; finish_run reports the others.
    std::fill(r.buf + io.off + io.done, r.buf + io.off + io.len, '\0');
    r.eof = std::min(r.eof, r.offset + io.off + io.done);
  } else {
    io.done += static_cast<uint64_t>(res);
    stats_.bytes += static_cast<uint64_t>(res);
    if (io.done < io.len) {
      if (io.done % kAlign != 0) io.buffered = true;
      b->queue.push_front(idx);
      return;
    }
  }
  if (--r.pending == 0) {
    Status s = finish_run(&r, b->extents, b->order, b->visit, b->stream);
    if (b->failure.ok()) b->failure = s;
    ++b->finished;
  }
}

Status UringReader::read_sync(std::vector<Run>& runs, std::span<const ReadExtent> extents,
                              const std::vector<size_t>& order, const RecordVisitor& visit,
                              void* stream) {
  std::deque<size_t> live;
  for (size_t i = 0; i < runs.size(); ++i) {
    Run& r = runs[i];
    head_ = 0;
    live.clear();
    place(&r, runs, live, i);
    for (uint64_t done = 0; r.status.ok() && done < r.length;) {
      bool direct = r.file->direct_fd() >= 0 && stats_.buffered_fallbacks == 0;
      ssize_t n = ::pread(direct ? r.file->direct_fd() : r.file->buffered_fd(), r.buf + done,
                          r.length - done, static_cast<off_t>(r.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL && direct) {
        ++stats_.buffered_fallbacks;
        continue;
      }
      if (n < 0) {
        r.status = Status::from_errno(errno, "pread " + r.file->path());
      } else if (n == 0) {
        std::fill(r.buf + done, r.buf + r.length, '\0');
        r.eof = r.offset + done;
        break;
      } else {
        done += static_cast<uint64_t>(n);
        stats_.bytes += static_cast<uint64_t>(n);
      }
    }
    ++stats_.reads;
    LSM4KV_RETURN_IF_ERROR(finish_run(&r, extents, order, visit, stream));
    LSM4KV_RETURN_IF_ERROR(release(runs, live));
  }
  return Status::OK();
}

}  // namespace lsm4kv::tensorlog
