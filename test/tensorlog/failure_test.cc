#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tensorlog/tensor_log.h"
#include "test/tensorlog/fault_fs.h"
#include "test/tensorlog/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::tensorlog;

namespace {

using test::Rec;

Status append_one(TensorLog* log, Rec* r, size_t size, uint64_t seed) {
  r->tag = test::make_tag(seed);
  r->data = test::make_tensor(size, seed);
  RecordInput in{r->tag, r->data.data(), r->data.size()};
  std::vector<Location> locs;
  Status s = log->append({&in, 1}, &locs);
  if (s.ok()) r->loc = locs[0];
  return s;
}

Status read_one(TensorLog* log, const Rec& r, std::string_view tag, std::string* out) {
  out->assign(r.data.size(), '\0');
  ReadRequest q;
  q.location = r.loc;
  q.tag = tag;
  q.dst = out->data();
  q.size = out->size();
  return log->read({&q, 1});
}

uint64_t record_count(TensorLog* log) {
  uint64_t n = 0;
  for (const SegmentInfo& s : log->segments()) n += s.records;
  return n;
}

}  // namespace

TEST_CASE("a flipped byte is a checksum error naming segment and offset; a wrong tag a tag error",
          "[tensorlog][corruption]") {
  for (Codec codec : {Codec::kNone, Codec::kShuffleLz4}) {
    test::TempDir dir;
    TensorLogOptions o;
    o.codec = codec;
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    std::vector<Rec> recs(3);
    for (size_t i = 0; i < recs.size(); ++i)
      REQUIRE(append_one(log.get(), &recs[i], 100000, i + 1).ok());
    std::string out;
    REQUIRE(read_one(log.get(), recs[1], recs[1].tag, &out).ok());
    REQUIRE(out == recs[1].data);

    test::flip_byte(dir.sub(segment_file_name(recs[1].loc.segment)),
                    recs[1].loc.offset + recs[1].loc.length - 7);
    out.assign(out.size(), 'Z');
    ReadRequest q;
    q.location = recs[1].loc;
    q.tag = recs[1].tag;
    q.dst = out.data();
    q.size = out.size();
    Status s = log->read({&q, 1});
    REQUIRE(s.is_corruption());
    REQUIRE(s.message().find("checksum") != std::string::npos);
    REQUIRE(s.message().find("segment " + std::to_string(recs[1].loc.segment)) != std::string::npos);
    REQUIRE(s.message().find("offset " + std::to_string(recs[1].loc.offset)) != std::string::npos);
    REQUIRE(out.find_first_not_of('Z') == std::string::npos);  // no data returned

    // Neighbours are unaffected, in the same batch too.
    std::vector<std::string> dst(3);
    std::vector<ReadRequest> reqs(3);
    for (size_t i = 0; i < 3; ++i) {
      dst[i].assign(recs[i].data.size(), '\0');
      reqs[i].location = recs[i].loc;
      reqs[i].tag = recs[i].tag;
      reqs[i].dst = dst[i].data();
      reqs[i].size = dst[i].size();
    }
    REQUIRE(log->read(reqs).is_corruption());
    REQUIRE(reqs[0].status.ok());
    REQUIRE(reqs[1].status.is_corruption());
    REQUIRE(reqs[2].status.ok());
    REQUIRE(dst[2] == recs[2].data);

    std::string other = test::make_tag(999);
    s = read_one(log.get(), recs[2], other, &out);
    REQUIRE(s.is_tag_mismatch());

    // A location that points at the wrong place is caught too: the record
    // there is another tag's (or, where the lengths differ, fails its checksum).
    Rec moved = recs[0];
    moved.loc.offset = recs[2].loc.offset;
    s = read_one(log.get(), moved, moved.tag, &out);
    REQUIRE((s.is_tag_mismatch() || s.is_corruption()));
    Rec gone = recs[0];
    gone.loc.segment = 999;
    REQUIRE(read_one(log.get(), gone, gone.tag, &out).is_not_found());
  }
}

