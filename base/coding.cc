#include "base/coding.h"

namespace lsm4kv {

void put_varint64(std::string* dst, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  dst->append(buf, n);
}

void put_varint32(std::string* dst, uint32_t v) { put_varint64(dst, v); }

void put_length_prefixed(std::string* dst, std::string_view value) {
  put_varint64(dst, value.size());
  dst->append(value.data(), value.size());
}

int varint_length(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

bool get_fixed32(std::string_view* in, uint32_t* v) {
  if (in->size() < 4) return false;
  *v = decode_fixed32(in->data());
  in->remove_prefix(4);
  return true;
}

bool get_fixed64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = decode_fixed64(in->data());
  in->remove_prefix(8);
  return true;
}

bool get_varint64(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (size_t i = 0; i < in->size() && i < 10; i++) {
    uint64_t byte = static_cast<unsigned char>((*in)[i]);
    result |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      *v = result;
      in->remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

bool get_varint32(std::string_view* in, uint32_t* v) {
  uint64_t wide;
  std::string_view saved = *in;
  if (!get_varint64(in, &wide) || wide > UINT32_MAX) {
    *in = saved;
    return false;
  }
  *v = static_cast<uint32_t>(wide);
  return true;
}

bool get_length_prefixed(std::string_view* in, std::string_view* value) {
  uint64_t len;
  std::string_view saved = *in;
  if (!get_varint64(in, &len) || len > in->size()) {
    *in = saved;
    return false;
  }
  *value = in->substr(0, len);
  in->remove_prefix(len);
  return true;
}

}  // namespace lsm4kv
