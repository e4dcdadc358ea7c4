// WriteRing: positional writes to segment files with several in flight, so
// the disk's queue never drains between the chunks of a big batch and the
// writing thread encodes the next chunk while the last ones are on their way.
//
// Writes go through one io_uring. A write names a buffer slot: the slots are
// the writer's chunk buffers, registered with the ring when the kernel allows
// it (fixed buffers: no page pinning per write), and wait_slot() tells when a
// slot's buffer may be refilled. Without io_uring (an old kernel, a seccomp
// filter) every write is a plain pwrite, done before write() returns.
//
// Errors: the first failed write is remembered and returned by every later
// call until drain(); writes in flight still complete (drain() waits for
// them), so after an error the caller drains and cuts the files back. A short
// write continues with the rest (which then fails with the real error, e.g.
// ENOSPC or EFBIG); a write refused with EINVAL on an O_DIRECT descriptor (a
// file system without O_DIRECT) is redone with pwrite on the buffered one.
//
// Thread-safety: one thread at a time (the SegmentWriter's leader).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

struct io_uring;

namespace lsm4kv::tensorlog {

class WriteRing {
 public:
  // Not a slot: memory that is not one of the registered buffers.
  static constexpr int kNoSlot = -1;

  // depth: writes in flight. slots: the buffers writes may name; the leading
  // non-empty ones are registered when possible and must outlive the ring (an
  // empty span is a slot for memory that changes, never registered).
  explicit WriteRing(unsigned depth, std::span<const std::span<char>> slots = {});
  ~WriteRing();
  WriteRing(const WriteRing&) = delete;
  WriteRing& operator=(const WriteRing&) = delete;

  // Writes data[0, n) at offset of the file: with direct_fd (O_DIRECT, -1 for
  // none; data, n and offset then 4096-aligned) or else buffered_fd. Returns
  // once the write is queued (waiting for room when depth are in flight), or
  // the first error of any write since the last drain().
  Status write(int direct_fd, int buffered_fd, const char* data, size_t n, uint64_t offset,
               int slot, const char* what);
  // Waits until no write from `slot` is in flight; the first error, as write().
  Status wait_slot(int slot);
  // Waits for every write in flight; returns the first error since the last
  // drain() and forgets it.
  Status drain();
  // True when writes go through io_uring (else they are synchronous).
  bool async() const { return ring_ != nullptr; }
  bool fixed_buffers() const { return fixed_; }

 private:
  struct Op {
    int direct_fd, buffered_fd;
    const char* data;
    size_t n;
    uint64_t offset;
    int slot;
    std::string what;
  };
  Status submit(size_t op);
  Status reap_one();
  void fail(Status s);
  Status sync_write(const Op& op);

  std::unique_ptr<io_uring> ring_;
  bool fixed_ = false;
  size_t registered_ = 0;
  std::vector<std::span<char>> slots_;
  std::vector<Op> ops_;             // index = user_data
  std::vector<size_t> free_ops_;
  std::vector<unsigned> slot_busy_;  // writes in flight per slot
  unsigned in_flight_ = 0;
  Status error_;
};

}  // namespace lsm4kv::tensorlog
