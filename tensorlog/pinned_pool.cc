#include "tensorlog/pinned_pool.h"

#include <bit>
#include <cstdlib>

#include "tensorlog/device_copy.h"
#include "tensorlog/record_format.h"

namespace lsm4kv::tensorlog {

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    pool_ = o.pool_;
    data_ = o.data_;
    size_ = o.size_;
    pinned_ = o.pinned_;
    o.pool_ = nullptr;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

void PinnedBuffer::reset() {
  if (data_ != nullptr && pool_ != nullptr) pool_->release(data_, size_);
  pool_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

PinnedPool::PinnedPool(size_t max_cached_bytes, bool use_cuda)
    : max_cached_bytes_(max_cached_bytes), pinned_(use_cuda && device_available()) {}

PinnedPool::~PinnedPool() {
  for (const Block& b : free_) free_block(b.data);
}

size_t PinnedPool::cached_bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return cached_;
}

Status PinnedPool::acquire(size_t bytes, PinnedBuffer* out) {
  size_t size = std::bit_ceil(std::max<size_t>(bytes, 64 * 1024));
  out->reset();
  {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].size == size) {
        out->data_ = free_[i].data;
        free_[i] = free_.back();
        free_.pop_back();
        cached_ -= size;
        break;
      }
    }
  }
  if (out->data_ == nullptr) {
    void* p = pinned_ ? pinned_alloc(size) : nullptr;
    if (p == nullptr && !pinned_ && ::posix_memalign(&p, kAlign, size) != 0) p = nullptr;
    if (p == nullptr)
      return Status::io_error("pinned pool: cannot allocate " + std::to_string(size) + " bytes");
    out->data_ = static_cast<char*>(p);
  }
  out->pool_ = this;
  out->size_ = size;
  out->pinned_ = pinned_;
  return Status::OK();
}

void PinnedPool::release(char* data, size_t size) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (cached_ + size <= max_cached_bytes_) {
      free_.push_back({data, size});
      cached_ += size;
      return;
    }
  }
  free_block(data);
}

void PinnedPool::free_block(char* data) {
  if (pinned_) {
    pinned_free(data);
  } else {
    std::free(data);
  }
}

}  // namespace lsm4kv::tensorlog
