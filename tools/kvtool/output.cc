#include "tools/kvtool/output.h"

#include <cmath>
#include <cstdio>

namespace lsm4kv::kvtool {

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void Json::key(std::string_view k) {
  if (!first_.back()) out_ += ",";
  first_.back() = false;
  if (!k.empty()) out_ += json_quote(k) + ":";
}

Json& Json::begin_object(std::string_view k) {
  key(k);
  out_ += "{";
  first_.push_back(true);
  return *this;
}

Json& Json::end_object() {
  first_.pop_back();
  out_ += "}";
  return *this;
}

Json& Json::begin_array(std::string_view k) {
  key(k);
  out_ += "[";
  first_.push_back(true);
  return *this;
}

Json& Json::end_array() {
  first_.pop_back();
  out_ += "]";
  return *this;
}

Json& Json::field(std::string_view k, std::string_view v) {
  key(k);
  out_ += json_quote(v);
  return *this;
}

Json& Json::field(std::string_view k, uint64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

Json& Json::field(std::string_view k, int64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

Json& Json::field(std::string_view k, double v) {
  key(k);
  if (!std::isfinite(v)) {
    out_ += "null";
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    out_ += buf;
  }
  return *this;
}

Json& Json::field(std::string_view k, bool v) {
  key(k);
  out_ += v ? "true" : "false";
  return *this;
}

Json& Json::raw(std::string_view k, std::string_view json) {
  key(k);
  out_ += json;
  return *this;
}

std::string human_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    u++;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
  return buf;
}

std::string join(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

bool is_number(std::string_view s) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  bool digits = false, dot = false;
  for (; i < s.size(); i++) {
    if (s[i] >= '0' && s[i] <= '9') digits = true;
    else if (s[i] == '.' && !dot) dot = true;
    else return false;
  }
  return digits && s.back() != '.';
}

}  // namespace lsm4kv::kvtool
