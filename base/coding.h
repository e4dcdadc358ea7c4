// Fixed-width little-endian and varint encodings used by every on-disk format
// in lsm4kv. Encoders append to a std::string; decoders consume from the front
// of a std::string_view and return false on truncated input (never read past
// the end).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace lsm4kv {

inline void encode_fixed32(char* dst, uint32_t v) { std::memcpy(dst, &v, 4); }  // x86/arm LE
inline void encode_fixed64(char* dst, uint64_t v) { std::memcpy(dst, &v, 8); }
inline uint32_t decode_fixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t decode_fixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline void put_fixed32(std::string* dst, uint32_t v) {
  char buf[4];
  encode_fixed32(buf, v);
  dst->append(buf, 4);
}
inline void put_fixed64(std::string* dst, uint64_t v) {
  char buf[8];
  encode_fixed64(buf, v);
  dst->append(buf, 8);
}

void put_varint32(std::string* dst, uint32_t v);
void put_varint64(std::string* dst, uint64_t v);
// Varint length followed by the bytes.
void put_length_prefixed(std::string* dst, std::string_view value);
int varint_length(uint64_t v);

bool get_fixed32(std::string_view* in, uint32_t* v);
bool get_fixed64(std::string_view* in, uint64_t* v);
bool get_varint32(std::string_view* in, uint32_t* v);
bool get_varint64(std::string_view* in, uint64_t* v);
bool get_length_prefixed(std::string_view* in, std::string_view* value);

}  // namespace lsm4kv
