// Fuzz target: the record log of the WAL and the manifest (engine/log_format.h).
//
// Input: one selector byte, then the file's bytes.
//   selector bit 0: 0 = decode the bytes as a log file, 1 = round trip: cut
//                   the bytes into payloads, write them with LogWriter, read
//                   them back (then again after tearing the last record).
// Properties checked on arbitrary bytes, in both tail modes:
//   - the records read lie end to end: good_bytes() is their total length;
//   - the file cut back to good_bytes() reads, in strict mode, the same
//     records with no torn tail (what recovery relies on when it truncates);
//   - whatever strict mode reads, tolerant mode reads too, and it fails only
//     where strict mode fails.
#include <string>
#include <vector>

#include "engine/log_format.h"
#include "test/fuzz/fuzz_util.h"

using lsm4kv::Status;
using lsm4kv::engine::kLogHeaderSize;
using lsm4kv::engine::LogReader;
using lsm4kv::engine::LogWriter;
using lsm4kv::fuzz::Input;
using lsm4kv::fuzz::MemFileSystem;

namespace {

struct ReadResult {
  Status status;
  std::vector<std::string> records;
  bool torn = false;
  uint64_t good = 0;
};

ReadResult read_all(MemFileSystem* fs, const std::string& path, LogReader::TailMode mode) {
  ReadResult r;
  std::unique_ptr<LogReader> reader;
  r.status = LogReader::open(fs, path, mode, &reader);
  FUZZ_CHECK(r.status.ok());
  uint64_t consumed = 0;
  for (;;) {
    std::string_view payload;
    bool done = false;
    r.status = reader->next(&payload, &done);
    if (!r.status.ok()) {
      FUZZ_CHECK(r.status.is_corruption());
      FUZZ_CHECK(r.status.to_string().find(path) != std::string::npos);  // names the file
      break;
    }
    if (done) break;
    r.records.emplace_back(payload);
    consumed += kLogHeaderSize + payload.size();
    FUZZ_CHECK(reader->good_bytes() == consumed);
  }
  r.torn = reader->torn_tail();
  r.good = reader->good_bytes();
  FUZZ_CHECK(r.good == consumed);
  FUZZ_CHECK(r.good <= fs->files[path].size());
  return r;
}

void decode(std::string_view bytes) {
  MemFileSystem fs;
  const std::string path = "/log/000001.log";
  fs.files[path] = std::string(bytes);
  ReadResult strict = read_all(&fs, path, LogReader::TailMode::kStrict);
  ReadResult tolerant = read_all(&fs, path, LogReader::TailMode::kTolerateDamagedLast);
  // Tolerant mode differs from strict mode only at a damaged last record.
  FUZZ_CHECK(strict.records == tolerant.records);
  if (strict.status.ok()) FUZZ_CHECK(tolerant.status.ok());
  if (!tolerant.status.ok()) FUZZ_CHECK(!strict.status.ok());
  if (!strict.status.ok() && tolerant.status.ok()) FUZZ_CHECK(tolerant.torn);
  if (strict.status.ok() && !strict.torn) FUZZ_CHECK(strict.good == bytes.size());

  // What recovery does after a tolerated tail: cut the file back to the good
  // records. The cut file holds exactly those records and nothing torn.
  if (tolerant.status.ok()) {
    fs.files[path].resize(tolerant.good);
    ReadResult cut = read_all(&fs, path, LogReader::TailMode::kStrict);
    FUZZ_CHECK(cut.status.ok());
    FUZZ_CHECK(!cut.torn);
    FUZZ_CHECK(cut.records == tolerant.records);
  }
}

void round_trip(Input* in) {
  MemFileSystem fs;
  const std::string path = "/log/000002.log";
  std::vector<std::string> payloads;
  {
    std::unique_ptr<lsm4kv::WritableFile> f;
    FUZZ_CHECK(fs.new_writable(path, &f).ok());
    LogWriter w(std::move(f));
    while (in->left() > 0) {
      size_t len = in->byte();
      if (len & 0x80) len = ((len & 0x7f) << 8) | in->byte();  // up to 32 KiB
      payloads.emplace_back(in->take(len));
      FUZZ_CHECK(w.add_record(payloads.back()).ok());
    }
    FUZZ_CHECK(w.close().ok());
  }
  for (auto mode : {LogReader::TailMode::kStrict, LogReader::TailMode::kTolerateDamagedLast}) {
    ReadResult r = read_all(&fs, path, mode);
    FUZZ_CHECK(r.status.ok());
    FUZZ_CHECK(!r.torn);
    FUZZ_CHECK(r.records == payloads);
  }
  if (payloads.empty()) return;
  // A crash in the middle of the last append: every cut inside the last
  // record leaves the others readable, the tail torn (tolerated in both modes).
  const std::string whole = fs.files[path];
  const size_t last = kLogHeaderSize + payloads.back().size();
  std::vector<std::string> before(payloads.begin(), payloads.end() - 1);
  for (size_t cut : {size_t{1}, kLogHeaderSize - 1, kLogHeaderSize, last - 1}) {
    if (cut == 0 || cut >= last) continue;
    fs.files[path] = whole.substr(0, whole.size() - last + cut);
    for (auto mode : {LogReader::TailMode::kStrict, LogReader::TailMode::kTolerateDamagedLast}) {
      ReadResult r = read_all(&fs, path, mode);
      FUZZ_CHECK(r.status.ok());
      FUZZ_CHECK(r.torn);
      FUZZ_CHECK(r.records == before);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return lsm4kv::fuzz::two_modes(data, size, decode, round_trip);
}
