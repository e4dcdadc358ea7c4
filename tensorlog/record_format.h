// The on-disk format of the tensor log, in one place.
//
// A tensor log is a directory of segment files "seg-<id>.tlog" (id: 16 decimal
// digits, increasing, never reused). A segment holds records appended in order.
// The segment header and the footer are whole blocks of kAlign (4096) bytes,
// the unit of O_DIRECT I/O. Records are packed (format version 3):
//
//   - a record shorter than kBlockRecordBytes (256 KiB) starts at the next
//     multiple of kRecordAlign (8) and occupies its length rounded up to 8;
//   - a longer one starts at a block boundary and occupies its length rounded
//     up to a block, so that reading it reads its own blocks and nothing more
//     (the reader's O_DIRECT reads into the pinned staging arena stay
//     exactly the record, from which device copies go out), and the record
//     after it starts at a block boundary too. The zeros between a small
//     record and a following large one belong to no record (segment overhead,
//     like the header and the seal, at most 4 KiB per such pair).
//
// Why 256 KiB: a block-aligned record takes up to 4 KiB - 8 of padding, at
// most 1.6% of 256 KiB, while a packed one takes at most 7 bytes; what packing
// costs is read I/O, not space: a packed record is read with the blocks that
// enclose it, up to 8 KiB more than its own bytes (3% at 256 KiB). So KV pages
// of 32..156 KiB (P = 512 tokens of 64..312 B) are packed and pages of a MiB
// and more aligned.
//
// Reused files. A segment's file may be an older segment's, renamed and
// written over from its start (tensor_log.h, "Reused files"): past the new
// records it holds the old ones, whole and with valid checksums but for
// their segment. Every record's checksum (the index record's too) is
// therefore bound to its segment id, XORed with segment_mix(id), a bijection
// of the 64-bit ids: an old record never verifies in its new segment, so
// neither a read nor recovery's scan can take one (nor its footer, which
// names its segment; nor its header, which recovery tells apart, see
// recover_segment). A copy (GC) moves a record byte for byte but for its
// checksum, rebound to the new segment: 8 bytes, no rehash
// (rebind_record()).
//
// Versions: 1 padded every record to a block (16x the bytes of a 250-byte
// record); 2 block-aligned records from 64 KiB on (up to 6% padding on a
// 64 KiB KV page); 3 from 256 KiB on; 4 binds checksums to segments. A segment of another version is refused
// at open (no migration). A version 2 binary thus never misreads a version 3
// segment. Version 2 segments are refused too although their layout could be
// followed (a block-aligned record is 8-aligned as well, and the index record
// holds gaps, not positions): allocated_bytes() would undercount their
// 64..256 KiB records, and the store that wrote them (store format 3) is
// refused at open anyway.
//
// allocated_bytes() is what a record occupies: what live/dead accounting and
// the store's capacity count. A read of a packed record reads the blocks that
// enclose it and copies it out of them.
//
//   segment file
//   +----------------------+ 0
//   | segment header block |  4096 B (SegmentHeader, zero padded)
//   +----------------------+ 4096
//   | record 0             |  placed by next_record_offset(), occupies
//   | record 1             |  allocated_bytes(length); zeros between
//   | ...                  |
//   | index record         |  only in sealed segments: codec kIndexRecord,
//   |                      |  placed right after the last record's allocation
//   | zeros to a block     |
//   | footer block         |  4096 B, only in sealed segments (SegmentFooter)
//   +----------------------+ file size (a multiple of kAlign, but for an
//                             unsealed segment written by plain appends or
//                             torn by a crash)
//
// The shared tail block. Records of consecutive batches share blocks; a
// batch that ends inside a block writes that block padded with zeros, and the
// writer keeps the block's bytes in memory: the next batch writes the block
// again, the earlier records' bytes unchanged followed by its own, in the
// same aligned O_DIRECT write as the rest of its records (the tail page of
// every append-only log). Why that is crash-safe: a power cut during the
// rewrite leaves each 512-byte sector of the block with its old or its new
// bytes (sector writes are atomic: our power-loss model,
// test/support/power_loss_fs.h, keeps or loses whole sectors, and models
// exactly this rewrite of the last synced block), and in both the bytes of
// the earlier, acknowledged records are the same; only bytes past them (zeros
// before, the unacknowledged batch after) differ. So a torn rewrite loses at
// most records of the batch being written, which was not acknowledged, and
// recovery's scan finds every acknowledged record. Within one batch written
// in several pipelined chunks, a chunk writes only its whole blocks and hands
// its partial last block to the next chunk, so two writes in flight never
// cover the same block. A file written by plain appends (a FileSystem whose
// files have no descriptor, or direct_io off) just appends the new bytes: its
// last block is partial on disk and is never written twice.
//
//   SegmentHeader (first 32 bytes of block 0, little endian)
//     0  u64  magic        kSegmentMagic ("TLSEGMT1")
//     8  u32  version      kFormatVersion; another version is refused at open
//                          (no migration)
//     12 u32  align        kAlign
//     16 u64  segment id   must match the file name
//     24 u64  checksum     XXH3-64 of bytes [0, 24)
//
//   Record (starts at next_record_offset(), see above)
//     0  u32  magic        kRecordMagic ("TLR1")
//     4  u8   version      kFormatVersion
//     5  u8   codec        Codec (codec.h); kIndexRecord for a segment index
//     6  u16  tag_len      bytes of the verification tag (<= kMaxTagLen)
//     8  u64  raw_len      payload bytes after decoding
//     16 u64  stored_len   payload bytes on disk (the encoded frames)
//     24 u64  checksum     XXH3-64 over bytes [0, 24), then seeded over tag and
//                          payload (record_checksum()), XORed with
//                          segment_mix(segment id): bound to its segment
//                          (bound_checksum(), see "Reused files" below)
//     32 ...  tag          opaque bytes chosen by the caller (the store puts the
//                          page's namespace, index and chained digests there,
//                          kvcache_api/prefix_key.h); compared on every read
//     32+tag_len  payload  stored_len bytes
//     then zeros up to allocated_bytes()
//
//   Index record payload (sealed segments): varint64 count, then per data record
//   varint64 (offset - end of the previous record's allocation, the first
//   record's "previous end" being kAlign), in bytes (0 for packed records, up
//   to 4088 before a block-aligned one), and varint64 record length.
//
//   SegmentFooter (first 40 bytes of the last block)
//     0  u64  magic        kFooterMagic ("TLFOOTR1")
//     8  u64  segment id
//     16 u64  index offset offset of the index record
//     24 u64  index length record length of the index record
//     32 u64  checksum     XXH3-64 of bytes [0, 32)
//
// A segment is created without a sync; its header is made durable by the
// sync that acknowledges its first batch. A segment whose header block reads
// as zeros therefore holds nothing acknowledged (a crash came first), and
// recovery removes it; any other bad header is corruption. (The 32 header
// bytes lie in the block's first 512-byte sector, so a torn write of the
// block leaves them whole or zero, never half.)
//
// A Location (segment, offset, record length) names a record; it is what the
// store keeps in its index. Records carry no position, so a batch is encoded
// before it is placed (for the position the writer expects, re-laid out when
// that guess was wrong) and GC can copy a record byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace lsm4kv::tensorlog {

