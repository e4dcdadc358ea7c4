#include "test/support/power_loss_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <random>

namespace lsm4kv::test {
namespace {

Status power_cut() { return Status::io_error("power cut"); }

// One spelling per path: no doubled or trailing slashes, so that a file's
// directory compares equal to the path given to sync_dir.
std::string normalize(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string dir_of(const std::string& normalized) {
  size_t slash = normalized.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : normalized.substr(0, slash);
}

// Drops or tears the bytes [synced, size) of path.
Status lose_tail(const std::string& path, uint64_t synced, uint64_t size, std::mt19937_64& rng,
                 PowerLossReport* report) {
  constexpr uint64_t kSector = PowerLossFileSystem::kSector;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::from_errno(errno, "power loss: open " + path);
  uint64_t end = size;
  uint64_t mode = rng() % 4;  // 0: tail lost whole, 1: kept whole, 2-3: torn
  Status s;
  if (mode == 0) {
    end = synced;
    report->files_cut++;
  } else if (mode >= 2) {
    report->files_torn++;
    // The file ends at synced, at a sector boundary between, or at size.
    std::vector<uint64_t> ends{synced};
    for (uint64_t b = (synced / kSector + 1) * kSector; b < size; b += kSector) ends.push_back(b);
    ends.push_back(size);
    end = ends[rng() % ends.size()];
    // Each sector written since the sync holds its new bytes or, lost, zeros
    // (never the synced bytes before it: a sector's write is atomic).
    const std::string zeros(kSector, '\0');
    for (uint64_t lo = synced; lo < end && s.ok();) {
      uint64_t hi = std::min(end, (lo / kSector + 1) * kSector);
      if (rng() % 2 == 0) {
        if (::pwrite(fd, zeros.data(), hi - lo, static_cast<off_t>(lo)) !=
            static_cast<ssize_t>(hi - lo))
          s = Status::from_errno(errno, "power loss: write " + path);
        report->bytes_lost += hi - lo;
      }
      lo = hi;
    }
  }
  if (s.ok() && end < size && ::ftruncate(fd, static_cast<off_t>(end)) != 0)
    s = Status::from_errno(errno, "power loss: truncate " + path);
  report->bytes_lost += size - end;
  ::close(fd);
  return s;
}

// The bytes [start, end) of the file open as fd (write-only: read through
// /proc), or false when they cannot be read.
bool read_range(int fd, uint64_t start, uint64_t end, std::string* out) {
  if (fd < 0) return false;
  int r = ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC);
  if (r < 0) return false;
  out->assign(end - start, '\0');
  ssize_t n = ::pread(r, out->data(), out->size(), static_cast<off_t>(start));
  ::close(r);
  return n == static_cast<ssize_t>(out->size());
}

// The bytes [synced - 4096, synced) of the file open as fd, or "" when they
// cannot be read.
std::string read_last_block(int fd, uint64_t synced) {
  constexpr uint64_t kBlock = 4096;
  std::string out;
  if (synced == 0 || !read_range(fd, synced > kBlock ? synced - kBlock : 0, synced, &out)) return "";
  return out;
}

// All of the file open as fd, or false.
bool read_whole(int fd, std::string* out) {
  struct stat st;
  return fd >= 0 && ::fstat(fd, &st) == 0 && read_range(fd, 0, static_cast<uint64_t>(st.st_size), out);
}

// Each sector of [start, start + block.size()) that differs from `block`
// keeps its new bytes or gets the old ones back.
Status revert_sectors(const std::string& path, uint64_t start, std::string_view block, std::mt19937_64& rng,
                      PowerLossReport* report) {
  constexpr uint64_t kSector = PowerLossFileSystem::kSector;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::from_errno(errno, "power loss: open " + path);
  std::string now(block.size(), '\0');
  ssize_t n = ::pread(fd, now.data(), now.size(), static_cast<off_t>(start));
  Status s;
  for (uint64_t lo = 0; n > 0 && lo < static_cast<uint64_t>(n) && s.ok(); lo += kSector) {
    uint64_t len = std::min<uint64_t>(kSector, static_cast<uint64_t>(n) - lo);
    if (now.compare(lo, len, block, lo, len) == 0 || rng() % 2 == 0) continue;
    if (::pwrite(fd, block.data() + lo, len, static_cast<off_t>(start + lo)) != static_cast<ssize_t>(len))
      s = Status::from_errno(errno, "power loss: write " + path);
    report->bytes_lost += len;
    report->sectors_reverted++;
  }
  ::close(fd);
  return s;
}

}  // namespace

class PowerLossFileSystem::File final : public WritableFile {
 public:
  File(PowerLossFileSystem* fs, std::shared_ptr<FileState> state,
       std::unique_ptr<WritableFile> base)
      : fs_(fs), state_(std::move(state)), base_(std::move(base)) {}

