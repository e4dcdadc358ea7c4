// Payload codecs of the tensor log, chosen per store (TensorLogOptions::codec)
// and recorded in every record header, so a reader decodes whatever it finds.
//
//   kNone        payload = the raw bytes.
//   kLz4         LZ4 block compression, in frames.
//   kShuffleLz4  byte-plane shuffle for 2-byte elements (fp16/bf16: all low
//                bytes, then all high bytes, which hold sign and exponent and
//                compress well), then LZ4, in frames.
//
// Framing. One record is one page, so a page is always decoded on its own,
// never with the rest of its batch. Inside a record the raw bytes are cut into
// frames of kFrameSize, each compressed (and shuffled) independently so that
// LZ4 works on cache-sized blocks and a frame that does not shrink is kept raw:
//
//   0   u32  frame count n
//   4   u32  stored size of frame 0 (bit 31 set: frame stored raw, unshuffled)
//   ...      ... frame n-1
//   4+4n     frame 0 bytes, frame 1 bytes, ...
//
// Frame i covers raw bytes [i*kFrameSize, min((i+1)*kFrameSize, raw_len)).
//
// Thread-safety: the functions are reentrant (scratch space is thread-local).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/codec_id.h"
#include "base/io_slice.h"
#include "base/status.h"

namespace lsm4kv::tensorlog {

using ::lsm4kv::Codec;  // base/codec_id.h

inline constexpr size_t kFrameSize = 256 * 1024;

bool is_known_codec(uint8_t c);
const char* codec_name(Codec c);
// Parses "none", "lz4" or "shuffle-lz4".
bool parse_codec(const std::string& name, Codec* out);

// Upper bound of the encoded size of raw_len bytes (never much above raw_len:
// frames that do not shrink are stored raw).
size_t max_encoded_length(Codec c, size_t raw_len);

// Encodes raw[0, raw_len) into dst, which holds max_encoded_length() bytes.
// Returns the number of bytes written.
size_t encode(Codec c, const char* raw, size_t raw_len, char* dst);

// Decodes stored[0, stored_len) into dst[0, raw_len). Corruption (prefixed by
// `where`) when the frames do not add up to exactly raw_len bytes.
Status decode(Codec c, const char* stored, size_t stored_len, char* dst, size_t raw_len,
              const std::string& where);
// decode() into slices whose sizes sum to raw_len (InvalidArgument if not):
// a stored-raw record is copied straight into them.
Status decode_to_slices(Codec c, const char* stored, size_t stored_len, std::span<const IoSlice> dst,
                        size_t raw_len, const std::string& where);

// Byte-plane shuffle of 2-byte elements; an odd last byte is copied as is.
void shuffle2(const char* src, size_t n, char* dst);
void unshuffle2(const char* src, size_t n, char* dst);

}  // namespace lsm4kv::tensorlog
