// The on-disk format of a sorted run, byte by byte, with the encode/decode
// pair of every part. All integers are little-endian; "varint" is the LEB128
// encoding of base/coding.h.
//
// A sorted run file:
//
//   offset 0  +--------------------------------------+
//             | data block 0        | trailer (9 B)  |   entries, sorted by user key
//             | data block 1        | trailer        |
//             | ...                                  |
//             | data block n-1      | trailer        |
//             +--------------------------------------+
//             | range-tombstone block | trailer      |   FragmentedTombstones::encode_to
//             | filter block          | trailer      |   Bloom filter (bloom.h), may be empty
//             | index block           | trailer      |   fence pointers (below)
//             | properties block      | trailer      |   RunProperties (below)
//             +--------------------------------------+
//             | footer (kFooterSize = 84 B)          |
//   file end  +--------------------------------------+
//
// Data blocks are contiguous from offset 0, and the four tail blocks follow
// each other in this order; the footer names the tail blocks, the index names
// the data blocks. A BlockHandle's size counts the block contents only; the
// trailer follows at offset + size.
//
// Block trailer (every block but the footer), kBlockTrailerSize = 9 bytes:
//   u8   block type: kNoCompression (0) is the only one defined
//   u64  XXH3-64 of (block contents || block type byte)
//
// Data block (block_builder.h writes it, block.h reads it):
//   entry*  restart_offset: u32 * R  restart_count R: u32
//   entry = varint32 shared | varint32 unshared | varint32 value_len
//           | key_delta[unshared] | value_part[value_len]
//   value_part = varint64 tag | user value      tag = seq << 1 | type
//   Entry 0 stores its whole key (shared = 0); it is the block's BASE KEY.
//   At a restart point (every restart_interval entries, the first being entry
//   0) `shared` counts bytes shared with the base key; elsewhere bytes shared
//   with the previous key. Unlike LevelDB, whose restart keys are stored
//   whole, a restart key is then still decodable on its own (base[0, shared)
//   + delta) for the binary search, while keys that share long prefixes
//   (chained 8-byte fingerprints) cost about their unshared bytes everywhere.
//
// Index block (the fence pointers), one fence per data block in file order:
//   varint64 count, then per fence:
//     varint32 shared | varint32 unshared | bytes   first key, sharing with the
//                                                   previous fence's last key
//     varint32 shared | varint32 unshared | bytes   last key, sharing with this
//                                                   fence's first key
//     varint64 offset | varint64 size               the data block's handle
//
// Properties block: RunProperties::encode_to, fields in declaration order.
//
// Footer, kFooterSize = 84 bytes:
//   0   u64 offset, u64 size   range-tombstone block handle
//   16  u64 offset, u64 size   filter block handle
//   32  u64 offset, u64 size   index block handle
//   48  u64 offset, u64 size   properties block handle
//   64  u32                    format version (kRunFormatVersion)
//   68  u64                    XXH3-64 of footer bytes [0, 68)
//   76  u64                    magic number (kRunMagic)
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/entry.h"

namespace lsm4kv::engine {

constexpr uint64_t kRunMagic = 0x4e52564b344d534cull;  // the bytes "LSM4KVRN"
constexpr uint32_t kRunFormatVersion = 1;
constexpr size_t kBlockTrailerSize = 9;
constexpr size_t kFooterSize = 84;
constexpr uint8_t kNoCompression = 0;

// Where a block lies in its file: [offset, offset + size), trailer excluded.
struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t end_with_trailer() const { return offset + size + kBlockTrailerSize; }
  bool operator==(const BlockHandle&) const = default;
};

// Turns `contents` into a stored block: appends the trailer in place.
void append_block_trailer(std::string* contents);
// Checks the trailer of a stored block, `size` content bytes at `data`
// followed by kBlockTrailerSize trailer bytes. Returns Corruption with a
// message naming `what` on a bad checksum or an unknown block type.
Status check_block_trailer(const char* data, size_t size, std::string_view what);

struct Footer {
  BlockHandle range_del;
  BlockHandle filter;
  BlockHandle index;
  BlockHandle properties;
  uint32_t version = kRunFormatVersion;

  void encode_to(std::string* dst) const;  // appends exactly kFooterSize bytes
  // REQUIRES: in.size() == kFooterSize. Checks magic, checksum and version,
  // and that the tail blocks lie in order in [0, footer_offset).
  static Status decode_from(std::string_view in, uint64_t footer_offset, Footer* out);
};

// What a run holds, written once at the end of the build.
struct RunProperties {
  uint64_t entries = 0;          // point entries (puts and deletes)
  uint64_t data_blocks = 0;
  uint64_t data_bytes = 0;       // data blocks with their trailers
  uint64_t raw_key_bytes = 0;    // user keys before prefix compression
  uint64_t raw_value_bytes = 0;  // user values
  uint64_t tombstone_fragments = 0;
  std::string smallest;          // smallest point key ("" when entries == 0)
  std::string largest;           // largest point key
  SequenceNumber min_seq = 0;    // over point entries and range tombstones
  SequenceNumber max_seq = 0;
  double bloom_bits_per_key = 0;  // as configured; 0 = no filter
  uint32_t restart_interval = 0;
  uint64_t block_size = 0;        // target data block size

  void encode_to(std::string* dst) const;
  static Status decode_from(std::string_view in, RunProperties* out);
};

// Writes the index block one fence at a time.
class IndexBlockBuilder {
 public:
  // REQUIRES: first <= last, first > the previous fence's last key.
  void add(std::string_view first, std::string_view last, BlockHandle handle);
  // The block contents; the builder is spent afterwards.
  std::string finish();
  size_t size_estimate() const { return body_.size() + 10; }

 private:
  std::string body_;
  std::string prev_last_;
  uint64_t count_ = 0;
};

// The index block decoded into memory: for every data block its first and
// last key and its handle. All keys live in one buffer, so the cost is the
// key bytes plus sizeof(Fence) per block.
//
// INVARIANT: first(i) <= last(i) < first(i + 1); block i starts where block
// i - 1 (with its trailer) ends, block 0 at offset 0.
class FencePointers {
 public:
  // Decodes and validates an index block whose data blocks must end at
  // `data_end` (where the range-tombstone block starts).
  static Status decode_from(std::string_view in, uint64_t data_end, FencePointers* out);

  size_t size() const { return fences_.size(); }
  std::string_view first(size_t i) const {
    return {keys_.data() + fences_[i].key_offset, fences_[i].first_len};
  }
  std::string_view last(size_t i) const {
    const Fence& f = fences_[i];
    return {keys_.data() + f.key_offset + f.first_len, f.last_len};
  }
  BlockHandle handle(size_t i) const { return {fences_[i].offset, fences_[i].size}; }
  // The first block whose last key >= key, or size() when none.
  size_t lower_bound(std::string_view key) const;
  // The last block whose first key <= key, or size() when none.
  size_t last_starting_at_or_before(std::string_view key) const;
  size_t memory_bytes() const { return keys_.capacity() + fences_.capacity() * sizeof(Fence); }

 private:
  struct Fence {
    uint64_t offset;
    uint64_t key_offset;  // of the first key in keys_; the last key follows it
    uint32_t size;
    uint32_t first_len;
    uint32_t last_len;
  };
  std::string keys_;
  std::vector<Fence> fences_;
};

}  // namespace lsm4kv::engine