  Status append(std::string_view data) override {
    LSM4KV_RETURN_IF_ERROR(fs_->tick());
    return base_->append(data);
  }
  Status sync() override {
    LSM4KV_RETURN_IF_ERROR(fs_->tick());
    LSM4KV_RETURN_IF_ERROR(base_->sync());
    // Writes through the descriptor (io_uring) count too: the kernel's size.
    uint64_t size = base_->size();
    struct stat st;
    if (base_->fd() >= 0 && ::fstat(base_->fd(), &st) == 0) size = static_cast<uint64_t>(st.st_size);
    std::string last_block, content;
    if (state_->reused) {  // written over in place: all of it may fall back
      if (!read_whole(base_->fd(), &content)) return Status::io_error("power loss fs: cannot read a reused file");
      size = content.size();
    } else {
      last_block = read_last_block(base_->fd(), size);
    }
    std::lock_guard<std::mutex> l(fs_->mu_);
    // A sync that ends after the cut did not finish before it.
    if (fs_->cut_) return power_cut();
    state_->synced = size;
    state_->last_block = std::move(last_block);
    if (state_->reused) state_->synced_content = std::move(content);
    return Status::OK();
  }
  Status close() override {
    Status s = base_->close();
    if (fs_->is_cut()) return power_cut();
    return s;
  }
  uint64_t size() const override { return base_->size(); }
  int fd() const override { return fs_->is_cut() ? -1 : base_->fd(); }
  int direct_fd() const override { return fs_->is_cut() ? -1 : base_->direct_fd(); }
  size_t direct_alignment() const override { return base_->direct_alignment(); }
  void advance(uint64_t n) override { base_->advance(n); }