TEST_CASE("a torn tail: reopen keeps every complete record before it", "[tensorlog][recovery]") {
  test::TempDir dir;
  TensorLogOptions o;
  std::vector<Rec> recs(6);
  {
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    for (size_t i = 0; i < recs.size(); ++i)
      REQUIRE(append_one(log.get(), &recs[i], 50000 + 30000 * i, i + 10).ok());
  }
  // Cut the segment in the middle of record 4 (index and footer go with it).
  std::string path = dir.sub(segment_file_name(recs[4].loc.segment));
  REQUIRE(::truncate(path.c_str(), static_cast<off_t>(recs[4].loc.offset + 5000)) == 0);
  std::unique_ptr<TensorLog> log;
  REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
  REQUIRE(record_count(log.get()) == 4);
  std::string out;
  for (size_t i = 0; i < 4; ++i) {
    REQUIRE(read_one(log.get(), recs[i], recs[i].tag, &out).ok());
    REQUIRE(out == recs[i].data);
  }
  REQUIRE_FALSE(read_one(log.get(), recs[4], recs[4].tag, &out).ok());
  REQUIRE_FALSE(read_one(log.get(), recs[5], recs[5].tag, &out).ok());
  // The log goes on.
  Rec more;
  REQUIRE(append_one(log.get(), &more, 12345, 77).ok());
  REQUIRE(read_one(log.get(), more, more.tag, &out).ok());
  REQUIRE(out == more.data);
}

TEST_CASE("a segment created but never synced is dropped at open; a damaged header is corruption",
          "[tensorlog][recovery]") {
  // Segments are created without a sync: after a crash the file of one whose
  // first batch was never acknowledged may have its size but zeros in its
  // header block (and anything after it).
  test::TempDir dir;
  TensorLogOptions o;
  std::vector<Rec> recs(3);
  {
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    for (size_t i = 0; i < recs.size(); ++i)
      REQUIRE(append_one(log.get(), &recs[i], 40000 + 1000 * i, i + 30).ok());
    REQUIRE(log->close().ok());
  }
  uint64_t last = recs.back().loc.segment;
  std::string torn = dir.sub(segment_file_name(last + 1));
  {
    std::ofstream f(torn, std::ios::binary);
    std::string zeros(kAlign, '\0');
    std::string data(3 * kAlign, 'x');  // a record's bytes may have landed
    f << zeros << data;
  }
  {
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    REQUIRE_FALSE(std::filesystem::exists(torn));
    REQUIRE(record_count(log.get()) == recs.size());
    std::string out;
    for (const Rec& r : recs) {
      REQUIRE(read_one(log.get(), r, r.tag, &out).ok());
      REQUIRE(out == r.data);
    }
    // New segments never reuse the dropped id's records.
    Rec more;
    REQUIRE(append_one(log.get(), &more, 5000, 99).ok());
    REQUIRE(read_one(log.get(), more, more.tag, &out).ok());
    REQUIRE(log->close().ok());
  }
  // One flipped byte in a real header is not mistaken for a torn creation.
  std::string path = dir.sub(segment_file_name(recs[0].loc.segment));
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(17);
    f.put('\x5a');
  }
  std::unique_ptr<TensorLog> log;
  Status s = TensorLog::open(dir.path(), o, &log);
  INFO(s.to_string());
  REQUIRE(s.is_corruption());
  REQUIRE(s.to_string().find(segment_file_name(recs[0].loc.segment)) != std::string::npos);
}

TEST_CASE("a new segment's name is synced by the sync that acknowledges its records",
          "[tensorlog][recovery]") {
  for (SyncMode mode : {SyncMode::kPerBatch, SyncMode::kGroupCommit, SyncMode::kNone}) {
    test::TempDir dir;
    test::FaultFileSystem fs(FileSystem::posix());
    TensorLogOptions o;
    o.fs = &fs;
    o.sync = mode;
    o.segment_size = 1 << 20;
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    int before = fs.dir_syncs();
    Rec r;
    REQUIRE(append_one(log.get(), &r, 300000, 1).ok());  // creates a segment
    if (mode == SyncMode::kNone) {
      REQUIRE(fs.dir_syncs() == before);
      REQUIRE(log->sync().ok());
    }
    REQUIRE(fs.dir_syncs() == before + 1);
    REQUIRE(append_one(log.get(), &r, 300000, 2).ok());  // same segment
    REQUIRE(log->sync().ok());
    REQUIRE(fs.dir_syncs() == before + 1);
  }
}

