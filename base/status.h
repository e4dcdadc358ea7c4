// Status: the result of every fallible call in lsm4kv. Errors are values; no
// exception crosses a public API. A Status is either OK or carries a code and
// a human-readable message that names the file, offset or argument at fault.
//
// Spelling, as LevelDB, RocksDB and Abseil users know it: `Status::OK()`
// builds the OK value, `s.ok()` checks it. The type and its checks are
// [[nodiscard]], so a Status dropped on the floor is a compiler warning.
//
// Thread-safety: a Status is a plain value; distinct objects may be used from
// distinct threads without synchronization.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace lsm4kv {

class [[nodiscard]] Status {
 public:
  enum class Code : uint8_t {
    kOk = 0,
    kNotFound,
    kCorruption,       // a checksum, magic or length on disk is wrong
    kIOError,          // the operating system refused (EIO, EBADF, ...)
    kNoSpace,          // ENOSPC / EDQUOT: the disk is full
    kInvalidArgument,  // the caller's input is wrong; nothing was changed
    kNotSupported,     // e.g. a device destination without a CUDA device
    kBusy,             // e.g. the store is locked by another process
    kTagMismatch,      // a record is sound but belongs to another key (a fingerprint collision)
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status not_found(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status io_error(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status no_space(std::string_view msg) { return Status(Code::kNoSpace, msg); }
  static Status invalid_argument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status not_supported(std::string_view msg) { return Status(Code::kNotSupported, msg); }
  static Status busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status tag_mismatch(std::string_view msg) { return Status(Code::kTagMismatch, msg); }
  // Maps an errno value from a failed system call on `context` (a path, usually).
  static Status from_errno(int err, std::string_view context);

  [[nodiscard]] bool ok() const { return code_ == Code::kOk; }
  [[nodiscard]] bool is_not_found() const { return code_ == Code::kNotFound; }
  [[nodiscard]] bool is_corruption() const { return code_ == Code::kCorruption; }
  [[nodiscard]] bool is_io_error() const { return code_ == Code::kIOError; }
  [[nodiscard]] bool is_no_space() const { return code_ == Code::kNoSpace; }
  [[nodiscard]] bool is_invalid_argument() const { return code_ == Code::kInvalidArgument; }
  [[nodiscard]] bool is_not_supported() const { return code_ == Code::kNotSupported; }
  [[nodiscard]] bool is_busy() const { return code_ == Code::kBusy; }
  [[nodiscard]] bool is_tag_mismatch() const { return code_ == Code::kTagMismatch; }

  // Drops this Status on purpose: cleanup after an earlier error, a
  // destructor, a best-effort step whose failure the next one detects. The
  // call site says which.
  void ignore_error() const {}

  Code code() const { return code_; }
  const std::string& message() const { return msg_; }
  // "Corruption: <message>", or "OK".
  std::string to_string() const;

 private:
  Status(Code code, std::string_view msg) : code_(code), msg_(msg) {}
  Code code_ = Code::kOk;
  std::string msg_;
};

// Propagates a non-OK Status to the caller.
#define LSM4KV_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::lsm4kv::Status _st = (expr);            \
    if (!_st.ok()) return _st;             \
  } while (0)

}  // namespace lsm4kv
