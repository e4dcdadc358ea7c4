#include "engine/run_format.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "base/checksum.h"
#include "base/coding.h"

namespace lsm4kv::engine {

namespace {

constexpr size_t kFooterChecksumOffset = 68;

void put_handle_fixed(std::string* dst, BlockHandle h) {
  put_fixed64(dst, h.offset);
  put_fixed64(dst, h.size);
}

BlockHandle decode_handle_fixed(const char* p) {
  return {decode_fixed64(p), decode_fixed64(p + 8)};
}

std::string at(uint64_t offset) { return " at offset " + std::to_string(offset); }

}  // namespace

void append_block_trailer(std::string* contents) {
  contents->push_back(static_cast<char>(kNoCompression));
  uint64_t sum = checksum64(contents->data(), contents->size());
  put_fixed64(contents, sum);
}

Status check_block_trailer(const char* data, size_t size, std::string_view what) {
  uint64_t expected = decode_fixed64(data + size + 1);
  if (checksum64(data, size + 1) != expected) {
    return Status::corruption(std::string(what) + ": block checksum mismatch");
  }
  if (static_cast<uint8_t>(data[size]) != kNoCompression) {
    return Status::corruption(std::string(what) + ": unknown block type " +
                              std::to_string(static_cast<uint8_t>(data[size])));
  }
  return Status::OK();
}

// ---- Footer ----

void Footer::encode_to(std::string* dst) const {
  size_t start = dst->size();
  put_handle_fixed(dst, range_del);
  put_handle_fixed(dst, filter);
  put_handle_fixed(dst, index);
  put_handle_fixed(dst, properties);
  put_fixed32(dst, version);
  put_fixed64(dst, checksum64(dst->data() + start, kFooterChecksumOffset));
  put_fixed64(dst, kRunMagic);
}

Status Footer::decode_from(std::string_view in, uint64_t footer_offset, Footer* out) {
  const char* p = in.data();
  if (in.size() != kFooterSize) return Status::corruption("footer: wrong size");
  if (decode_fixed64(p + kFooterChecksumOffset + 8) != kRunMagic) {
    return Status::corruption("footer: bad magic number (not a sorted run, or truncated)");
  }
  if (checksum64(p, kFooterChecksumOffset) != decode_fixed64(p + kFooterChecksumOffset)) {
    return Status::corruption("footer: checksum mismatch");
  }
  Footer f;
  f.range_del = decode_handle_fixed(p);
  f.filter = decode_handle_fixed(p + 16);
  f.index = decode_handle_fixed(p + 32);
  f.properties = decode_handle_fixed(p + 48);
  f.version = decode_fixed32(p + 64);
  if (f.version != kRunFormatVersion) {
    return Status::corruption("footer: unsupported format version " + std::to_string(f.version));
  }
  // The tail blocks must follow each other and end where the footer starts.
  // Checked piecewise so that huge values cannot overflow.
  uint64_t pos = f.range_del.offset;
  for (const BlockHandle* h : {&f.range_del, &f.filter, &f.index, &f.properties}) {
    if (h->offset != pos || pos > footer_offset ||
        footer_offset - pos < kBlockTrailerSize ||
        h->size > footer_offset - pos - kBlockTrailerSize) {
      return Status::corruption("footer: block handle out of range" + at(h->offset));
    }
    pos = h->end_with_trailer();
  }
  if (pos != footer_offset) return Status::corruption("footer: tail blocks do not reach footer");
  *out = f;
  return Status::OK();
}

// ---- RunProperties ----

void RunProperties::encode_to(std::string* dst) const {
  for (uint64_t v : {entries, data_blocks, data_bytes, raw_key_bytes, raw_value_bytes,
                     tombstone_fragments}) {
    put_varint64(dst, v);
  }
  put_length_prefixed(dst, smallest);
  put_length_prefixed(dst, largest);
  put_varint64(dst, min_seq);
  put_varint64(dst, max_seq);
  put_fixed64(dst, std::bit_cast<uint64_t>(bloom_bits_per_key));
  put_varint32(dst, restart_interval);
  put_varint64(dst, block_size);
}

Status RunProperties::decode_from(std::string_view in, RunProperties* out) {
  RunProperties p;
  std::string_view small, large;
  uint64_t bloom_bits;
  bool ok = true;
  for (uint64_t* v : {&p.entries, &p.data_blocks, &p.data_bytes, &p.raw_key_bytes,
                      &p.raw_value_bytes, &p.tombstone_fragments}) {
    ok = ok && get_varint64(&in, v);
  }
  ok = ok && get_length_prefixed(&in, &small) && get_length_prefixed(&in, &large) &&
       get_varint64(&in, &p.min_seq) && get_varint64(&in, &p.max_seq) &&
       get_fixed64(&in, &bloom_bits) && get_varint32(&in, &p.restart_interval) &&
       get_varint64(&in, &p.block_size);
  if (!ok) return Status::corruption("properties block: truncated");
  p.bloom_bits_per_key = std::bit_cast<double>(bloom_bits);
  if (!(p.bloom_bits_per_key >= 0 && p.bloom_bits_per_key < 1e6) || p.min_seq > p.max_seq ||
      (p.entries > 0 && small > large)) {
    return Status::corruption("properties block: inconsistent values");
  }
  p.smallest = small;
  p.largest = large;
  *out = std::move(p);
  return Status::OK();
}

// ---- Index block ----

namespace {

// Appends `key` as (shared with base, unshared, delta).
void put_delta_key(std::string* dst, std::string_view base, std::string_view key) {
  size_t shared = 0;
  size_t n = std::min(base.size(), key.size());
  while (shared < n && base[shared] == key[shared]) shared++;
  put_varint32(dst, static_cast<uint32_t>(shared));
  put_varint32(dst, static_cast<uint32_t>(key.size() - shared));
  dst->append(key.data() + shared, key.size() - shared);
}

// Appends the key stored as a delta against `base` to *keys (which must not
// hold `base`).
bool get_delta_key(std::string_view* in, std::string_view base, std::string* keys) {
  uint32_t shared, unshared;
  if (!get_varint32(in, &shared) || !get_varint32(in, &unshared)) return false;
  if (shared > base.size() || unshared > in->size()) return false;
  keys->append(base.data(), shared);
  keys->append(in->data(), unshared);
  in->remove_prefix(unshared);
  return true;
}

}  // namespace

void IndexBlockBuilder::add(std::string_view first, std::string_view last, BlockHandle handle) {
  put_delta_key(&body_, prev_last_, first);
  put_delta_key(&body_, first, last);
  put_varint64(&body_, handle.offset);
  put_varint64(&body_, handle.size);
  prev_last_.assign(last.data(), last.size());
  count_++;
}

std::string IndexBlockBuilder::finish() {
  std::string out;
  put_varint64(&out, count_);
  out += body_;
  return out;
}

Status FencePointers::decode_from(std::string_view in, uint64_t data_end, FencePointers* out) {
  uint64_t count;
  // Every fence takes at least 6 bytes, so a count beyond that is corrupt.
  if (!get_varint64(&in, &count) || count > in.size() / 6) {
    return Status::corruption("index block: bad fence count");
  }
  FencePointers fp;
  fp.fences_.reserve(count);
  std::string prev_last;
  uint64_t expected_offset = 0;
  for (uint64_t i = 0; i < count; i++) {
    Fence f{};
    f.key_offset = fp.keys_.size();
    std::string first, last;
    uint64_t offset, size;
    if (!get_delta_key(&in, prev_last, &first) || !get_delta_key(&in, first, &last) ||
        !get_varint64(&in, &offset) || !get_varint64(&in, &size)) {
      return Status::corruption("index block: truncated fence " + std::to_string(i));
    }
    if (first > last || (i > 0 && !(prev_last < first))) {
      return Status::corruption("index block: fence keys out of order at fence " +
                                std::to_string(i));
    }
    if (offset != expected_offset || size > UINT32_MAX || offset > data_end ||
        data_end - offset < kBlockTrailerSize || size > data_end - offset - kBlockTrailerSize) {
      return Status::corruption("index block: bad handle of data block " + std::to_string(i) +
                                at(offset));
    }
    f.offset = offset;
    f.size = static_cast<uint32_t>(size);
    f.first_len = static_cast<uint32_t>(first.size());
    f.last_len = static_cast<uint32_t>(last.size());
    fp.keys_ += first;
    fp.keys_ += last;
    fp.fences_.push_back(f);
    expected_offset = offset + size + kBlockTrailerSize;
    prev_last = std::move(last);
  }
  if (expected_offset != data_end || !in.empty()) {
    return Status::corruption("index block: data blocks do not end at the tail blocks");
  }
  fp.keys_.shrink_to_fit();
  *out = std::move(fp);
  return Status::OK();
}

size_t FencePointers::lower_bound(std::string_view key) const {
  size_t lo = 0, hi = fences_.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (last(mid) < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

size_t FencePointers::last_starting_at_or_before(std::string_view key) const {
  size_t lo = 0, hi = fences_.size();  // find the first block with first > key
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (first(mid) <= key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo == 0 ? fences_.size() : lo - 1;
}

}  // namespace lsm4kv::engine
