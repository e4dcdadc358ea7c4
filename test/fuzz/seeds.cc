// fuzz_seeds: writes the seed corpora of the fuzz targets (one folder per
// target under the directory given) from the real encoders, so that every
// target starts from valid files and only has to learn the damage.
//
//   fuzz_seeds test/fuzz/corpus
//
// Each seed is the target's selector byte(s) followed by the bytes of its
// mode (see the comment at the top of each *_fuzz.cc). File names are
// descriptive and stable, so rerunning the program rewrites the same files.
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "base/coding.h"
#include "engine/block_builder.h"
#include "engine/bloom.h"
#include "engine/log_format.h"
#include "engine/range_tombstones.h"
#include "engine/run_builder.h"
#include "engine/run_format.h"
#include "engine/version_edit.h"
#include "engine/write_batch.h"
#include "kvcache_api/prefix_key.h"
#include "tensorlog/codec.h"
#include "tensorlog/record_format.h"
#include "tensorlog/segment.h"
#include "test/fuzz/fuzz_util.h"
#include "test/fuzz/record_util.h"

using namespace lsm4kv;
using lsm4kv::fuzz::MemFileSystem;

namespace {

std::string root;

void seed(const std::string& target, const std::string& name, std::string_view selector,
          std::string_view bytes) {
  std::string dir = root + "/" + target;
  mkdir(dir.c_str(), 0755);
  std::ofstream f(dir + "/" + name, std::ios::binary | std::ios::trunc);
  f.write(selector.data(), static_cast<std::streamsize>(selector.size()));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f.good()) {
    std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), name.c_str());
    std::exit(1);
  }
}

// A string literal with its embedded NUL bytes (all but the terminator).
template <size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::string sel(std::initializer_list<uint8_t> b) { return std::string(b.begin(), b.end()); }

std::string u64s(uint64_t v) {
  std::string s;
  put_fixed64(&s, v);
  return s;
}

engine::WriteBatch sample_batch(int n) {
  engine::WriteBatch b;
  for (int i = 0; i < n; i++) b.put("key" + std::to_string(i), std::string(i + 1, 'v'));
  b.delete_key("key1");
  b.delete_range("a", "b");
  b.set_sequence(100);
  return b;
}

engine::VersionEdit sample_edit() {
  engine::VersionEdit e;
  e.log_number = 3;
  e.next_file_number = 9;
  e.last_sequence = 1234;
  engine::Shape s;
  s.size_ratio = 4;
  s.runs_per_level = {3, 2, 1};
  e.shape = s;
  e.added.push_back({1, 7, 4096, 10, 5, 20});
  e.added.push_back({0, 8, 8192, 3, 21, 30});
  e.removed.emplace_back(0, 4);
  return e;
}

void log_seeds() {
  MemFileSystem fs;
  std::unique_ptr<WritableFile> f;
  fs.new_writable("/l", &f);
  engine::LogWriter w(std::move(f));
  w.add_record(sample_batch(3).rep());
  std::string edit;
  sample_edit().encode_to(&edit);
  w.add_record(edit);
  w.add_record("");
  std::string log = fs.files["/l"];
  seed("log_reader_fuzz", "three_records", sel({0}), log);
  seed("log_reader_fuzz", "torn_tail", sel({0}), log.substr(0, log.size() - 5) + std::string(5, '\0'));
  std::string damaged = log;
  damaged[20] ^= 1;
  seed("log_reader_fuzz", "damaged_first", sel({0}), damaged);
  seed("log_reader_fuzz", "round_trip", sel({1}), std::string("\x05hello\x00\x83\x01") + std::string(0x301, 'x'));
}

