// PowerLossFileSystem: a FileSystem wrapper for crash tests that models what
// a power cut does to a POSIX file system (ext4 without a journal is the
// worst case, and our disks run it):
//
//   - file data is durable up to the size the file had at its last sync()
//     (fdatasync); the tail after it may be lost whole, kept, or torn by
//     512-byte sectors (each unsynced sector kept or zeroed, and the file may
//     end at any sector boundary past the synced size);
//   - a write over the last synced 4 KiB block of a file with a descriptor
//     (an append-only log rewriting its partial tail block in place) is
//     undone by sectors: each sector of that block that changed since the
//     sync keeps its new bytes or gets back the synced ones;
//   - a file reused in place (reuse_direct_writable: written over from its
//     start, its blocks kept) holds, in each sector written since its last
//     sync, the new bytes or the ones it held at that sync (its old
//     content before the first): the old blocks are still there, and a
//     sector's write is atomic; past the size it had then, as any tail;
//   - a creation, rename or removal of a directory entry (and mkdir) is
//     durable only once its directory was synced (sync_dir) after it; every
//     other one is undone, newest first: created files disappear, a renamed
//     file goes back to its old name and the target gets its old content back,
//     a removed file comes back.
//
// To bring removed files and replaced rename targets back, the wrapper keeps
// them as hard links in a graveyard directory (outside the store, on the
// same file system) until their directory is synced.
//
// Files written through a direct file's descriptor (io_uring) are covered:
// their size at sync() is read with fstat. Files the wrapper never opened for
// writing are durable as they are.
//
// Use: run a workload on the wrapper; cut() (or cut_after(n) operations) is
// the power going off: from then on every call fails with IOError("power
// cut"), and a direct file's fd() reads -1 so that no new write bypasses the
// wrapper. Destroy everything that used the wrapper, then apply_loss(seed)
// rewrites the real files into one state the disk could hold after the cut.
// Reopen with the plain POSIX file system and check.
//
// Thread-safety: the FileSystem and its files may be used from many threads
// until the cut; apply_loss() must run alone.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/file_system.h"

namespace lsm4kv::test {

// What apply_loss() did.
struct PowerLossReport {
  uint64_t files_cut = 0;      // files whose unsynced tail was dropped whole
  uint64_t files_torn = 0;     // files whose unsynced tail was torn by sectors
  uint64_t bytes_lost = 0;     // unsynced bytes dropped or zeroed
  uint64_t entries_undone = 0; // creations, renames, removals, mkdirs undone
  uint64_t sectors_reverted = 0;  // sectors of a rewritten last block given their old bytes
  uint64_t reused_reverted = 0;   // of those, sectors of files reused in place
};

class PowerLossFileSystem final : public FileSystem {
 public:
  static constexpr uint64_t kSector = 512;

  // graveyard: a directory outside what the workload lists (created when
  // missing, emptied by apply_loss), on the same file system as the files.
  PowerLossFileSystem(FileSystem* base, std::string graveyard);
  ~PowerLossFileSystem() override;

  // The power goes off at the ops-th counted operation from now (that one
  // fails). Counted: creating or opening a file for writing, append, sync,
  // rename, remove, mkdir, truncate, sync_dir. 0 disarms.
  void cut_after(uint64_t ops);
  // The power goes off now.
  void cut();
  bool is_cut() const;
  // Counted operations so far (a workload measures its length with it).
  uint64_t ops() const;
  // Files opened by reuse_direct_writable so far.
  uint64_t reused_files() const;

  // REQUIRES: is_cut(), and nothing uses the wrapper or its files any more.
  // Applies the loss of everything not synced, chosen by seed; the wrapper
  // then forgets its state (a new workload needs a new wrapper).
  Status apply_loss(uint64_t seed, PowerLossReport* report = nullptr);

  Status new_writable(const std::string& path, std::unique_ptr<WritableFile>* out) override;
  Status new_direct_writable(const std::string& path, std::unique_ptr<WritableFile>* out) override;
  Status reuse_direct_writable(const std::string& path, std::unique_ptr<WritableFile>* out) override;
  Status new_appendable(const std::string& path, std::unique_ptr<WritableFile>* out) override;
  Status new_random_access(const std::string& path,
                           std::unique_ptr<RandomAccessFile>* out) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status create_dir(const std::string& path) override;
  Status list_dir(const std::string& path, std::vector<std::string>* names) override;
  bool exists(const std::string& path) override;
  Status file_size(const std::string& path, uint64_t* size) override;
  Status truncate(const std::string& path, uint64_t size) override;
  Status sync_dir(const std::string& path) override;
  Status lock_file(const std::string& path, std::unique_ptr<FileLock>* out) override;

 private:
  class File;
  // The durable length of one file (an inode: it follows renames).
  struct FileState {
    uint64_t synced = 0;
    // The synced bytes of the last block before `synced` (files with a
    // descriptor only): what a rewrite of that block may fall back to.
    std::string last_block;
    // A file reused in place: all of it as of its last sync (its old
    // content before the first), what each sector may fall back to.
    bool reused = false;
    std::string synced_content;
  };
  // A namespace change not yet covered by a sync of every directory it touched.
  struct Entry {
    enum Kind { kCreate, kMkdir, kRename, kRemove } kind;
    std::string path;   // created / removed / renamed-from path
    std::string to;     // rename target
    std::string grave;  // removed file, or the rename target's old file ("" if none)
    std::set<std::string> dirs;  // directories whose sync makes it durable
  };

  // A file durable up to synced bytes.
  static std::shared_ptr<FileState> durable_state(uint64_t synced);
  // Counts one operation; IOError once the power is off. REQUIRES: mu_ held.
  Status tick_locked();
  Status tick();
  Status open_writable(const std::string& path, bool direct, std::unique_ptr<WritableFile>* out);
  std::string bury_locked(const std::string& path);  // hard link into the graveyard
  void move_state_locked(const std::string& from, const std::string& to);
  void record_locked(Entry e);

  FileSystem* const base_;
  const std::string graveyard_;
  mutable std::mutex mu_;
  bool cut_ = false;
  uint64_t ops_ = 0;
  uint64_t cut_at_ = 0;  // 0: never
  uint64_t graves_ = 0;
  uint64_t reused_files_ = 0;
  // Files written since the wrapper was created, by current path; a path not
  // here is durable as it is.
  std::map<std::string, std::shared_ptr<FileState>> files_;
  std::vector<Entry> pending_;  // in order
};

}  // namespace lsm4kv::test
