// Fuzz target: the small decoders of a sorted run's tail (engine/run_format.h
// and the range-tombstone block of engine/range_tombstones.h).
//
// Input: one selector byte; selector % 6 picks the part, the rest is its input.
//   0 footer      84 bytes + a u64 footer offset. A footer that decodes
//                 re-encodes to the same 84 bytes.
//   1 footer RT   four block sizes -> encode -> decode == the footer; any one
//                 flipped byte (position from the input) fails to decode.
//   2 properties  decode; a decoded value re-encodes and decodes to itself.
//   3 index       decode fence pointers (data_end from the input); a decoded
//                 index keeps its invariant, re-encodes with
//                 IndexBlockBuilder to the same fences, and its two binary
//                 searches agree with a linear scan.
//   4 tombstones  decode; decode(encode(x)) == x; tombstones cut from the
//                 bytes fragment into fragments whose max_covering_seq equals
//                 a brute-force answer, and with() equals cutting from scratch.
//   5 trailer     check_block_trailer on arbitrary bytes; a trailer appended
//                 by append_block_trailer checks, one flipped byte does not.
#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "base/coding.h"
#include "engine/range_tombstones.h"
#include "engine/run_format.h"
#include "test/fuzz/fuzz_util.h"

using namespace lsm4kv::engine;
using lsm4kv::Status;
using lsm4kv::fuzz::Input;

