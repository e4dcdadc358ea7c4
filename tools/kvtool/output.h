// Output helpers of kvtool: a small JSON writer (--json) and the number
// formats of the human-readable output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lsm4kv::kvtool {

// Builds one JSON document. Inside an object every value needs a key; inside
// an array none does (pass {}). Nesting is checked only by the caller.
class Json {
 public:
  Json& begin_object(std::string_view key = {});
  Json& end_object();
  Json& begin_array(std::string_view key = {});
  Json& end_array();
  Json& field(std::string_view key, std::string_view v);
  Json& field(std::string_view key, const char* v) { return field(key, std::string_view(v)); }
  Json& field(std::string_view key, const std::string& v) { return field(key, std::string_view(v)); }
  Json& field(std::string_view key, uint64_t v);
  Json& field(std::string_view key, int64_t v);
  Json& field(std::string_view key, int v) { return field(key, static_cast<int64_t>(v)); }
  Json& field(std::string_view key, unsigned v) { return field(key, static_cast<uint64_t>(v)); }
  Json& field(std::string_view key, double v);
  Json& field(std::string_view key, bool v);
  // A raw JSON value (a number read from a file, say).
  Json& raw(std::string_view key, std::string_view json);
  const std::string& str() const { return out_; }

 private:
  void key(std::string_view k);
  std::string out_;
  std::vector<bool> first_{true};
};

std::string json_quote(std::string_view s);
// "1.50 GiB"
std::string human_bytes(uint64_t bytes);
// "1,2,3"
std::string join(const std::vector<int>& v);
// True when s is a JSON number as written by the stats file.
bool is_number(std::string_view s);

}  // namespace lsm4kv::kvtool
