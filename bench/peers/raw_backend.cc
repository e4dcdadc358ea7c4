// The ceiling: the same pages read and written with io_uring and O_DIRECT,
// no index on disk. One preallocated file of capacity_bytes cut into page
// slots, filled round-robin (the oldest page is overwritten: FIFO); the
// key -> slot map lives in memory, so probe costs nothing. A batch (a get's
// or a put's pages) goes out as reads or writes of at most 1 MiB, up to 64 in
// flight (the store's UringReader defaults); a put ends with fdatasync, so it
// is durable when it returns, like the others.
#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_map>

#include "bench/peers/backend.h"

namespace lsm4kv::bench::peers {
namespace {

constexpr size_t kMaxIo = size_t{1} << 20;
constexpr unsigned kQueueDepth = 64;

struct Io {
  char* buf;
  size_t len;
  uint64_t off;
};

class RawBackend final : public Backend {
 public:
  ~RawBackend() override { (void)close(); }
  const char* name() const override { return "raw (io_uring O_DIRECT)"; }

  Status open(const BackendOptions& o) {
    page_ = o.page_bytes;
    slots_ = o.capacity_bytes / o.page_bytes;
    if (slots_ == 0) return Status::invalid_argument("raw: capacity below one page");
    owner_.assign(slots_, 0);
    used_.assign(slots_, false);
    const std::string path = o.dir + "/raw.dat";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::from_errno(errno, path);
    if (::fallocate(fd_, 0, 0, static_cast<off_t>(slots_ * page_)) != 0) return Status::from_errno(errno, path);
    if (::fsync(fd_) != 0) return Status::from_errno(errno, path);
    int rc = io_uring_queue_init(kQueueDepth, &ring_, 0);
    if (rc < 0) return Status::from_errno(-rc, "io_uring_queue_init");
    ring_ok_ = true;
    return Status::OK();
  }

  Status probe(const PromptKeys& keys, size_t* n) override {
    *n = 0;
    while (*n < keys.chain.size() && slot_of_.count(keys.chain[*n]) != 0) (*n)++;
    return Status::OK();
  }

  Status get(const PromptKeys& keys, size_t n, char* dst, size_t* got) override {
    std::vector<Io> ios;
    for (*got = 0; *got < n; (*got)++) {
      auto it = slot_of_.find(keys.chain[*got]);
      if (it == slot_of_.end()) break;
      add_page(dst + *got * page_, it->second, &ios);
    }
    return submit(ios, false);
  }

  Status put(const PromptKeys& keys, size_t from, const char* src) override {
    std::vector<Io> ios;
    for (size_t i = from; i < keys.chain.size(); i++) {
      if (slot_of_.count(keys.chain[i]) != 0) continue;
      const uint64_t slot = next_++ % slots_;
      if (used_[slot]) slot_of_.erase(owner_[slot]);
      owner_[slot] = keys.chain[i];
      used_[slot] = true;
      slot_of_[keys.chain[i]] = slot;
      add_page(const_cast<char*>(src) + i * page_, slot, &ios);
    }
    if (ios.empty()) return Status::OK();
    LSM4KV_RETURN_IF_ERROR(submit(ios, true));
    return ::fdatasync(fd_) == 0 ? Status::OK() : Status::from_errno(errno, "raw: fdatasync");
  }

  Status close() override {
    if (ring_ok_) io_uring_queue_exit(&ring_);
    ring_ok_ = false;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return Status::OK();
  }

 private:
  void add_page(char* buf, uint64_t slot, std::vector<Io>* ios) const {
    for (size_t done = 0; done < page_; done += kMaxIo) {
      ios->push_back({buf + done, std::min(kMaxIo, page_ - done), slot * page_ + done});
    }
  }

  // Keeps up to kQueueDepth of ios in flight until all are done.
  Status submit(const std::vector<Io>& ios, bool write) {
    size_t next = 0, done = 0, in_flight = 0;
    while (done < ios.size()) {
      while (next < ios.size() && in_flight < kQueueDepth) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        const Io& io = ios[next];
        if (write) {
          io_uring_prep_write(sqe, fd_, io.buf, static_cast<unsigned>(io.len), io.off);
        } else {
          io_uring_prep_read(sqe, fd_, io.buf, static_cast<unsigned>(io.len), io.off);
        }
        io_uring_sqe_set_data64(sqe, next);
        next++;
        in_flight++;
      }
      int rc = io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0) return Status::from_errno(-rc, "raw: io_uring_submit");
      io_uring_cqe* cqe;
      while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
        const Io& io = ios[io_uring_cqe_get_data64(cqe)];
        const int res = cqe->res;
        io_uring_cqe_seen(&ring_, cqe);
        if (res < 0) return Status::from_errno(-res, "raw: io");
        if (static_cast<size_t>(res) != io.len) return Status::io_error("raw: short io");
        in_flight--;
        done++;
      }
    }
    return Status::OK();
  }

  size_t page_ = 0;
  uint64_t slots_ = 0, next_ = 0;
  std::vector<uint64_t> owner_;
  std::vector<bool> used_;
  std::unordered_map<uint64_t, uint64_t> slot_of_;
  int fd_ = -1;
  io_uring ring_{};
  bool ring_ok_ = false;
};

}  // namespace

Status open_raw(const BackendOptions& o, std::unique_ptr<Backend>* out) {
  return open_backend<RawBackend>(o, out);
}

}  // namespace lsm4kv::bench::peers
