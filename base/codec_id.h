// Codec: how the tensor log stores a record's bytes (tensorlog/codec.h does
// the work; the value is on disk in every record header, so the numbers are
// fixed). A value type shared by the tensor log and the store's options.
#pragma once

#include <cstdint>

namespace lsm4kv {

enum class Codec : uint8_t {
  kNone = 0,
  kLz4 = 1,
  kShuffleLz4 = 2,  // byte planes of 2-byte elements, then LZ4
};

}  // namespace lsm4kv
