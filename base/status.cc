#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace lsm4kv {

Status Status::from_errno(int err, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return no_space(msg);
  if (err == ENOENT) return not_found(msg);
  if (err == EINVAL) return invalid_argument(msg);
  if (err == EWOULDBLOCK) return busy(msg);
  return io_error(msg);
}

std::string Status::to_string() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "NotFound"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kIOError: name = "IOError"; break;
    case Code::kNoSpace: name = "NoSpace"; break;
    case Code::kInvalidArgument: name = "InvalidArgument"; break;
    case Code::kNotSupported: name = "NotSupported"; break;
    case Code::kBusy: name = "Busy"; break;
    case Code::kTagMismatch: name = "Tag mismatch"; break;
  }
  return std::string(name) + ": " + msg_;
}

}  // namespace lsm4kv
