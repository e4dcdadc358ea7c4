#include "tensorlog/codec.h"

#include <lz4.h>

#include <cstring>
#include <vector>

#include "base/coding.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace lsm4kv::tensorlog {
namespace {

constexpr uint32_t kRawFrameBit = 0x80000000u;

size_t frame_count(size_t raw_len) { return (raw_len + kFrameSize - 1) / kFrameSize; }

char* scratch() {
  thread_local std::vector<char> buf(kFrameSize);
  return buf.data();
}

}  // namespace

bool is_known_codec(uint8_t c) { return c <= static_cast<uint8_t>(Codec::kShuffleLz4); }

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::kNone: return "none";
    case Codec::kLz4: return "lz4";
    case Codec::kShuffleLz4: return "shuffle-lz4";
  }
  return "unknown";
}

bool parse_codec(const std::string& name, Codec* out) {
  for (Codec c : {Codec::kNone, Codec::kLz4, Codec::kShuffleLz4}) {
    if (name == codec_name(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

void shuffle2(const char* src, size_t n, char* dst) {
  size_t half = n / 2;
  char* lo = dst;
  char* hi = dst + half;
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i mask = _mm_set1_epi16(0x00ff);
  for (; i + 16 <= half; i += 16) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i + 16));
    __m128i l = _mm_packus_epi16(_mm_and_si128(a, mask), _mm_and_si128(b, mask));
    __m128i h = _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(lo + i), l);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(hi + i), h);
  }
#endif
  for (; i < half; ++i) {
    lo[i] = src[2 * i];
    hi[i] = src[2 * i + 1];
  }
  if (n % 2) dst[n - 1] = src[n - 1];
}

void unshuffle2(const char* src, size_t n, char* dst) {
  size_t half = n / 2;
  const char* lo = src;
  const char* hi = src + half;
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= half; i += 16) {
    __m128i l = _mm_loadu_si128(reinterpret_cast<const __m128i*>(lo + i));
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(hi + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * i), _mm_unpacklo_epi8(l, h));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * i + 16), _mm_unpackhi_epi8(l, h));
  }
#endif
  for (; i < half; ++i) {
    dst[2 * i] = lo[i];
    dst[2 * i + 1] = hi[i];
  }
  if (n % 2) dst[n - 1] = src[n - 1];
}

size_t max_encoded_length(Codec c, size_t raw_len) {
  if (c == Codec::kNone) return raw_len;
  return 4 + 4 * frame_count(raw_len) + raw_len;
}

size_t encode(Codec c, const char* raw, size_t raw_len, char* dst) {
  if (c == Codec::kNone) {
    std::memcpy(dst, raw, raw_len);
    return raw_len;
  }
  size_t n = frame_count(raw_len);
  encode_fixed32(dst, static_cast<uint32_t>(n));
  char* table = dst + 4;
  char* out = table + 4 * n;
  for (size_t i = 0; i < n; ++i) {
    size_t off = i * kFrameSize;
    size_t len = std::min(kFrameSize, raw_len - off);
    const char* src = raw + off;
    if (c == Codec::kShuffleLz4) {
      shuffle2(src, len, scratch());
      src = scratch();
    }
    // Capacity len - 1: a frame that does not shrink is stored raw instead.
    int got = len > 1 ? LZ4_compress_default(src, out, static_cast<int>(len),
                                             static_cast<int>(len - 1))
                      : 0;
    uint32_t entry;
    if (got > 0) {
      entry = static_cast<uint32_t>(got);
    } else {
      std::memcpy(out, raw + off, len);
      got = static_cast<int>(len);
      entry = static_cast<uint32_t>(len) | kRawFrameBit;
    }
    encode_fixed32(table + 4 * i, entry);
    out += got;
  }
  return static_cast<size_t>(out - dst);
}

Status decode(Codec c, const char* stored, size_t stored_len, char* dst, size_t raw_len,
              const std::string& where) {
  if (c == Codec::kNone) {
    if (stored_len != raw_len) return Status::corruption(where + ": stored length != raw length");
    std::memcpy(dst, stored, raw_len);
    return Status::OK();
  }
  if (c != Codec::kLz4 && c != Codec::kShuffleLz4)
    return Status::corruption(where + ": unknown codec");
  size_t n = frame_count(raw_len);
  if (stored_len < 4 || decode_fixed32(stored) != n || stored_len < 4 + 4 * n)
    return Status::corruption(where + ": bad frame table");
  const char* in = stored + 4 + 4 * n;
  const char* end = stored + stored_len;
  for (size_t i = 0; i < n; ++i) {
    uint32_t entry = decode_fixed32(stored + 4 + 4 * i);
    size_t flen = entry & ~kRawFrameBit;
    size_t off = i * kFrameSize;
    size_t len = std::min(kFrameSize, raw_len - off);
    if (flen > static_cast<size_t>(end - in))
      return Status::corruption(where + ": frame " + std::to_string(i) + " past the payload");
    if (entry & kRawFrameBit) {
      if (flen != len) return Status::corruption(where + ": raw frame of wrong size");
      std::memcpy(dst + off, in, len);
    } else {
      char* target = c == Codec::kShuffleLz4 ? scratch() : dst + off;
      int got = LZ4_decompress_safe(in, target, static_cast<int>(flen), static_cast<int>(len));
      if (got < 0 || static_cast<size_t>(got) != len)
        return Status::corruption(where + ": frame " + std::to_string(i) + " does not decode");
      if (c == Codec::kShuffleLz4) unshuffle2(target, len, dst + off);
    }
    in += flen;
  }
  if (in != end) return Status::corruption(where + ": trailing bytes after the last frame");
  return Status::OK();
}

Status decode_to_slices(Codec c, const char* stored, size_t stored_len, std::span<const IoSlice> dst,
                        size_t raw_len, const std::string& where) {
  size_t total = 0;
  for (const IoSlice& s : dst) total += s.size;
  if (total != raw_len)
    return Status::invalid_argument(where + ": destination slices of " + std::to_string(total) +
                                    " bytes for a record of " + std::to_string(raw_len));
  if (c == Codec::kNone) {
    if (stored_len != raw_len) return Status::corruption(where + ": stored length != raw length");
    scatter_copy(stored, dst);
    return Status::OK();
  }
  std::vector<char> whole(raw_len);  // frames decode whole
  LSM4KV_RETURN_IF_ERROR(decode(c, stored, stored_len, whole.data(), raw_len, where));
  scatter_copy(whole.data(), dst);
  return Status::OK();
}

}  // namespace lsm4kv::tensorlog
