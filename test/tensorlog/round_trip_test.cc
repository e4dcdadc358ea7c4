#include <catch2/catch.hpp>

#include <random>

#include "tensorlog/tensor_log.h"
#include "test/tensorlog/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

namespace {

struct Stored {
  Location loc;
  std::string tag;
  std::string data;
};

// Appends `n` records of random sizes (log-uniform over [min, max]) in batches.
std::vector<Stored> fill(TensorLog* log, size_t n, size_t max, uint64_t seed, size_t min = 1) {
  std::mt19937_64 rng(seed);
  std::vector<Stored> out;
  while (out.size() < n) {
    size_t batch = std::min<size_t>(n - out.size(), 1 + rng() % 12);
    std::vector<Stored> b(batch);
    std::vector<RecordInput> in;
    for (size_t i = 0; i < batch; ++i) {
      double e = std::uniform_real_distribution<double>(std::log2(static_cast<double>(min)),
                                                        std::log2(static_cast<double>(max)))(rng);
      size_t size = static_cast<size_t>(std::exp2(e));
      b[i].data = test::make_tensor(size, rng());
      b[i].tag = test::make_tag(rng());
      in.push_back({b[i].tag, b[i].data.data(), b[i].data.size()});
    }
    std::vector<Location> locs;
    REQUIRE(log->append(in, &locs).ok());
    REQUIRE(locs.size() == batch);
    for (size_t i = 0; i < batch; ++i) {
      b[i].loc = locs[i];
      // Packed, but large records start at a block (their reads are their own blocks).
      REQUIRE(locs[i].offset % kRecordAlign == 0);
      if (locs[i].length >= kBlockRecordBytes) REQUIRE(locs[i].offset % kAlign == 0);
      out.push_back(std::move(b[i]));
    }
  }
  return out;
}

void check_all(TensorLog* log, const std::vector<Stored>& stored, uint64_t seed) {
  std::vector<size_t> order(stored.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  std::vector<std::string> dst(stored.size());
  std::vector<ReadRequest> reqs;
  for (size_t i : order) {
    dst[i].assign(stored[i].data.size(), '\0');
    ReadRequest r;
    r.location = stored[i].loc;
    r.tag = stored[i].tag;
    r.dst = dst[i].data();
    r.size = dst[i].size();
    reqs.push_back(r);
  }
  Status s = log->read(reqs);
  INFO(s.to_string());
  REQUIRE(s.ok());
  for (size_t i = 0; i < stored.size(); ++i) REQUIRE(dst[i] == stored[i].data);
}

}  // namespace

TEST_CASE("random batches round trip with every codec, direct I/O on and off",
          "[tensorlog][roundtrip]") {
  for (Codec codec : {Codec::kNone, Codec::kLz4, Codec::kShuffleLz4}) {
    for (bool direct : {true, false}) {
      DYNAMIC_SECTION(codec_name(codec) << (direct ? " O_DIRECT" : " buffered")) {
        test::TempDir dir;
        TensorLogOptions o;
        o.codec = codec;
        o.direct_io = direct;
        o.segment_size = 12 << 20;  // several rotations
        o.sync = SyncMode::kNone;
        o.reader.staging_bytes = 16 << 20;  // 8 MiB records take the big-run path
        std::unique_ptr<TensorLog> log;
        REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
        std::vector<Stored> stored = fill(log.get(), 40, 8 << 20, 1 + static_cast<int>(codec));
        // Make sure both extremes are there.
        for (size_t size : {size_t{1}, size_t{8} << 20}) {
          Stored s{{}, test::make_tag(size), test::make_tensor(size, size)};
          RecordInput in{s.tag, s.data.data(), s.data.size()};
          std::vector<Location> locs;
          REQUIRE(log->append({&in, 1}, &locs).ok());
          s.loc = locs[0];
          stored.push_back(std::move(s));
        }
        check_all(log.get(), stored, 3);
        REQUIRE(log->segments().size() > 1);
        REQUIRE(log->close().ok());
        log.reset();
        // Everything survives a reopen (sealed segments are read from their index).
        REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
        check_all(log.get(), stored, 4);
        uint64_t records = 0;
        for (const SegmentInfo& si : log->segments()) records += si.records;
        REQUIRE(records == stored.size());
      }
    }
  }
}

TEST_CASE("adjacent records are coalesced and duplicates are served", "[tensorlog][roundtrip]") {
  test::TempDir dir;
  TensorLogOptions o;
  o.sync = SyncMode::kNone;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  std::vector<Stored> stored = fill(log.get(), 64, 64 << 10, 9);
  std::vector<ReadRequest> reqs;
  std::vector<std::string> dst;
  dst.reserve(stored.size() + 1);
  for (size_t i = 0; i <= stored.size(); ++i) {
    const Stored& s = stored[i % stored.size()];  // record 0 twice
    dst.emplace_back(s.data.size(), '\0');
    ReadRequest r;
    r.location = s.loc;
    r.tag = s.tag;
    r.dst = dst.back().data();
    r.size = s.data.size();
    reqs.push_back(r);
  }
  REQUIRE(log->read(reqs).ok());
  for (size_t i = 0; i <= stored.size(); ++i) REQUIRE(dst[i] == stored[i % stored.size()].data);

  // A direct reader shows the coalescing: 65 requests, a handful of runs.
  PinnedPool pool(0, false);
  std::unique_ptr<UringReader> reader;
  REQUIRE(UringReader::create({}, &pool, &reader).ok());
  std::shared_ptr<SegmentFile> file;
  REQUIRE(SegmentFile::open(dir.sub(segment_file_name(stored[0].loc.segment)),
                            stored[0].loc.segment, true, &file).ok());
  std::vector<ReadExtent> ext;
  for (const Stored& s : stored) ext.push_back({file, s.loc});
  size_t ok = 0;
  REQUIRE(reader->read(ext, [&](size_t, const char* rec, const Status& io, bool*) {
    if (io.ok() && rec != nullptr) ++ok;
  }, nullptr).ok());
  REQUIRE(ok == stored.size());
  REQUIRE(reader->stats().runs < stored.size() / 4);
  WARN("fixed buffers: " << reader->stats().fixed_buffers
       << ", fixed files: " << reader->stats().fixed_files);
}

TEST_CASE("async reads and group commit from many threads", "[tensorlog][roundtrip]") {
  test::TempDir dir;
  TensorLogOptions o;
  o.sync = SyncMode::kGroupCommit;
  o.codec = Codec::kShuffleLz4;
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  std::vector<std::vector<Stored>> per(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] { per[t] = fill(log.get(), 30, 256 << 10, 100 + t); });
  for (auto& th : threads) th.join();
  std::vector<Stored> all;
  for (auto& v : per)
    for (auto& s : v) all.push_back(std::move(s));

