// A strict reader for the Mooncake trace format: one JSON object per line,
//   {"timestamp": 0, "input_length": 40160, "output_length": 6, "hash_ids": [0, 1, 2]}
// where each hash id names one 512-token prefix block of the prompt (the last
// block may be partial: hash_ids has ceil(input_length / 512) entries).
//
// Exactly these four keys, each once, in any order; values are non-negative
// integers (hash_ids an array of them). Anything else — another key, a
// string or float value, a blank line, text after the object, a hash_ids
// count that does not match input_length — is an InvalidArgument naming the
// file, line and column. Nothing is skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace lsm4kv::bench {

inline constexpr uint64_t kTraceBlockTokens = 512;

struct TraceRequest {
  uint64_t timestamp = 0;      // ms since the trace's start
  uint64_t input_length = 0;   // prompt tokens
  uint64_t output_length = 0;  // generated tokens
  std::vector<uint64_t> hash_ids;
};

// Parses one line (1-based line number for messages).
Status parse_trace_line(const std::string& path, size_t line_no, const std::string& line, TraceRequest* out);

// Reads the first max_requests requests of the file (0 = all).
Status read_trace(const std::string& path, size_t max_requests, std::vector<TraceRequest>* out);

}  // namespace lsm4kv::bench