namespace {

void footer(Input* in) {
  std::string bytes(in->take(kFooterSize));
  uint64_t footer_offset = in->u64();
  Footer f;
  if (!Footer::decode_from(bytes, footer_offset, &f).ok()) return;
  std::string again;
  f.encode_to(&again);
  FUZZ_CHECK(again == bytes);
  FUZZ_CHECK(f.properties.end_with_trailer() == footer_offset);
}

void footer_round_trip(Input* in) {
  Footer f;
  uint64_t pos = in->u64() >> 8;  // where the data blocks end
  for (BlockHandle* h : {&f.range_del, &f.filter, &f.index, &f.properties}) {
    h->offset = pos;
    h->size = in->u64() >> 12;
    pos = h->end_with_trailer();
  }
  std::string bytes;
  f.encode_to(&bytes);
  FUZZ_CHECK(bytes.size() == kFooterSize);
  Footer g;
  Status s = Footer::decode_from(bytes, pos, &g);
  FUZZ_CHECK(s.ok());
  FUZZ_CHECK(g.range_del == f.range_del && g.filter == f.filter && g.index == f.index &&
             g.properties == f.properties && g.version == f.version);
  // Anywhere else but where the blocks end, the footer does not fit.
  uint64_t other = in->u64();
  if (other != pos) FUZZ_CHECK(!Footer::decode_from(bytes, other, &g).ok());
  size_t at = in->byte() % kFooterSize;
  uint8_t flip = in->byte() | 1;
  bytes[at] = static_cast<char>(bytes[at] ^ flip);
  FUZZ_CHECK(!Footer::decode_from(bytes, pos, &g).ok());
}

std::string encoded(const RunProperties& p) {
  std::string s;
  p.encode_to(&s);
  return s;
}

void properties(Input* in) {
  RunProperties p;
  if (!RunProperties::decode_from(in->rest(), &p).ok()) return;
  FUZZ_CHECK(p.min_seq <= p.max_seq);
  std::string bytes = encoded(p);
  RunProperties q;
  FUZZ_CHECK(RunProperties::decode_from(bytes, &q).ok());
  FUZZ_CHECK(encoded(q) == bytes);
  FUZZ_CHECK(q.entries == p.entries && q.smallest == p.smallest && q.largest == p.largest &&
             q.min_seq == p.min_seq && q.max_seq == p.max_seq &&
             std::bit_cast<uint64_t>(q.bloom_bits_per_key) ==
                 std::bit_cast<uint64_t>(p.bloom_bits_per_key) &&
             q.restart_interval == p.restart_interval && q.block_size == p.block_size);
}

void check_fences(const FencePointers& fp, uint64_t data_end) {
  uint64_t offset = 0;
  for (size_t i = 0; i < fp.size(); i++) {
    FUZZ_CHECK(fp.first(i) <= fp.last(i));
    if (i > 0) FUZZ_CHECK(fp.last(i - 1) < fp.first(i));
    FUZZ_CHECK(fp.handle(i).offset == offset);
    offset = fp.handle(i).end_with_trailer();
  }
  FUZZ_CHECK(offset == data_end);
}

void check_searches(const FencePointers& fp, std::string_view key) {
  size_t lb = fp.size();
  for (size_t i = 0; i < fp.size(); i++) {
    if (fp.last(i) >= key) {
      lb = i;
      break;
    }
  }
  FUZZ_CHECK(fp.lower_bound(key) == lb);
  size_t lsb = fp.size();
  for (size_t i = 0; i < fp.size(); i++)
    if (fp.first(i) <= key) lsb = i;
  FUZZ_CHECK(fp.last_starting_at_or_before(key) == lsb);
}

void index_block(Input* in) {
  uint64_t data_end = in->byte();
  if (data_end & 0x80) data_end = in->u64();
  std::string_view bytes = in->rest();
  FencePointers fp;
  if (!FencePointers::decode_from(bytes, data_end, &fp).ok()) return;
  check_fences(fp, data_end);
  IndexBlockBuilder b;
  for (size_t i = 0; i < fp.size(); i++) b.add(fp.first(i), fp.last(i), fp.handle(i));
  std::string again = b.finish();
  FencePointers fq;
  FUZZ_CHECK(FencePointers::decode_from(again, data_end, &fq).ok());
  FUZZ_CHECK(fq.size() == fp.size());
  for (size_t i = 0; i < fp.size(); i++) {
    FUZZ_CHECK(fq.first(i) == fp.first(i) && fq.last(i) == fp.last(i) &&
               fq.handle(i) == fp.handle(i));
    check_searches(fp, fp.first(i));
    check_searches(fp, fp.last(i));
    check_searches(fp, std::string(fp.last(i)) + '\0');
  }
  check_searches(fp, "");
  check_searches(fp, bytes.substr(0, 5));
}

SequenceNumber brute_force(const std::vector<RangeTombstone>& ts, std::string_view key) {
  SequenceNumber m = 0;
  for (const RangeTombstone& t : ts)
    if (t.begin <= key && key < t.end && t.seq > m) m = t.seq;
  return m;
}

void tombstones(Input* in) {
  uint8_t mode = in->byte();
  if (mode & 1) {
    FragmentedTombstones t;
    if (!FragmentedTombstones::decode_from(in->rest(), &t).ok()) return;
    std::string bytes;
    t.encode_to(&bytes);
    FragmentedTombstones u;
    FUZZ_CHECK(FragmentedTombstones::decode_from(bytes, &u).ok());
    FUZZ_CHECK(u == t);
    return;
  }
  // Tombstones over a tiny alphabet, so that they overlap a lot.
  std::vector<RangeTombstone> ts;
  std::vector<std::string> probes{""};
  while (in->left() > 0) {
    RangeTombstone t;
    t.begin = std::string(in->take(in->byte() % 4));
    t.end = std::string(in->take(in->byte() % 4));
    t.seq = in->byte() % 8;
    probes.push_back(t.begin);
    probes.push_back(t.end);
    probes.push_back(t.begin + '\0');
    ts.push_back(std::move(t));
  }
  FragmentedTombstones all(ts);
  FragmentedTombstones incremental;
  for (const RangeTombstone& t : ts) incremental = incremental.with(t);
  FUZZ_CHECK(incremental == all);
  const auto& f = all.fragments();
  for (size_t i = 0; i < f.size(); i++) {
    FUZZ_CHECK(f[i].begin < f[i].end);
    if (i > 0) FUZZ_CHECK(f[i - 1].end <= f[i].begin);
  }
  for (const std::string& k : probes) FUZZ_CHECK(all.max_covering_seq(k) == brute_force(ts, k));
  std::string bytes;
  all.encode_to(&bytes);
  FragmentedTombstones back;
  FUZZ_CHECK(FragmentedTombstones::decode_from(bytes, &back).ok());
  FUZZ_CHECK(back == all);
}

void trailer(Input* in) {
  uint8_t mode = in->byte();
  std::string bytes(in->rest());
  if (bytes.size() >= kBlockTrailerSize) {
    Status s = check_block_trailer(bytes.data(), bytes.size() - kBlockTrailerSize, "fuzz block");
    if (!s.ok()) FUZZ_CHECK(s.is_corruption());
  }
  std::string block = bytes;
  append_block_trailer(&block);
  FUZZ_CHECK(block.size() == bytes.size() + kBlockTrailerSize);
  FUZZ_CHECK(check_block_trailer(block.data(), bytes.size(), "fuzz block").ok());
  size_t at = mode % block.size();
  block[at] = static_cast<char>(block[at] ^ 0x20);
  FUZZ_CHECK(!check_block_trailer(block.data(), bytes.size(), "fuzz block").ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  switch (in.byte() % 6) {
    case 0: footer(&in); break;
    case 1: footer_round_trip(&in); break;
    case 2: properties(&in); break;
    case 3: index_block(&in); break;
    case 4: tombstones(&in); break;
    case 5: trailer(&in); break;
  }
  return 0;
}