TEST_CASE("a crash without close: acknowledged batches survive", "[tensorlog][recovery]") {
  test::TempDir dir;
  std::string list = dir.sub("locations");
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    TensorLogOptions o;
    o.async_threads = 0;
    std::unique_ptr<TensorLog> log;
    if (!TensorLog::open(dir.sub("log"), o, &log).ok()) ::_exit(1);
    std::ofstream f(list);
    for (uint64_t i = 0; i < 20; ++i) {
      Rec r;
      if (!append_one(log.get(), &r, 30000 + i * 1000, i).ok()) ::_exit(2);
      f << r.loc.segment << " " << r.loc.offset << " " << r.loc.length << "\n";
    }
    f.close();
    log.release();  // no close, no seal: the process just ends
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  std::unique_ptr<TensorLog> log;
  TensorLogOptions o;
  REQUIRE(TensorLog::open(dir.sub("log"), o, &log).ok());
  std::ifstream f(list);
  uint64_t i = 0;
  Rec r;
  std::string out;
  while (f >> r.loc.segment >> r.loc.offset >> r.loc.length) {
    r.tag = test::make_tag(i);
    r.data = test::make_tensor(30000 + i * 1000, i);
    REQUIRE(read_one(log.get(), r, r.tag, &out).ok());
    REQUIRE(out == r.data);
    ++i;
  }
  REQUIRE(i == 20);
  REQUIRE(record_count(log.get()) == 20);
}

TEST_CASE("failed writes: clear error, consistent segment, nothing of the batch visible",
          "[tensorlog][faults]") {
  struct Case {
    const char* name;
    bool sync_fault;
    Status error;
    bool partial;
  };
  std::vector<Case> cases = {
      {"ENOSPC short write", false, Status::from_errno(ENOSPC, "write seg"), true},
      {"EIO on write", false, Status::from_errno(EIO, "write seg"), false},
      {"EIO on fdatasync", true, Status::from_errno(EIO, "fdatasync seg"), false},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      test::TempDir dir;
      test::FaultFileSystem fs(FileSystem::posix());
      TensorLogOptions o;
      o.fs = &fs;
      std::unique_ptr<TensorLog> log;
      REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
      std::vector<Rec> good(3);
      for (size_t i = 0; i < good.size(); ++i)
        REQUIRE(append_one(log.get(), &good[i], 70000, i + 1).ok());
      if (c.sync_fault) {
        fs.fail_sync(0, c.error);
      } else {
        fs.fail_append(0, c.error, c.partial);
      }
      // A batch of several records fails as a whole.
      std::vector<std::string> data;
      std::vector<std::string> tags;
      std::vector<RecordInput> in;
      for (int i = 0; i < 4; ++i) {
        data.push_back(test::make_tensor(90000, 50 + i));
        tags.push_back(test::make_tag(50 + i));
      }
      for (int i = 0; i < 4; ++i) in.push_back({tags[i], data[i].data(), data[i].size()});
      std::vector<Location> locs;
      Status s = log->append(in, &locs);
      REQUIRE(fs.faults() == 1);
      REQUIRE_FALSE(s.ok());
      REQUIRE(s.code() == c.error.code());
      REQUIRE(locs.empty());
      REQUIRE(record_count(log.get()) == 3);
      std::string out;
      for (const Rec& r : good) REQUIRE(read_one(log.get(), r, r.tag, &out).ok());
      // The next batch goes through, to a new segment.
      Rec after;
      REQUIRE(append_one(log.get(), &after, 5000, 99).ok());
      REQUIRE(after.loc.segment > good[0].loc.segment);
      REQUIRE(log->close().ok());
      log.reset();
      REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
      REQUIRE(record_count(log.get()) == 4);
      for (const Rec& r : good) REQUIRE(read_one(log.get(), r, r.tag, &out).ok());
      REQUIRE(read_one(log.get(), after, after.tag, &out).ok());
    }
  }
}

