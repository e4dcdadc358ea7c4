#include "tensorlog/write_ring.h"

#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace lsm4kv::tensorlog {

namespace {
// One SQE writes at most this much (the length field is 32 bits).
constexpr size_t kMaxWrite = size_t{1} << 30;
}  // namespace

WriteRing::WriteRing(unsigned depth, std::span<const std::span<char>> slots)
    : slots_(slots.begin(), slots.end()), slot_busy_(slots.size(), 0) {
  depth = std::max(1u, depth);
  ops_.resize(depth);
  for (size_t i = depth; i-- > 0;) free_ops_.push_back(i);
  auto ring = std::make_unique<io_uring>();
  if (io_uring_queue_init(depth, ring.get(), 0) != 0) return;  // synchronous writes
  ring_ = std::move(ring);
  if (slots_.empty()) return;
  std::vector<iovec> iov;
  for (std::span<char> s : slots_) {
    if (s.empty()) break;  // slots from here on are never fixed
    iov.push_back({s.data(), s.size()});
  }
  registered_ = iov.size();
  // Refused past RLIMIT_MEMLOCK without CAP_IPC_LOCK: plain writes then.
  fixed_ = io_uring_register_buffers(ring_.get(), iov.data(),
                                     static_cast<unsigned>(iov.size())) == 0;
}

WriteRing::~WriteRing() {
  if (!ring_) return;
  drain().ignore_error();  // a destructor cannot report
  io_uring_queue_exit(ring_.get());
}

void WriteRing::fail(Status s) {
  if (error_.ok()) error_ = std::move(s);
}

Status WriteRing::sync_write(const Op& op) {
  const char* p = op.data;
  size_t left = op.n;
  uint64_t offset = op.offset;
  int fd = op.direct_fd >= 0 ? op.direct_fd : op.buffered_fd;
  while (left > 0) {
    ssize_t n = ::pwrite(fd, p, left, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && fd == op.direct_fd) {
      fd = op.buffered_fd;  // the file system refuses O_DIRECT
      continue;
    }
    if (n < 0) return Status::from_errno(errno, "write " + op.what);
    if (n == 0) return Status::io_error("write " + op.what + ": wrote 0 bytes");
    p += n;
    left -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
    if (n % 4096 != 0) fd = op.buffered_fd;  // the rest is unaligned
  }
  return Status::OK();
}

Status WriteRing::write(int direct_fd, int buffered_fd, const char* data, size_t n,
                        uint64_t offset, int slot, const char* what) {
  while (n > 0) {
    if (!error_.ok()) return error_;
    size_t piece = std::min(n, kMaxWrite);
    Op op{direct_fd, buffered_fd, data, piece, offset, slot, what};
    if (!ring_) {
      fail(sync_write(op));
    } else {
      while (free_ops_.empty()) LSM4KV_RETURN_IF_ERROR(reap_one());
      size_t i = free_ops_.back();
      free_ops_.pop_back();
      ops_[i] = std::move(op);
      Status s = submit(i);
      if (s.ok()) {
        if (slot >= 0) ++slot_busy_[static_cast<size_t>(slot)];
        ++in_flight_;
      } else {
        free_ops_.push_back(i);
        fail(std::move(s));
      }
    }
    data += piece;
    n -= piece;
    offset += piece;
  }
  return error_;
}

Status WriteRing::submit(size_t i) {
  Op& op = ops_[i];
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  // Never null: the ring has an SQE per op and every SQE is submitted at once.
  int fd = op.direct_fd >= 0 ? op.direct_fd : op.buffered_fd;
  unsigned len = static_cast<unsigned>(op.n);
  bool fixed = fixed_ && op.slot >= 0 && static_cast<size_t>(op.slot) < registered_ &&
               op.direct_fd >= 0 &&
               op.data >= slots_[static_cast<size_t>(op.slot)].data() &&
               op.data + op.n <= slots_[static_cast<size_t>(op.slot)].data() +
                                     slots_[static_cast<size_t>(op.slot)].size();
  if (fixed) {
    io_uring_prep_write_fixed(sqe, fd, op.data, len, op.offset, op.slot);
  } else {
    io_uring_prep_write(sqe, fd, op.data, len, op.offset);
  }
  io_uring_sqe_set_data64(sqe, i);
  int rc;
  do rc = io_uring_submit(ring_.get());
  while (rc == -EINTR);
  if (rc < 0) return Status::from_errno(-rc, "io_uring_submit (write " + op.what + ")");
  return Status::OK();
}

// Waits for one completion; resubmits the rest of a short write.
Status WriteRing::reap_one() {
  io_uring_cqe* cqe = nullptr;
  int rc;
  do rc = io_uring_wait_cqe(ring_.get(), &cqe);
  while (rc == -EINTR);
  if (rc < 0) return Status::from_errno(-rc, "io_uring_wait_cqe");
  size_t i = static_cast<size_t>(io_uring_cqe_get_data64(cqe));
  int res = cqe->res;
  io_uring_cqe_seen(ring_.get(), cqe);
  Op& op = ops_[i];
  bool done = true;
  if (res == -EINVAL && op.direct_fd >= 0) {
    op.direct_fd = -1;  // the file system refuses O_DIRECT
    fail(sync_write(op));
  } else if (res < 0) {
    fail(Status::from_errno(-res, "write " + op.what));
  } else if (res == 0) {
    fail(Status::io_error("write " + op.what + ": wrote 0 bytes"));
  } else if (static_cast<size_t>(res) < op.n) {
    op.data += res;
    op.n -= static_cast<size_t>(res);
    op.offset += static_cast<uint64_t>(res);
    if (res % 4096 != 0) op.direct_fd = -1;
    if (error_.ok()) {
      Status s = submit(i);
      done = !s.ok();
      fail(std::move(s));
    }
  }
  if (done) {
    if (op.slot >= 0) --slot_busy_[static_cast<size_t>(op.slot)];
    --in_flight_;
    free_ops_.push_back(i);
  }
  return Status::OK();
}

Status WriteRing::wait_slot(int slot) {
  while (ring_ && slot_busy_[static_cast<size_t>(slot)] > 0) LSM4KV_RETURN_IF_ERROR(reap_one());
  return error_;
}

Status WriteRing::drain() {
  Status s;
  while (in_flight_ > 0) {
    s = reap_one();
    if (!s.ok()) break;  // the ring itself is broken; nothing more will complete
  }
  if (s.ok()) s = error_;
  error_ = Status::OK();
  return s;
}

}  // namespace lsm4kv::tensorlog