void block_seeds() {
  engine::BlockBuilder b(4);
  for (int i = 0; i < 20; i++)
    b.add("key" + std::to_string(100 + i), i % 5 ? engine::EntryType::kPut : engine::EntryType::kDelete,
          1000 + i, i % 5 ? "value" + std::to_string(i) : "");
  std::string block(b.finish());
  engine::append_block_trailer(&block);
  seed("block_fuzz", "twenty_entries", sel({0, engine::kBlockTrailerSize}), block);
  engine::BlockBuilder one(16);
  one.add("", engine::EntryType::kPut, 1, "v");
  seed("block_fuzz", "one_empty_key", sel({2, 0}), one.finish());
  seed("block_fuzz", "round_trip", sel({7}), lit("\x03" "abc\x01\x00\x05\x03xyz\x04" "abcd\x00\x00\x00\x00"));
}

void run_format_seeds() {
  engine::Footer f;
  f.range_del = {1000, 10};
  f.filter = {1019, 30};
  f.index = {1058, 40};
  f.properties = {1107, 50};
  std::string footer;
  f.encode_to(&footer);
  seed("run_format_fuzz", "footer", sel({0}), footer + u64s(1166));
  seed("run_format_fuzz", "footer_round_trip", sel({1}), u64s(1000 << 8) + u64s(10 << 12) + u64s(30 << 12) + u64s(40 << 12) + u64s(50 << 12) + u64s(77) + sel({5, 3}));
  engine::RunProperties p;
  p.entries = 20;
  p.data_blocks = 2;
  p.smallest = "a";
  p.largest = "z";
  p.min_seq = 1;
  p.max_seq = 99;
  p.bloom_bits_per_key = 9.5;
  p.restart_interval = 16;
  p.block_size = 4096;
  std::string props;
  p.encode_to(&props);
  seed("run_format_fuzz", "properties", sel({2}), props);
  engine::IndexBlockBuilder ib;
  ib.add("apple", "apricot", {0, 100});
  ib.add("banana", "blueberry", {109, 200});
  ib.add("cherry", "cherry", {318, 50});
  seed("run_format_fuzz", "index", sel({3, 0x80}), u64s(377) + ib.finish());
  engine::FragmentedTombstones t({{"a", "m", 5}, {"f", "z", 9}, {"q", "r", 2}});
  std::string ts;
  t.encode_to(&ts);
  seed("run_format_fuzz", "tombstones", sel({4, 1}), ts);
  seed("run_format_fuzz", "tombstones_cut", sel({4, 0}), lit("\x01" "a\x02" "cd\x05\x02" "bb\x01" "e\x07"));
  std::string blk = "some block contents";
  engine::append_block_trailer(&blk);
  seed("run_format_fuzz", "trailer", sel({5, 3}), blk);
}

void sorted_run_seeds() {
  for (int variant = 0; variant < 2; variant++) {
    MemFileSystem fs;
    std::unique_ptr<WritableFile> f;
    fs.new_writable("/r", &f);
    engine::RunBuildOptions o;
    o.block_size = 256;
    o.restart_interval = 4;
    o.bloom_bits_per_key = variant ? 0 : 10;
    engine::RunBuilder b(o, std::move(f));
    for (int i = 0; i < 40; i++) {
      char k[16];
      std::snprintf(k, sizeof k, "k%04d", i * 3);
      b.add(k, i % 7 ? engine::EntryType::kPut : engine::EntryType::kDelete, 10 + i,
            i % 7 ? std::string(i % 13, 'a' + i % 26) : "");
    }
    if (variant == 0) b.set_range_tombstones(engine::FragmentedTombstones({{"k0010", "k0020", 60}}));
    engine::RunMeta meta;
    b.finish(&meta);
    seed("sorted_run_fuzz", variant ? "forty_entries_no_filter" : "forty_entries", sel({0}), fs.files["/r"]);
  }
  seed("sorted_run_fuzz", "build", sel({1}), lit("\x02\x03\x14" "\x01\x03" "abc\x07" "\x05" "value" "\x07\x02xy\x09\x02zz"));
  seed("sorted_run_fuzz", "build_damaged", sel({0x43}), lit("\x02\x03\x14\x10\x00\x00" "\x01\x03" "abc\x07" "\x05" "value" "\x00\x02xy\x09"));
}

