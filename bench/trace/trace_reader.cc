#include "bench/trace/trace_reader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <string_view>

namespace lsm4kv::bench {

namespace {

// A cursor over one line; every error names the line and the 1-based column.
class LineParser {
 public:
  LineParser(const std::string& path, size_t line_no, std::string_view s) : path_(path), line_(line_no), s_(s) {}

  Status error(std::string_view what) const {
    return Status::invalid_argument(path_ + ":" + std::to_string(line_) + ":" + std::to_string(pos_ + 1) + ": " +
                                    std::string(what));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r')) pos_++;
  }
  bool at_end() const { return pos_ >= s_.size(); }
  bool consume(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      pos_++;
      return true;
    }
    return false;
  }
  Status expect(char c) {
    if (consume(c)) return Status::OK();
    return error(std::string("expected '") + c + "', found " + found());
  }
  Status key(std::string* out) {
    LSM4KV_RETURN_IF_ERROR(expect('"'));
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      if (s_[pos_] == '\\') return error("escape sequences are not part of this trace format");
      pos_++;
    }
    if (pos_ >= s_.size()) return error("unterminated string");
    *out = std::string(s_.substr(start, pos_ - start));
    pos_++;
    return Status::OK();
  }
  Status uint(uint64_t* out) {
    skip_ws();
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') {
      return error("expected a non-negative integer, found " + found());
    }
    if (s_[pos_] == '0' && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9') {
      return error("leading zero in a number");
    }
    uint64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      uint64_t d = static_cast<uint64_t>(s_[pos_] - '0');
      if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return error("number does not fit in 64 bits");
      v = v * 10 + d;
      pos_++;
    }
    if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
      return error("expected an integer, found a fraction or exponent");
    }
    *out = v;
    return Status::OK();
  }
  Status uint_array(std::vector<uint64_t>* out) {
    LSM4KV_RETURN_IF_ERROR(expect('['));
    out->clear();
    if (consume(']')) return Status::OK();
    while (true) {
      uint64_t v = 0;
      LSM4KV_RETURN_IF_ERROR(uint(&v));
      out->push_back(v);
      if (consume(']')) return Status::OK();
      LSM4KV_RETURN_IF_ERROR(expect(','));
    }
  }

 private:
  std::string found() const {
    if (pos_ >= s_.size()) return "end of line";
    return std::string("'") + s_[pos_] + "'";
  }
  const std::string& path_;
  size_t line_;
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Status parse_trace_line(const std::string& path, size_t line_no, const std::string& line, TraceRequest* out) {
  LineParser p(path, line_no, line);
  p.skip_ws();
  if (p.at_end()) return p.error("empty line (expected one JSON object per line)");
  *out = TraceRequest{};
  bool seen[4] = {false, false, false, false};
  static constexpr const char* kKeys[4] = {"timestamp", "input_length", "output_length", "hash_ids"};
  LSM4KV_RETURN_IF_ERROR(p.expect('{'));
  if (!p.consume('}')) {
    while (true) {
      std::string k;
      LSM4KV_RETURN_IF_ERROR(p.key(&k));
      int which = -1;
      for (int i = 0; i < 4; i++) {
        if (k == kKeys[i]) which = i;
      }
      if (which < 0) return p.error("unknown key \"" + k + "\"");
      if (seen[which]) return p.error("duplicate key \"" + k + "\"");
      seen[which] = true;
      LSM4KV_RETURN_IF_ERROR(p.expect(':'));
      switch (which) {
        case 0: LSM4KV_RETURN_IF_ERROR(p.uint(&out->timestamp)); break;
        case 1: LSM4KV_RETURN_IF_ERROR(p.uint(&out->input_length)); break;
        case 2: LSM4KV_RETURN_IF_ERROR(p.uint(&out->output_length)); break;
        default: LSM4KV_RETURN_IF_ERROR(p.uint_array(&out->hash_ids)); break;
      }
      if (p.consume('}')) break;
      LSM4KV_RETURN_IF_ERROR(p.expect(','));
    }
  }
  p.skip_ws();
  if (!p.at_end()) return p.error("text after the object");
  for (int i = 0; i < 4; i++) {
    if (!seen[i]) return p.error(std::string("missing key \"") + kKeys[i] + "\"");
  }
  const uint64_t blocks = (out->input_length + kTraceBlockTokens - 1) / kTraceBlockTokens;
  if (out->hash_ids.size() != blocks) {
    return Status::invalid_argument(path + ":" + std::to_string(line_no) + ": input_length " +
                                    std::to_string(out->input_length) + " needs " + std::to_string(blocks) +
                                    " blocks of 512 tokens, hash_ids has " + std::to_string(out->hash_ids.size()));
  }
  return Status::OK();
}

Status read_trace(const std::string& path, size_t max_requests, std::vector<TraceRequest>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::from_errno(errno, path);
  out->clear();
  std::string line;
  size_t line_no = 0;
  while ((max_requests == 0 || out->size() < max_requests) && std::getline(in, line)) {
    line_no++;
    TraceRequest r;
    LSM4KV_RETURN_IF_ERROR(parse_trace_line(path, line_no, line, &r));
    out->push_back(std::move(r));
  }
  if (in.bad()) return Status::io_error(path + ": read failed after line " + std::to_string(line_no));
  return Status::OK();
}

}  // namespace lsm4kv::bench