inline constexpr uint64_t kAlign = 4096;
inline constexpr uint64_t kRecordAlign = 8;
// Records at least this long start at a block boundary (see above).
inline constexpr uint64_t kBlockRecordBytes = uint64_t{256} << 10;
inline constexpr uint32_t kFormatVersion = 4;
inline constexpr uint64_t kSegmentMagic = 0x31544d4745534c54ull;  // "TLSEGMT1"
inline constexpr uint64_t kFooterMagic = 0x3152544f4f464c54ull;   // "TLFOOTR1"
inline constexpr uint32_t kRecordMagic = 0x31524c54u;             // "TLR1"
inline constexpr size_t kRecordHeaderSize = 32;
inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr size_t kFooterSize = 40;
inline constexpr size_t kMaxTagLen = 3072;  // header + tag always fit in one block
inline constexpr uint8_t kIndexRecord = 0x7f;

inline constexpr uint64_t align_up(uint64_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
inline constexpr uint64_t align_down(uint64_t n) { return n & ~(kAlign - 1); }
inline constexpr uint64_t record_align_up(uint64_t n) {
  return (n + kRecordAlign - 1) & ~(kRecordAlign - 1);
}
inline constexpr bool block_aligned_record(uint64_t length) { return length >= kBlockRecordBytes; }
// The bytes a record of `length` (header + tag + payload) occupies in its segment.
inline constexpr uint64_t allocated_bytes(uint64_t length) {
  return block_aligned_record(length) ? align_up(length) : record_align_up(length);
}
// Where a record of `length` goes when the segment's records end at `end`.
inline constexpr uint64_t next_record_offset(uint64_t end, uint64_t length) {
  return block_aligned_record(length) ? align_up(end) : record_align_up(end);
}

// Where one record lives. `length` is the unpadded record length (header + tag
// + payload); it occupies allocated_bytes(length) bytes of its segment.
struct Location {
  uint64_t segment = 0;
  uint64_t offset = 0;
  uint64_t length = 0;

  // Compact varint form for the store's index: about 7-12 bytes.
  static constexpr size_t kMaxEncodedLength = 30;
  void encode_to(std::string* dst) const;
  // Consumes one encoded Location from the front of *in; false if malformed.
  bool decode_from(std::string_view* in);
  std::string to_string() const;  // "segment 7 offset 81920 length 65600"

  friend bool operator==(const Location&, const Location&) = default;
  friend auto operator<=>(const Location& a, const Location& b) {
    if (a.segment != b.segment) return a.segment <=> b.segment;
    return a.offset <=> b.offset;
  }
};

inline uint64_t allocated_bytes(const Location& l) { return allocated_bytes(l.length); }

struct RecordHeader {
  uint8_t codec = 0;
  uint16_t tag_len = 0;
  uint64_t raw_len = 0;
  uint64_t stored_len = 0;
  uint64_t checksum = 0;

  uint64_t record_length() const { return kRecordHeaderSize + tag_len + stored_len; }
  // Writes the 32 header bytes (checksum field included) to dst.
  void encode(char* dst) const;
  // Parses 32 bytes; Corruption (naming `where`) on a bad magic or version.
  Status decode(const char* src, const std::string& where);
};

// The checksum of a record: header bytes [0, 24) then tag and payload.
// `record` points at the start of the record, which is `length` bytes long.
uint64_t record_checksum(const char* record, uint64_t length);

// A bijection of segment ids with segment_mix(0) == 0: what binds a record's
// checksum to its segment (see "Reused files" above).
inline constexpr uint64_t segment_mix(uint64_t id) {
  id ^= id >> 33;
  id *= 0xff51afd7ed558ccdull;
  id ^= id >> 33;
  id *= 0xc4ceb9fe1a85ec53ull;
  id ^= id >> 33;
  return id;
}
// The checksum a record of `segment` stores: record_checksum() bound to it.
inline uint64_t bound_checksum(const char* record, uint64_t length, uint64_t segment) {
  return record_checksum(record, length) ^ segment_mix(segment);
}
// Rebinds the checksum stored in a record's header from segment `from` to
// segment `to` (0: unbound, as encode_batch leaves records before the
// writer places them).
void rebind_record(char* record, uint64_t from, uint64_t to);

// Verifies a whole record read from disk at `loc` (the buffer holds at least
// loc.length bytes): magic, version, lengths against loc.length, checksum
// (bound to loc.segment).
// On success fills *hdr. Errors are Corruption and name segment and offset.
Status verify_record(const char* record, const Location& loc, RecordHeader* hdr);

void encode_segment_header(uint64_t segment_id, char* block);  // block: kAlign bytes
// Corruption for a bad header; NotSupported (naming both versions) for a
// segment of another format version.
Status decode_segment_header(const char* block, uint64_t segment_id, const std::string& where);
// True when block is a sound header of this format naming a segment other
// than segment_id.
bool names_other_segment(const char* block, uint64_t segment_id);
void encode_footer(uint64_t segment_id, uint64_t index_offset, uint64_t index_length,
                   char* block);
// False when the block is not a valid footer of this segment (an unsealed segment).
bool decode_footer(const char* block, uint64_t segment_id, uint64_t* index_offset,
                   uint64_t* index_length);

std::string segment_file_name(uint64_t id);  // "seg-0000000000000007.tlog"
// True (and *id set) when name is a segment file name.
bool parse_segment_file_name(std::string_view name, uint64_t* id);

}  // namespace lsm4kv::tensorlog
