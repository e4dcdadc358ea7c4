// Packed records (format version 3, record_format.h): what they cost on disk,
// that they read back (KV pages of 64..256 KiB included), that a crash in
// their shared tail block loses nothing acknowledged, and that segments of
// the old formats are refused.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>

#include "base/checksum.h"
#include "base/coding.h"
#include "tensorlog/tensor_log.h"
#include "test/support/power_loss_fs.h"
#include "test/tensorlog/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

namespace {

using test::Rec;

// A tiny record: an 86-byte tag (store format 3's tag of a 16-token page) and
// 128 bytes of payload, 246 record bytes.
Rec small_page(uint64_t seed) {
  Rec r;
  r.tag = test::make_tag(seed).substr(0, 22 + 64);
  r.data = test::make_tensor(128, seed);
  return r;
}

Status append(TensorLog* log, std::vector<Rec>* recs, size_t first) {
  std::vector<RecordInput> in;
  for (size_t i = first; i < recs->size(); ++i)
    in.push_back({(*recs)[i].tag, (*recs)[i].data.data(), (*recs)[i].data.size()});
  std::vector<Location> locs;
  Status s = log->append(in, &locs);
  for (size_t i = 0; s.ok() && i < locs.size(); ++i) (*recs)[first + i].loc = locs[i];
  return s;
}

// Copies dir/log as a crash would leave it (the active segment unsealed, so
// that open scans it) to dir/crashed, closes the log, and runs check on each
// reopened: recovery from the seals and from a scan must agree.
void check_closed_and_crashed(const test::TempDir& dir, const TensorLogOptions& o, std::unique_ptr<TensorLog>* log,
                              const std::function<void(TensorLog*)>& check) {
  std::filesystem::copy(dir.sub("log"), dir.sub("crashed"));
  std::filesystem::remove(dir.sub("crashed/LOCK"));
  REQUIRE((*log)->close().ok());
  log->reset();
  for (const char* sub : {"log", "crashed"}) {
    INFO(sub);
    REQUIRE(TensorLog::open(dir.sub(sub), o, log).ok());
    check(log->get());
    log->reset();
  }
}

// Reads every record in one batch and each alone; all byte-identical.
void check_reads(TensorLog* log, const std::vector<Rec>& recs) {
  std::vector<std::string> dst(recs.size());
  std::vector<ReadRequest> reqs;
  for (size_t i = 0; i < recs.size(); ++i) {
    dst[i].assign(recs[i].data.size(), '\0');
    ReadRequest q;
    q.location = recs[i].loc;
    q.tag = recs[i].tag;
    q.dst = dst[i].data();
    q.size = dst[i].size();
    reqs.push_back(q);
  }
  std::shuffle(reqs.begin(), reqs.end(), std::mt19937_64(recs.size()));
  Status s = log->read(reqs);
  INFO(s.to_string());
  REQUIRE(s.ok());
  for (size_t i = 0; i < recs.size(); ++i) REQUIRE(dst[i] == recs[i].data);
  for (size_t i = 0; i < recs.size(); i += 7) {
    std::string one(recs[i].data.size(), '\0');
    ReadRequest q;
    q.location = recs[i].loc;
    q.tag = recs[i].tag;
    q.dst = one.data();
    q.size = one.size();
    REQUIRE(log->read({&q, 1}).ok());
    REQUIRE(one == recs[i].data);
  }
}

uint64_t file_size(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

TEST_CASE("allocated bytes: small records packed, large ones whole blocks", "[tensorlog][packing]") {
  CHECK(allocated_bytes(246) == 248);
  CHECK(allocated_bytes(kRecordHeaderSize) == kRecordHeaderSize);
  CHECK(allocated_bytes(kBlockRecordBytes - 1) == kBlockRecordBytes);
  CHECK(allocated_bytes(kBlockRecordBytes + 1) == kBlockRecordBytes + kAlign);
  CHECK(next_record_offset(4096 + 248, 246) == 4096 + 248);
  CHECK(next_record_offset(4096 + 248, kBlockRecordBytes) == 2 * 4096);
  CHECK(allocated_bytes(Location{1, 4096, 4 << 20}) == uint64_t{4} << 20);
}

TEST_CASE("~250 B records take at most 1.1x their bytes, in batches of 64 and of 1",
          "[tensorlog][packing]") {
  for (size_t batch : {size_t{64}, size_t{1}}) {
    DYNAMIC_SECTION("batch of " << batch) {
      test::TempDir dir;
      TensorLogOptions o;
      o.sync = SyncMode::kPerBatch;  // a 1-record batch is written (and synced) alone
      std::unique_ptr<TensorLog> log;
      REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
      const size_t n = batch == 1 ? 1000 : 64 * 64;
      std::vector<Rec> recs;
      uint64_t record_bytes = 0;
      while (recs.size() < n) {
        size_t first = recs.size();
        for (size_t i = 0; i < batch; ++i) recs.push_back(small_page(recs.size()));
        REQUIRE(append(log.get(), &recs, first).ok());
        for (size_t i = first; i < recs.size(); ++i) record_bytes += recs[i].loc.length;
      }
      REQUIRE(recs[0].loc.length == 246);
      std::vector<SegmentInfo> segs = log->segments();
      REQUIRE(segs.size() == 1);
      // The segment file on disk: its header block, then the records.
      const uint64_t on_disk = file_size(dir.sub(segment_file_name(segs[0].id)));
      REQUIRE(on_disk == segs[0].file_bytes);
      const double file_ratio = static_cast<double>(on_disk - kAlign) / static_cast<double>(record_bytes);
      const double live_ratio = static_cast<double>(log->usage().live_bytes) / static_cast<double>(record_bytes);
      INFO("file/record bytes " << file_ratio << ", live/record bytes " << live_ratio);
      CHECK(file_ratio <= 1.1);
      CHECK(live_ratio <= 1.1);
      // The store's accounting agrees with the log's.
      uint64_t allocated = 0;
      for (const Rec& r : recs) allocated += allocated_bytes(r.loc);
      CHECK(allocated == log->usage().live_bytes);
      check_reads(log.get(), recs);
      REQUIRE(log->close().ok());
      log.reset();
      REQUIRE(TensorLog::open(dir.path(), o, &log).ok());  // from the index
      check_reads(log.get(), recs);
      CHECK(log->usage().live_bytes == allocated);
    }
  }
}

TEST_CASE("packed and large records read back byte-identical, before and after recovery",
          "[tensorlog][packing]") {
  for (bool direct : {true, false}) {
    DYNAMIC_SECTION((direct ? "O_DIRECT" : "buffered")) {
      test::TempDir dir;
      TensorLogOptions o;
      o.direct_io = direct;
      o.sync = SyncMode::kPerBatch;
      o.segment_size = 24 << 20;  // a rotation inside the big batch
      std::unique_ptr<TensorLog> log;
      REQUIRE(TensorLog::open(dir.sub("log"), o, &log).ok());
      std::mt19937_64 rng(5);
      // Sizes around every boundary: tiny, packed, just below and at the
      // block-aligned threshold, large; alone and mixed in batches.
      const size_t tag = test::make_tag(0).size();
      const size_t at = kBlockRecordBytes - kRecordHeaderSize - tag;
      std::vector<size_t> sizes{0, 1, 7, 100, 4000, 4096, 9000, at - 1, at, at + 1, 4 << 20, 128, 3};
      std::vector<Rec> recs;
      for (int round = 0; round < 6; ++round) {
        size_t first = recs.size();
        size_t count = round % 2 == 0 ? 1 : 1 + rng() % sizes.size();
        for (size_t i = 0; i < count; ++i) {
          size_t size = sizes[rng() % sizes.size()];
          uint64_t seed = recs.size() + 1;
          recs.push_back({{}, test::make_tag(seed), test::make_tensor(size, seed)});
        }
        REQUIRE(append(log.get(), &recs, first).ok());
      }
      for (size_t size : sizes) {  // every size at least once, one batch each
        uint64_t seed = recs.size() + 1;
        recs.push_back({{}, test::make_tag(seed), test::make_tensor(size, seed)});
        REQUIRE(append(log.get(), &recs, recs.size() - 1).ok());
      }
      // One big batch, pipelined in chunks, mostly small records.
      size_t first = recs.size();
      for (size_t i = 0; i < 30000; ++i) {
        uint64_t seed = recs.size() + 1;
        size_t size = i % 1000 == 999 ? (1 << 20) : 64 + rng() % 600;
        recs.push_back({{}, test::make_tag(seed), test::make_tensor(size, seed)});
      }
      REQUIRE(append(log.get(), &recs, first).ok());
      for (const Rec& r : recs) {
        REQUIRE(r.loc.offset % kRecordAlign == 0);
        if (r.loc.length >= kBlockRecordBytes) REQUIRE(r.loc.offset % kAlign == 0);
      }
      REQUIRE(log->segments().size() >= 2);
      check_reads(log.get(), recs);
      check_closed_and_crashed(dir, o, &log, [&](TensorLog* reopened) {
        check_reads(reopened, recs);
        uint64_t n = 0;
        for (const SegmentInfo& s : reopened->segments()) n += s.records;
        REQUIRE(n == recs.size());
      });
    }
  }
}

TEST_CASE("KV pages of 64..256 KiB are packed: at most 7 bytes of padding, read back exact",
          "[tensorlog][packing]") {
  // Store pages of 32..156 KiB and more (P = 512 tokens of 64..312 B) with a
  // 46-byte tag, mixed with records on both sides of the threshold and small
  // ones, so that packed big records start anywhere in a block and span many.
  // Small reader arenas and reads: a packed record's enclosing blocks are cut
  // into several reads and runs.
  constexpr size_t kTag = 46;
  const size_t at = kBlockRecordBytes - kRecordHeaderSize - kTag;  // the first aligned payload
  const std::vector<size_t> sizes{32 << 10, 36 << 10, 64 << 10, 100000, 156 << 10, at - 1, at, at + 1, 300 << 10,
                                  2 << 20,  250,      (64 << 10) + 3};
  for (bool direct : {true, false}) {
    DYNAMIC_SECTION((direct ? "O_DIRECT" : "buffered")) {
      test::TempDir dir;
      TensorLogOptions o;
      o.direct_io = direct;
      o.sync = SyncMode::kPerBatch;
      o.segment_size = 8 << 20;  // rotations and seals
      o.reader.max_io_bytes = 64 << 10;
      o.reader.staging_bytes = 1 << 20;
      o.reader.max_run_bytes = 256 << 10;
      std::unique_ptr<TensorLog> log;
      REQUIRE(TensorLog::open(dir.sub("log"), o, &log).ok());
      std::mt19937_64 rng(11);
      std::vector<Rec> recs;
      for (int batch = 0; batch < 24; ++batch) {
        const size_t first = recs.size();
        const size_t count = batch % 3 == 0 ? 1 : 2 + rng() % 6;
        for (size_t i = 0; i < count; ++i) {
          const uint64_t seed = recs.size() + 1;
          const size_t size = i == 0 && batch < static_cast<int>(sizes.size()) ? sizes[batch] : sizes[rng() % sizes.size()];
          recs.push_back({{}, test::make_tag(seed).substr(0, kTag), test::make_tensor(size, seed)});
        }
        REQUIRE(append(log.get(), &recs, first).ok());
      }
      size_t packed_big = 0, unaligned_big = 0;
      uint64_t record_bytes = 0, allocated = 0;
      for (const Rec& r : recs) {
        REQUIRE(r.loc.offset % kRecordAlign == 0);
        record_bytes += r.loc.length;
        allocated += allocated_bytes(r.loc);
        if (r.loc.length >= kBlockRecordBytes) {
          REQUIRE(r.loc.offset % kAlign == 0);
          CHECK(allocated_bytes(r.loc) - r.loc.length < kAlign);
          CHECK(static_cast<double>(allocated_bytes(r.loc) - r.loc.length) <= 0.016 * static_cast<double>(r.loc.length));
        } else {
          CHECK(allocated_bytes(r.loc) - r.loc.length < kRecordAlign);
          if (r.loc.length >= (uint64_t{64} << 10)) {
            packed_big++;
            if (r.loc.offset % kAlign != 0) unaligned_big++;
          }
        }
      }
      CHECK(packed_big > 20);
      CHECK(unaligned_big > 0);  // the case: packed records that start mid-block
      CHECK(allocated == log->usage().live_bytes);
      INFO("allocated/record bytes " << static_cast<double>(allocated) / static_cast<double>(record_bytes));
      CHECK(static_cast<double>(allocated) <= 1.01 * static_cast<double>(record_bytes));
      REQUIRE(log->segments().size() >= 2);
      check_reads(log.get(), recs);
      check_closed_and_crashed(dir, o, &log, [&](TensorLog* reopened) {
        check_reads(reopened, recs);
        CHECK(reopened->usage().live_bytes == allocated);
      });
    }
  }
}

TEST_CASE("a power cut while the shared tail block is rewritten loses nothing acknowledged",
          "[tensorlog][packing][recovery]") {
  // One small record per synced batch: every batch rewrites the block the
  // previous one ended in. The cut comes at every operation of the workload
  // in turn; each sector written since the last sync keeps or loses its new
  // bytes (the old ones of the shared block come back).
  test::TempDir dir;
  uint64_t reverted_runs = 0;
  for (uint64_t cut = 1; cut <= 60; ++cut) {
    for (uint64_t seed = 0; seed < 3; ++seed) {
      const std::string log_dir = dir.sub("log");
      std::filesystem::remove_all(log_dir);
      test::PowerLossFileSystem plfs(FileSystem::posix(), dir.sub("graves"));
      std::vector<Rec> acked;
      {
        TensorLogOptions o;
        o.fs = &plfs;
        o.sync = SyncMode::kPerBatch;
        o.segment_size = 64 << 10;  // rotations and seals within the workload
        o.async_threads = 0;
        std::unique_ptr<TensorLog> log;
        plfs.cut_after(cut);
        if (TensorLog::open(log_dir, o, &log).ok()) {
          for (uint64_t i = 0; i < 400; ++i) {
            std::vector<Rec> one{i % 10 == 9 ? Rec{{}, test::make_tag(i), test::make_tensor(70000, i)}
                                              : small_page(i)};
            if (!append(log.get(), &one, 0).ok()) break;
            acked.push_back(one[0]);
          }
        }
        plfs.cut();
      }
      test::PowerLossReport report;
      REQUIRE(plfs.apply_loss(cut * 7 + seed, &report).ok());
      if (report.sectors_reverted > 0) reverted_runs++;
      TensorLogOptions o;
      std::unique_ptr<TensorLog> log;
      Status s = TensorLog::open(log_dir, o, &log);
      if (acked.empty() && !s.ok()) continue;  // the cut came before the directory existed
      INFO("cut " << cut << " seed " << seed << ": " << s.to_string());
      REQUIRE(s.ok());
      if (!acked.empty()) check_reads(log.get(), acked);
    }
  }
  CHECK(reverted_runs > 0);
}

TEST_CASE("a power cut after a batch rotated between its chunks loses nothing acknowledged",
          "[tensorlog][packing][recovery]") {
  // Batches of ~5 MiB go out in chunks (SegmentWriter::append_chunked) into
  // 1 MiB segments. When a chunk's records end a segment, the next chunk
  // starts the next segment, and the partial block the first left to it
  // must reach the disk with the data: the retired segment's seal is not
  // synced (SegmentWriter::sync_and_seal), so the cut after the last
  // acknowledgement may take the seal and everything else not synced.
  test::TempDir dir;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const std::string log_dir = dir.sub("log");
    std::filesystem::remove_all(log_dir);
    test::PowerLossFileSystem plfs(FileSystem::posix(), dir.sub("graves"));
    std::vector<Rec> acked;
    uint64_t segments = 0;
    {
      TensorLogOptions o;
      o.fs = &plfs;
      o.sync = SyncMode::kPerBatch;
      o.segment_size = 1 << 20;
      o.async_threads = 0;
      std::unique_ptr<TensorLog> log;
      REQUIRE(TensorLog::open(log_dir, o, &log).ok());
      std::mt19937_64 rng(seed);
      for (uint64_t b = 0; b < 6; ++b) {
        std::vector<Rec> batch;
        for (uint64_t i = 0; i < 150; ++i) {
          uint64_t id = b * 1000 + i;
          batch.push_back({{}, test::make_tag(id), test::make_tensor(30000 + rng() % 9000, id)});
        }
        REQUIRE(append(log.get(), &batch, 0).ok());
        acked.insert(acked.end(), batch.begin(), batch.end());
      }
      segments = log->segments().size();
      plfs.cut();
    }
    REQUIRE(segments >= 20);
    test::PowerLossReport report;
    REQUIRE(plfs.apply_loss(seed, &report).ok());
    std::unique_ptr<TensorLog> log;
    Status s = TensorLog::open(log_dir, TensorLogOptions{}, &log);
    INFO("seed " << seed << ": " << s.to_string());
    REQUIRE(s.ok());
    check_reads(log.get(), acked);
  }
}

TEST_CASE("a segment of an old format version is refused at open, naming the version",
          "[tensorlog][packing]") {
  // Version 2 block-aligned records from 64 KiB on, version 3 from 256 KiB.
  const uint32_t version = GENERATE(1u, 2u);
  test::TempDir dir;
  TensorLogOptions o;
  uint64_t id = 0;
  {
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    std::vector<Rec> recs{small_page(1)};
    REQUIRE(append(log.get(), &recs, 0).ok());
    id = recs[0].loc.segment;
  }
  // An old header: valid magic and checksum, the old version.
  std::string path = dir.sub(segment_file_name(id));
  std::string block(kSegmentHeaderSize, '\0');
  encode_fixed64(block.data(), kSegmentMagic);
  encode_fixed32(block.data() + 8, version);
  encode_fixed32(block.data() + 12, static_cast<uint32_t>(kAlign));
  encode_fixed64(block.data() + 16, id);
  encode_fixed64(block.data() + 24, checksum64(block.data(), 24));
  FILE* f = std::fopen(path.c_str(), "r+b");
  REQUIRE(f != nullptr);
  REQUIRE(std::fwrite(block.data(), 1, block.size(), f) == block.size());
  std::fclose(f);
  std::unique_ptr<TensorLog> log;
  Status s = TensorLog::open(dir.path(), o, &log);
  INFO(s.to_string());
  REQUIRE(s.is_not_supported());
  CHECK(s.message().find("version " + std::to_string(version)) != std::string::npos);
  CHECK(s.message().find(segment_file_name(id)) != std::string::npos);
}