 private:
  PowerLossFileSystem* const fs_;
  const std::shared_ptr<FileState> state_;
  const std::unique_ptr<WritableFile> base_;
};

PowerLossFileSystem::PowerLossFileSystem(FileSystem* base, std::string graveyard)
    : base_(base), graveyard_(normalize(graveyard)) {
  base_->create_dir(graveyard_).ignore_error();
}

PowerLossFileSystem::~PowerLossFileSystem() = default;

std::shared_ptr<PowerLossFileSystem::FileState> PowerLossFileSystem::durable_state(uint64_t synced) {
  auto state = std::make_shared<FileState>();
  state->synced = synced;
  return state;
}

void PowerLossFileSystem::cut_after(uint64_t ops) {
  std::lock_guard<std::mutex> l(mu_);
  cut_at_ = ops == 0 ? 0 : ops_ + ops;
}

void PowerLossFileSystem::cut() {
  std::lock_guard<std::mutex> l(mu_);
  cut_ = true;
}

bool PowerLossFileSystem::is_cut() const {
  std::lock_guard<std::mutex> l(mu_);
  return cut_;
}

uint64_t PowerLossFileSystem::ops() const {
  std::lock_guard<std::mutex> l(mu_);
  return ops_;
}

uint64_t PowerLossFileSystem::reused_files() const {
  std::lock_guard<std::mutex> l(mu_);
  return reused_files_;
}

Status PowerLossFileSystem::tick_locked() {
  if (cut_) return power_cut();
  ++ops_;
  if (cut_at_ != 0 && ops_ >= cut_at_) {
    cut_ = true;
    return power_cut();
  }
  return Status::OK();
}

Status PowerLossFileSystem::tick() {
  std::lock_guard<std::mutex> l(mu_);
  return tick_locked();
}

std::string PowerLossFileSystem::bury_locked(const std::string& path) {
  std::string grave = graveyard_ + "/" + std::to_string(++graves_);
  if (::link(path.c_str(), grave.c_str()) != 0) return "";
  return grave;
}

void PowerLossFileSystem::move_state_locked(const std::string& from, const std::string& to) {
  auto it = files_.find(from);
  if (it == files_.end()) {
    files_.erase(to);  // from was durable as it is; so is to now
    return;
  }
  files_[to] = it->second;
  files_.erase(it);
}

void PowerLossFileSystem::record_locked(Entry e) { pending_.push_back(std::move(e)); }

Status PowerLossFileSystem::open_writable(const std::string& path, bool direct,
                                          std::unique_ptr<WritableFile>* out) {
  std::lock_guard<std::mutex> l(mu_);
  LSM4KV_RETURN_IF_ERROR(tick_locked());
  std::string p = normalize(path);
  bool existed = base_->exists(p);
  std::unique_ptr<WritableFile> f;
  LSM4KV_RETURN_IF_ERROR(direct ? base_->new_direct_writable(path, &f)
                                : base_->new_writable(path, &f));
  // Truncated or new: none of what it will hold is durable yet.
  auto state = std::make_shared<FileState>();
  files_[p] = state;
  if (!existed) record_locked({Entry::kCreate, p, "", "", {dir_of(p)}});
  *out = std::make_unique<File>(this, std::move(state), std::move(f));
  return Status::OK();
}

Status PowerLossFileSystem::new_writable(const std::string& path,
                                         std::unique_ptr<WritableFile>* out) {
  return open_writable(path, false, out);
}

Status PowerLossFileSystem::new_direct_writable(const std::string& path,
                                                std::unique_ptr<WritableFile>* out) {
  return open_writable(path, true, out);
}

Status PowerLossFileSystem::reuse_direct_writable(const std::string& path,
                                                  std::unique_ptr<WritableFile>* out) {
  std::lock_guard<std::mutex> l(mu_);
  LSM4KV_RETURN_IF_ERROR(tick_locked());
  std::unique_ptr<WritableFile> f;
  LSM4KV_RETURN_IF_ERROR(base_->reuse_direct_writable(path, &f));
  // Its content now is what each sector falls back to until the first sync.
  auto state = std::make_shared<FileState>();
  state->reused = true;
  if (!read_whole(f->fd(), &state->synced_content))
    return Status::io_error("power loss fs: cannot read " + path);
  state->synced = state->synced_content.size();
  files_[normalize(path)] = state;
  reused_files_++;
  *out = std::make_unique<File>(this, std::move(state), std::move(f));
  return Status::OK();
}

Status PowerLossFileSystem::new_appendable(const std::string& path,
                                           std::unique_ptr<WritableFile>* out) {
  std::lock_guard<std::mutex> l(mu_);
  LSM4KV_RETURN_IF_ERROR(tick_locked());
  std::string p = normalize(path);
  bool existed = base_->exists(p);
  std::unique_ptr<WritableFile> f;
  LSM4KV_RETURN_IF_ERROR(base_->new_appendable(path, &f));
  std::shared_ptr<FileState>& state = files_[p];
  if (!state) state = durable_state(existed ? f->size() : 0);
  if (!existed) record_locked({Entry::kCreate, p, "", "", {dir_of(p)}});
  *out = std::make_unique<File>(this, state, std::move(f));
  return Status::OK();
}

Status PowerLossFileSystem::new_random_access(const std::string& path,
                                              std::unique_ptr<RandomAccessFile>* out) {
  if (is_cut()) return power_cut();
  return base_->new_random_access(path, out);
}

Status PowerLossFileSystem::rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  LSM4KV_RETURN_IF_ERROR(tick_locked());
  std::string f = normalize(from), t = normalize(to);
  std::string grave;
  if (base_->exists(t)) {
    grave = bury_locked(t);
    if (grave.empty()) return Status::from_errno(errno, "power loss fs: link " + t);
  }
  Status s = base_->rename(from, to);
  if (!s.ok()) {
    if (!grave.empty()) ::unlink(grave.c_str());
    return s;
  }
  if (!grave.empty()) move_state_locked(t, grave);
  move_state_locked(f, t);
  record_locked({Entry::kRename, f, t, grave, {dir_of(f), dir_of(t)}});
  return Status::OK();
}

Status PowerLossFileSystem::remove(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  LSM4KV_RETURN_IF_ERROR(tick_locked());
  std::string p = normalize(path);
  if (!base_->exists(p)) return base_->remove(path);  // its error
  std::string grave = bury_locked(p);
  if (grave.empty()) return Status::from_errno(errno, "power loss fs: link " + p);
  Status s = base_->remove(path);
  if (!s.ok()) {
    ::unlink(grave.c_str());
    return s;
  }
  move_state_locked(p, grave);
  record_locked({Entry::kRemove, p, "", grave, {dir_of(p)}});
  return Status::OK();
}