void bloom_seeds() {
  engine::BloomFilterBuilder b(10);
  for (int i = 0; i < 30; i++) b.add_key("key" + std::to_string(i));
  std::string block;
  b.finish(&block);
  seed("bloom_fuzz", "thirty_keys", sel({0}), block);
  seed("bloom_fuzz", "round_trip", sel({1, 80}), lit("\x03" "abc\x02" "de\x00\x05" "fghij"));
}

void version_edit_seeds() {
  std::string e;
  sample_edit().encode_to(&e);
  seed("version_edit_fuzz", "full_edit", sel({0}), e);
  seed("version_edit_fuzz", "round_trip", sel({1, 0x0f}), u64s(3) + u64s(9) + u64s(77) + sel({4, 2, 3, 1}) + sel({2}) + u64s(7) + u64s(4096) + u64s(1) + u64s(2) + u64s(3) + sel({1}) + u64s(5));
}

void write_batch_seeds() {
  seed("write_batch_fuzz", "batch", sel({0}), sample_batch(4).rep());
  seed("write_batch_fuzz", "empty_batch", sel({0}), engine::WriteBatch().rep());
  seed("write_batch_fuzz", "round_trip", sel({1, 5, 0, 2}), lit("\x00\x03key\x05value\x01\x02k2\x02\x01" "a\x01" "b"));
}

void tensor_seeds() {
  using namespace tensorlog;
  std::string raw(3000, '\0');
  for (size_t i = 0; i < raw.size(); i++) raw[i] = static_cast<char>(i % 2 ? 0x3c : i % 7);
  std::string rec = fuzz::make_record(1, "tag-bytes", raw, 2);  // the segment verify_record's seed names
  seed("tensor_record_fuzz", "record_header", sel({0}), rec.substr(0, kRecordHeaderSize));
  seed("tensor_record_fuzz", "verify_record", sel({1, 2, 3, static_cast<uint8_t>(rec.size() & 0xff), static_cast<uint8_t>(rec.size() >> 8)}), rec);
  seed("tensor_record_fuzz", "record_round_trip", sel({2, 2, 7, 0, 4, 0}), "tag!" + raw.substr(0, 600));
  std::string block(kAlign, '\0');
  encode_segment_header(7, block.data());
  seed("tensor_record_fuzz", "segment_header", sel({3}), u64s(7) + block.substr(0, 64));
  encode_footer(7, 8192, 100, block.data());
  seed("tensor_record_fuzz", "segment_footer", sel({4}), u64s(7) + u64s(8192) + u64s(100) + block.substr(0, 64));
  std::vector<SegmentRecord> recs{{4096, 100, false}, {4200, 5000, false}, {12288, 70000, false}};
  seed("tensor_record_fuzz", "segment_index", sel({5, 1}), encode_segment_index(recs));
  seed("tensor_record_fuzz", "segment_index_build", sel({5, 0}), lit("\x64\x00\x00\x01\x88\x13\x00\x00"));
  Location loc{7, 81920, 65600};
  std::string l;
  loc.encode_to(&l);
  seed("tensor_record_fuzz", "location", sel({6}), l);
  seed("tensor_record_fuzz", "segment_name", sel({6}), segment_file_name(7));
  std::string stored(max_encoded_length(Codec::kShuffleLz4, raw.size()), '\0');
  stored.resize(encode(Codec::kShuffleLz4, raw.data(), raw.size(), stored.data()));
  seed("tensor_record_fuzz", "codec_stored", sel({7, 0x82, static_cast<uint8_t>(raw.size() & 0xff), static_cast<uint8_t>(raw.size() >> 8), 0}), stored);
  seed("tensor_record_fuzz", "codec_round_trip", sel({7, 1, 0x00, 0x40, 0}), "abcabcabd");

  // Segment files: two records, unsealed, then sealed.
  std::string file(kAlign, '\0');
  encode_segment_header(7, file.data());
  std::vector<SegmentRecord> in_file;
  for (const std::string& r : {fuzz::make_record(0, "t1", "payload one", 7), fuzz::make_record(1, "t2", raw, 7)}) {
    const uint64_t at = next_record_offset(file.size(), r.size());
    file.resize(at, '\0');
    in_file.push_back({at, r.size(), false});
    file += r;
    file.resize(at + allocated_bytes(r.size()), '\0');
  }
  seed("segment_recover_fuzz", "unsealed", sel({0}), file);
  seed("segment_recover_fuzz", "sealed", sel({0}), file + build_seal(7, file.size(), in_file));
  seed("segment_recover_fuzz", "described", sel({1, 2, 2, 0x01, 0, 4, 't', 'a', 'g', '1', 0x20, 0, 8, 'p', 'a', 'y', 'l', 'o', 'a', 'd', '!', 3}), "");
}

