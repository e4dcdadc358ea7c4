// FileSystem: the one narrow interface through which lsm4kv reads and writes
// files. The default is POSIX; tests wrap it to inject EIO, ENOSPC and torn
// writes (test/tensorlog/fault_fs.h) and to model a power cut
// (test/support/power_loss_fs.h).
//
// Every creation, rename and removal of a file, and every sync, goes through
// this interface, so a wrapper sees all of them. The one way around append()
// is a direct file's descriptor (new_direct_writable): the tensor log writes
// segments through io_uring at the file's end; such writes become durable
// only through the file's sync(), like any other.
//
// Thread-safety: a FileSystem may be used from many threads. A WritableFile
// is used by one thread at a time; a RandomAccessFile may be read by many
// threads at once (pread semantics).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lsm4kv {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of `data` or returns an error; a short write is an error.
  virtual Status append(std::string_view data) = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual Status sync() = 0;
  virtual Status close() = 0;
  // Bytes appended so far (plus the size the file had when opened for append).
  virtual uint64_t size() const = 0;

  // Positional writes that bypass append(), for io_uring users. fd() is the
  // file's buffered descriptor, or -1 when it has none (then append() is the
  // only way in). direct_fd() is an O_DIRECT descriptor of the same file, or
  // -1; a write through it must have its offset, length and memory aligned
  // to direct_alignment(). A caller writes at size() and then calls
  // advance() with the bytes it wrote, so that size() and later appends
  // follow; only sync() makes such writes durable.
  virtual int fd() const { return -1; }
  virtual int direct_fd() const { return -1; }
  virtual size_t direct_alignment() const { return 0; }
  virtual void advance(uint64_t n) { (void)n; }
};

class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into scratch; *got is the count read (less
  // than n only at end of file).
  virtual Status read(uint64_t offset, size_t n, char* scratch, size_t* got) const = 0;
  virtual uint64_t size() const = 0;
  // The POSIX descriptor for io_uring users, or -1 when the file is not backed
  // by one.
  virtual int fd() const { return -1; }
};

// An advisory whole-file lock (flock), released when the object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The process-wide POSIX file system.
  static FileSystem* posix();

  // Creates (or truncates) path for writing.
  virtual Status new_writable(const std::string& path, std::unique_ptr<WritableFile>* out) = 0;
  // Creates (or truncates) path for writing large aligned blocks: the POSIX
  // file system opens it with O_DIRECT too (no page-cache copy) where the file
  // system allows it, and exposes both descriptors (WritableFile::fd(),
  // direct_fd()). The default is new_writable(): a wrapper that does not
  // override it gets plain appends.
  virtual Status new_direct_writable(const std::string& path, std::unique_ptr<WritableFile>* out) {
    return new_writable(path, out);
  }
  // Opens an existing file to be written over from its start, as
  // new_direct_writable() writes a new one, without truncating it: size()
  // starts at 0, the bytes past what is written stay as they were, and the
  // file keeps its blocks (freeing them costs a discard each: see
  // tensorlog/tensor_log.h, "Reused files"). NotSupported by default: a
  // wrapper that does not override it makes its callers create new files.
  virtual Status reuse_direct_writable(const std::string& path, std::unique_ptr<WritableFile>* out) {
    (void)out;
    return Status::not_supported("reuse_direct_writable " + path);
  }
  // Opens an existing file for appending at its end.
  virtual Status new_appendable(const std::string& path, std::unique_ptr<WritableFile>* out) = 0;
  virtual Status new_random_access(const std::string& path,
                                   std::unique_ptr<RandomAccessFile>* out) = 0;
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status remove(const std::string& path) = 0;
  // Creates the directory if it does not exist yet. Its entry in the parent
  // is durable only after sync_dir(parent): see create_dir_durable().
  virtual Status create_dir(const std::string& path) = 0;
  // Names (not paths) of the entries in a directory, without "." and "..".
  virtual Status list_dir(const std::string& path, std::vector<std::string>* names) = 0;
  virtual bool exists(const std::string& path) = 0;
  virtual Status file_size(const std::string& path, uint64_t* size) = 0;
  virtual Status truncate(const std::string& path, uint64_t size) = 0;
  // fsyncs a directory so that creations, renames and removals in it are durable.
  virtual Status sync_dir(const std::string& path) = 0;
  // Takes an exclusive lock on path (created if missing); Busy if another
  // process holds it.
  virtual Status lock_file(const std::string& path, std::unique_ptr<FileLock>* out) = 0;
};

// Creates dir if missing and syncs its parent, so that the directory
// survives a power cut.
Status create_dir_durable(FileSystem* fs, const std::string& dir);
// Reads a whole file into *out.
Status read_file(FileSystem* fs, const std::string& path, std::string* out);
// Writes data to path through a temporary file, fsync and rename, so that
// path holds either its old content or all of data.
Status write_file_atomic(FileSystem* fs, const std::string& dir, const std::string& name,
                         std::string_view data);

}  // namespace lsm4kv