Status PowerLossFileSystem::create_dir(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  LSM4KV_RETURN_IF_ERROR(tick_locked());
  std::string p = normalize(path);
  bool existed = base_->exists(p);
  LSM4KV_RETURN_IF_ERROR(base_->create_dir(path));
  if (!existed) record_locked({Entry::kMkdir, p, "", "", {dir_of(p)}});
  return Status::OK();
}

Status PowerLossFileSystem::list_dir(const std::string& path, std::vector<std::string>* names) {
  if (is_cut()) return power_cut();
  return base_->list_dir(path, names);
}

bool PowerLossFileSystem::exists(const std::string& path) { return base_->exists(path); }

Status PowerLossFileSystem::file_size(const std::string& path, uint64_t* size) {
  if (is_cut()) return power_cut();
  return base_->file_size(path, size);
}

Status PowerLossFileSystem::truncate(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  LSM4KV_RETURN_IF_ERROR(tick_locked());
  LSM4KV_RETURN_IF_ERROR(base_->truncate(path, size));
  // Treated as durable at once: what it cut off was never needed again.
  std::shared_ptr<FileState>& state = files_[normalize(path)];
  if (!state) state = durable_state(size);
  if (size < state->synced) state->last_block.clear();
  state->synced = std::min(state->synced, size);
  if (state->synced_content.size() > size) state->synced_content.resize(size);
  return Status::OK();
}

Status PowerLossFileSystem::sync_dir(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  LSM4KV_RETURN_IF_ERROR(tick_locked());
  LSM4KV_RETURN_IF_ERROR(base_->sync_dir(path));
  std::string d = normalize(path);
  std::vector<Entry> still;
  for (Entry& e : pending_) {
    e.dirs.erase(d);
    if (!e.dirs.empty()) {
      still.push_back(std::move(e));
    } else if (!e.grave.empty()) {
      ::unlink(e.grave.c_str());  // the removal is durable: nothing to bring back
      files_.erase(e.grave);
    }
  }
  pending_ = std::move(still);
  return Status::OK();
}

Status PowerLossFileSystem::lock_file(const std::string& path, std::unique_ptr<FileLock>* out) {
  if (is_cut()) return power_cut();
  return base_->lock_file(path, out);
}

Status PowerLossFileSystem::apply_loss(uint64_t seed, PowerLossReport* report) {
  std::lock_guard<std::mutex> l(mu_);
  if (!cut_) return Status::invalid_argument("power loss fs: apply_loss before the cut");
  PowerLossReport unused;
  if (report == nullptr) report = &unused;
  *report = PowerLossReport{};
  std::mt19937_64 rng(seed);
  // Data first, at the files' current names (graves included).
  for (const auto& [path, state] : files_) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (state->reused) {
      const uint64_t before = report->sectors_reverted;
      const uint64_t whole = std::min<uint64_t>(size, state->synced_content.size());
      if (whole > 0)
        LSM4KV_RETURN_IF_ERROR(
            revert_sectors(path, 0, std::string_view(state->synced_content).substr(0, whole), rng, report));
      report->reused_reverted += report->sectors_reverted - before;
    } else if (!state->last_block.empty() && size >= state->synced)
      LSM4KV_RETURN_IF_ERROR(
          revert_sectors(path, state->synced - state->last_block.size(), state->last_block, rng, report));
    if (size <= state->synced) continue;
    LSM4KV_RETURN_IF_ERROR(lose_tail(path, state->synced, size, rng, report));
  }
  // Then the directory entries, newest first.
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    const Entry& e = *it;
    int rc = 0;
    switch (e.kind) {
      case Entry::kCreate:
        rc = ::unlink(e.path.c_str());
        break;
      case Entry::kMkdir: {
        std::error_code ec;
        std::filesystem::remove_all(e.path, ec);
        break;
      }
      case Entry::kRename:
        rc = ::rename(e.to.c_str(), e.path.c_str());
        if (rc == 0 && !e.grave.empty()) rc = ::rename(e.grave.c_str(), e.to.c_str());
        break;
      case Entry::kRemove:
        rc = ::rename(e.grave.c_str(), e.path.c_str());
        break;
    }
    // ENOENT: a later change the cut kept (a durable removal in another
    // directory) already took the entry away.
    if (rc != 0 && errno != ENOENT)
      return Status::from_errno(errno, "power loss fs: undo on " + e.path);
    report->entries_undone++;
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(graveyard_, ec))
    std::filesystem::remove(entry.path(), ec);
  files_.clear();
  pending_.clear();
  return Status::OK();
}

}  // namespace lsm4kv::test
