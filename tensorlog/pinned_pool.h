// PinnedPool: the staging memory of the tensor log. Buffers are page-locked
// (cudaHostAlloc) when a CUDA device is present, so that cudaMemcpyAsync from
// them is truly asynchronous, and kAlign-aligned host memory otherwise; either
// way they are aligned for O_DIRECT and can be registered with io_uring.
//
// Released buffers are kept for reuse up to `max_cached_bytes`, because
// pinning is expensive (it can take milliseconds per MiB).
//
// Thread-safety: a PinnedPool may be used from many threads. A PinnedBuffer
// belongs to one owner; it must not outlive its pool.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include "base/status.h"

namespace lsm4kv::tensorlog {

class PinnedPool;

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() { reset(); }
  PinnedBuffer(PinnedBuffer&& o) noexcept { *this = std::move(o); }
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  char* data() const { return data_; }
  size_t size() const { return size_; }
  // True when the memory is page-locked by CUDA.
  bool pinned() const { return pinned_; }
  bool empty() const { return data_ == nullptr; }
  // Gives the memory back to the pool.
  void reset();

 private:
  friend class PinnedPool;
  PinnedPool* pool_ = nullptr;
  char* data_ = nullptr;
  size_t size_ = 0;
  bool pinned_ = false;
};

class PinnedPool {
 public:
  // use_cuda: allocate with cudaHostAlloc when a device is present (tests
  // and benchmarks without a GPU pass false or get host memory anyway).
  explicit PinnedPool(size_t max_cached_bytes = size_t{256} << 20, bool use_cuda = true);
  ~PinnedPool();
  PinnedPool(const PinnedPool&) = delete;
  PinnedPool& operator=(const PinnedPool&) = delete;

  // A buffer of at least `bytes` (rounded up to a power of two of at least
  // 64 KiB); IOError when memory is exhausted.
  Status acquire(size_t bytes, PinnedBuffer* out);
  // True when buffers are page-locked by CUDA.
  bool pinned() const { return pinned_; }
  size_t cached_bytes() const;

 private:
  friend class PinnedBuffer;
  struct Block {
    char* data;
    size_t size;
  };
  void release(char* data, size_t size);
  void free_block(char* data);

  const size_t max_cached_bytes_;
  const bool pinned_;
  mutable std::mutex mu_;
  std::vector<Block> free_;  // guarded by mu_
  size_t cached_ = 0;        // guarded by mu_
};

}  // namespace lsm4kv::tensorlog