namespace {

// A batch of n records of `size` bytes (seeds from `seed` on); the strings
// back the inputs.
struct BigBatch {
  std::vector<std::string> tags, data;
  std::vector<RecordInput> in;
  BigBatch(size_t n, size_t size, uint64_t seed) {
    for (size_t i = 0; i < n; ++i) {
      tags.push_back(test::make_tag(seed + i));
      data.push_back(test::make_tensor(size, seed + i));
    }
    for (size_t i = 0; i < n; ++i) in.push_back({tags[i], data[i].data(), data[i].size()});
  }
};

size_t segment_files(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    uint64_t id = 0;
    if (parse_segment_file_name(e.path().filename().string(), &id)) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a big batch fails in a middle chunk: nothing of it visible, segments cut back",
          "[tensorlog][faults]") {
  for (bool sync_fault : {false, true}) {
    test::TempDir dir;
    test::FaultFileSystem fs(FileSystem::posix());
    TensorLogOptions o;
    o.fs = &fs;
    o.segment_size = 24 << 20;  // the batch spans three segments
    std::unique_ptr<TensorLog> log;
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    std::vector<Rec> good(2);
    for (size_t i = 0; i < good.size(); ++i)
      REQUIRE(append_one(log.get(), &good[i], 3 << 20, i + 1).ok());
    size_t files = segment_files(dir.path());
    // 48 x 1 MiB: chunks growing from 1 to 16 MiB; the second chunk's
    // write, or the sync of the first segment the batch creates, fails.
    if (sync_fault) {
      fs.fail_sync(0, Status::from_errno(EIO, "fdatasync seg"));
    } else {
      fs.fail_append(1, Status::from_errno(ENOSPC, "write seg"), true);
    }
    BigBatch batch(48, 1 << 20, 100);
    std::vector<Location> locs;
    Status s = log->append(batch.in, &locs);
    REQUIRE(fs.faults() == 1);
    REQUIRE_FALSE(s.ok());
    REQUIRE(locs.empty());
    REQUIRE(record_count(log.get()) == good.size());
    REQUIRE(segment_files(dir.path()) == files);  // segments of the batch removed
    std::string out;
    for (const Rec& r : good) {
      REQUIRE(read_one(log.get(), r, r.tag, &out).ok());
      REQUIRE(out == r.data);
    }
    // The log goes on, and a reopen finds exactly the acknowledged records.
    REQUIRE(log->append(batch.in, &locs).ok());
    REQUIRE(locs.size() == batch.in.size());
    REQUIRE(log->close().ok());
    log.reset();
    REQUIRE(TensorLog::open(dir.path(), o, &log).ok());
    REQUIRE(record_count(log.get()) == good.size() + batch.in.size());
    for (const Rec& r : good) REQUIRE(read_one(log.get(), r, r.tag, &out).ok());
    for (size_t i = 0; i < locs.size(); i += 7) {
      Rec r{locs[i], batch.tags[i], batch.data[i]};
      REQUIRE(read_one(log.get(), r, r.tag, &out).ok());
      REQUIRE(out == r.data);
    }
  }
}

TEST_CASE("io_uring writes fail with chunks in flight (file size limit): batch rolled back",
          "[tensorlog][faults]") {
  // The real O_DIRECT + io_uring path (a FaultFileSystem would take the
  // synchronous one): RLIMIT_FSIZE makes the kernel fail the writes past
  // 40 MiB with EFBIG (and cut the one across it short) while later chunks
  // (up to 3, growing to 16 MiB) are in flight. In a child, since the limit holds for
  // the whole process.
  test::TempDir dir;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto check = [](bool ok, int code, const char* what) {
      if (ok) return;
      std::fprintf(stderr, "child: %s\n", what);
      ::_exit(code);
    };
    TensorLogOptions o;
    o.async_threads = 0;
    o.use_cuda = false;
    std::unique_ptr<TensorLog> log;
    check(TensorLog::open(dir.path(), o, &log).ok(), 2, "open");
    Rec first;
    check(append_one(log.get(), &first, 5 << 20, 1).ok(), 3, "first append");
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    ::getrlimit(RLIMIT_FSIZE, &old);
    rlimit lim = old;
    lim.rlim_cur = 40 << 20;
    check(::setrlimit(RLIMIT_FSIZE, &lim) == 0, 4, "setrlimit");
    BigBatch batch(96, 1 << 20, 200);  // ten chunks; the limit falls in the sixth
    std::vector<Location> locs;
    Status s = log->append(batch.in, &locs);
    if (s.ok()) std::fprintf(stderr, "child: the append did not fail\n");
    check(!s.ok() && locs.empty(), 5, "append past the limit");
    check(record_count(log.get()) == 1, 6, "records after the failure");
    std::string out;
    check(read_one(log.get(), first, first.tag, &out).ok() && out == first.data, 7, "read");
    check(::setrlimit(RLIMIT_FSIZE, &old) == 0, 8, "restore limit");
    check(log->append(batch.in, &locs).ok() && locs.size() == batch.in.size(), 9,
          "append after");
    check(log->close().ok(), 10, "close");
    log.reset();
    check(TensorLog::open(dir.path(), o, &log).ok(), 11, "reopen");
    check(record_count(log.get()) == 1 + batch.in.size(), 12, "records after reopen");
    for (size_t i = 0; i < locs.size(); i += 5) {
      Rec r{locs[i], batch.tags[i], batch.data[i]};
      check(read_one(log.get(), r, r.tag, &out).ok() && out == r.data, 13, "read after");
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}