void store_seeds() {
  seed("stats_file_fuzz", "stats", sel({0}),
       "# lsm4kv store statistics\nstate running\npid 1234\npage_tokens 16\nindex.write_amplification 1.25\n\n"
       "tuner.decision.0 1700000000 kept T=10 K=1 -> T=10 K=1\n");
  seed("stats_file_fuzz", "round_trip", sel({1}), "\x03pid\x04" "1234\x05state\x07running");
  kvcache::PageEntry e;
  e.location = {7, 81920, 65600};
  e.tick = 424242;
  std::string pe;
  e.encode_to(&pe);
  seed("page_entry_fuzz", "page_entry", sel({0, 1}), pe);
  seed("page_entry_fuzz", "page_entry_build", sel({0, 0}), u64s(7) + u64s(20ull << 12) + u64s(65600) + u64s(99) + sel({1}));
  std::string layout = lit("\x00\x01");
  put_varint32(&layout, 32);
  put_varint32(&layout, 8);
  put_varint32(&layout, 128);
  layout.push_back(1);
  seed("page_entry_fuzz", "layout", sel({1, 1}), layout);
  seed("page_entry_fuzz", "layout_build", sel({1, 0, 1, 0}), u64s(31) + u64s(7) + u64s(127) + sel({2}));
  std::string toks;
  for (int i = 0; i < 16; i++) put_fixed32(&toks, 1000 + i * 37);
  seed("page_entry_fuzz", "keys", sel({2, 1, 3}), toks);
  seed("page_entry_fuzz", "tags", sel({3, 0, 1, 0, 3, 1}), toks);
  kvcache::PageTag tag{5, 3, {11, 12}, 0x1234567890abcdefull, {13, 14}};
  seed("page_entry_fuzz", "tag_bytes", sel({3, 1}), kvcache::encode_tag(tag));
  seed("token_file_fuzz", "tokens", sel({0}), "1 2 3 4\n\n  -5\t6 +7\n2147483647 -2147483648\n");
  seed("token_file_fuzz", "round_trip", sel({1}), lit("\x02\x01\x00\x00\x00\x80\xff\xff\xff\xff\x01\x01\x05\x00\x00\x00\x03"));
}

void db_seeds() {
  // Two runs (files 1, 2) added at levels 1 and 2 with their real sizes, a
  // log number and next file number, then a WAL batch of two puts.
  seed("db_recover_fuzz", "two_runs_and_a_wal", sel({0}),
       lit("\x02\x01\x23\x07\x14\x01\x00\x01\x02\x01\x01\x01\x01" "a\x03xyz\x02" "bc\x02" "de"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  root = argv[1];
  mkdir(root.c_str(), 0755);
  log_seeds();
  block_seeds();
  run_format_seeds();
  sorted_run_seeds();
  bloom_seeds();
  version_edit_seeds();
  write_batch_seeds();
  tensor_seeds();
  store_seeds();
  db_seeds();
  return 0;
}