  std::vector<std::string> dst(all.size());
  std::vector<ReadRequest> reqs;
  for (size_t i = 0; i < all.size(); ++i) {
    dst[i].assign(all[i].data.size(), '\0');
    ReadRequest r;
    r.location = all[i].loc;
    r.tag = all[i].tag;
    r.dst = dst[i].data();
    r.size = dst[i].size();
    reqs.push_back(r);
  }
  ReadHandle h = log->read_async(reqs);
  REQUIRE(h.wait().ok());
  REQUIRE(h.ready());
  REQUIRE(h.requests().size() == all.size());
  for (size_t i = 0; i < all.size(); ++i) REQUIRE(dst[i] == all[i].data);

  // Bad input changes nothing and says what is wrong.
  std::string big(kMaxTagLen + 1, 'x');
  RecordInput bad{big, "x", 1};
  std::vector<Location> locs;
  REQUIRE(log->append({&bad, 1}, &locs).is_invalid_argument());
  ReadRequest wrong = reqs[0];
  wrong.size = reqs[0].size + 1;
  std::string sink(wrong.size, '\0');
  wrong.dst = sink.data();
  REQUIRE(log->read({&wrong, 1}).is_invalid_argument());
}

TEST_CASE("one batch over more segments than registered file slots", "[tensorlog][roundtrip]") {
  test::TempDir dir;
  TensorLogOptions o;
  o.sync = SyncMode::kNone;
  o.segment_size = 16 << 10;  // one to three records per segment
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  std::vector<Stored> stored = fill(log.get(), 300, 8000, 11, 5000);
  REQUIRE(log->segments().size() > 100);
  check_all(log.get(), stored, 12);
  check_all(log.get(), stored, 13);
}

// Records given and read as scatter-gather slices (a page's K and V): the log
// copies straight between the slices and its buffers, with every codec.
TEST_CASE("records written from and read into slices, every codec", "[tensorlog][roundtrip][slices]") {
  for (Codec codec : {Codec::kNone, Codec::kLz4, Codec::kShuffleLz4}) {
    DYNAMIC_SECTION(codec_name(codec)) {
      test::TempDir dir;
      TensorLogOptions o;
      o.codec = codec;
      o.sync = SyncMode::kNone;
      std::unique_ptr<TensorLog> log;
      REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
      std::vector<std::string> data, tags;
      for (size_t size : {size_t{2}, size_t{4096}, size_t{300000}, size_t{2} << 20}) {
        data.push_back(test::make_tensor(size, size + static_cast<int>(codec)));
        tags.push_back(test::make_tag(size));
      }
      // Slices of uneven sizes: halves, and a first slice of 1 byte.
      std::vector<std::vector<IoSlice>> src(data.size());
      for (size_t i = 0; i < data.size(); i++) {
        const size_t cut = i % 2 == 0 ? data[i].size() / 2 : 1;
        src[i] = {{data[i].data(), cut}, {data[i].data() + cut, data[i].size() - cut}};
      }
      std::vector<RecordInput> in;
      for (size_t i = 0; i < data.size(); i++) in.emplace_back(tags[i], src[i], data[i].size());
      std::vector<Location> locs;
      REQUIRE(log->append(in, &locs).ok());
      std::vector<std::string> out(data.size());
      std::vector<std::vector<IoSlice>> dst(data.size());
      std::vector<ReadRequest> reqs(data.size());
      for (size_t i = 0; i < data.size(); i++) {
        out[i].assign(data[i].size(), '\0');
        const size_t cut = data[i].size() / 3;  // cut elsewhere than the write
        dst[i] = {{out[i].data(), cut}, {out[i].data() + cut, data[i].size() - cut}};
        reqs[i].location = locs[i];
        reqs[i].tag = tags[i];
        reqs[i].size = data[i].size();
        reqs[i].dst_slices = dst[i];
      }
      REQUIRE(log->read(reqs, {}).ok());
      for (size_t i = 0; i < data.size(); i++) CHECK(out[i] == data[i]);
      // Slices that do not add up to the record are refused, nothing written.
      std::vector<IoSlice> short_src = {{data[0].data(), 1}};
      RecordInput bad(tags[0], short_src, data[0].size());
      CHECK(log->append({&bad, 1}, &locs).is_invalid_argument());
      reqs[0].dst_slices = short_src;
      CHECK(log->read({reqs.data(), 1}, {}).is_invalid_argument());
    }
  }
}
