// Fuzz target: DB::open over a whole engine directory (engine/db.h): CURRENT,
// a manifest of version edits, sorted runs and a WAL, as recovery reads them
// (engine/db_impl.cc), in a MemFileSystem.
//
// The directory is laid out from a description, with valid log checksums, so
// that the fuzzer reaches what recovery does with the edits and batches
// themselves:
//   selector byte: bit 1 = manifest records are raw bytes (else encoded
//                  edits), bit 2 = garbage after the WAL's last record.
//   then: the number of sorted runs (files 1..n, real, a few keys each);
//   the edits (the first a full snapshot, as recovery demands; log/next-file
//   numbers, last sequence, a shape with any T and K, runs added at any
//   level with any file number and size, runs removed); the WAL's batches.
// Properties: open() succeeds or fails with a Status (never a crash, an
// uncaught exception or a read outside a buffer); an open DB reads every key
// through an iterator without crashing, takes a write, and reads it back.
#include <memory>
#include <string>
#include <vector>

#include "engine/db.h"
#include "engine/file_names.h"
#include "engine/log_format.h"
#include "engine/run_builder.h"
#include "engine/version_edit.h"
#include "engine/write_batch.h"
#include "test/fuzz/fuzz_util.h"

using namespace lsm4kv::engine;
using lsm4kv::Status;
using lsm4kv::WritableFile;
using lsm4kv::fuzz::Input;
using lsm4kv::fuzz::MemFileSystem;

namespace {

const std::string kDir = "/db";

std::string at(const std::string& name) { return kDir + "/" + name; }

uint64_t write_run(MemFileSystem* fs, uint64_t number) {
  std::unique_ptr<WritableFile> f;
  fs->new_writable(at(run_name(number)), &f);
  RunBuildOptions o;
  o.block_size = 128;
  RunBuilder b(o, std::move(f));
  for (int i = 0; i < 10; i++) {
    std::string k = "k" + std::to_string(number) + "-" + std::to_string(i);
    FUZZ_CHECK(b.add(k, EntryType::kPut, number * 100 + i, "v" + k).ok());
  }
  RunMeta meta;
  FUZZ_CHECK(b.finish(&meta).ok());
  return meta.file_size;
}

// The first edit of a manifest is a full snapshot (engine/manifest.h): it
// gets every field (a default shape unless the input gives one) and no
// removals.
VersionEdit edit_from(Input* in, const std::vector<uint64_t>& sizes, bool first) {
  VersionEdit e;
  uint8_t f = in->byte();
  if (first) {
    e.log_number = 0;
    e.next_file_number = 0;
    e.last_sequence = 0;
    e.shape = Shape();
    f &= 0x3f;
  }
  if (f & 1) e.log_number = in->byte();
  if (f & 2) e.next_file_number = in->byte();
  if (f & 4) e.last_sequence = in->byte() * 1000;
  if (f & 8) {
    Shape s;
    s.size_ratio = static_cast<int>(static_cast<uint32_t>(in->u64()));  // any u32, as on disk
    s.runs_per_level.clear();
    for (int n = in->byte() % 20; n > 0; n--) s.runs_per_level.push_back(static_cast<int>(in->byte() % 4 == 0 ? static_cast<uint32_t>(in->u64()) : 1 + in->byte() % 4));
    e.shape = s;
  }
  for (int n = (f >> 4) & 3; n > 0; n--) {
    RunRecord r;
    r.level = in->byte() % 70;  // the decoder takes < 64; the engine has 16 levels
    r.file_number = 1 + in->byte() % 6;
    r.file_size = r.file_number <= sizes.size() && (in->byte() & 1) ? sizes[r.file_number - 1] : in->byte();
    r.entries = 10;
    r.min_seq = r.file_number * 100;
    r.max_seq = r.file_number * 100 + 9;
    e.added.push_back(r);
  }
  for (int n = (f >> 6) & 3; n > 0; n--) e.removed.emplace_back(in->byte() % 20, 1 + in->byte() % 6);
  return e;
}

void lay_out(uint8_t selector, Input* in, MemFileSystem* fs) {
  std::vector<uint64_t> sizes;
  for (uint64_t n = in->byte() % 4, i = 1; i <= n; i++) sizes.push_back(write_run(fs, i));

  std::unique_ptr<WritableFile> f;
  fs->new_writable(at(manifest_name(5)), &f);
  LogWriter manifest(std::move(f));
  for (int n = in->byte() % 6, i = 0; i < n; i++) {
    std::string payload;
    if (selector & 2) {
      payload = std::string(in->take(in->byte() % 48));
    } else {
      edit_from(in, sizes, i == 0).encode_to(&payload);
    }
    manifest.add_record(payload);
  }
  fs->files[at("CURRENT")] = manifest_name(5) + "\n";

  fs->new_writable(at(wal_name(7)), &f);
  LogWriter wal(std::move(f));
  uint64_t seq = 1000000;
  while (in->left() > 0) {
    WriteBatch b;
    for (int n = 1 + in->byte() % 4; n > 0; n--) {
      uint8_t k = in->byte();
      std::string key(in->take(k % 8));
      if (k % 5 == 0) b.delete_key(key);
      else if (k % 7 == 0) b.delete_range(key, std::string(in->take(in->byte() % 8)));
      else b.put(key, std::string(in->take(in->byte() % 32)));
    }
    b.set_sequence(seq);
    seq += b.count();
    wal.add_record(b.rep());
  }
  if (selector & 4) fs->files[at(wal_name(7))] += "\x13\x00\x00\x00garbage after the last record";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  uint8_t selector = in.byte();
  MemFileSystem fs;
  lay_out(selector, &in, &fs);
  Options o;
  o.fs = &fs;
  o.create_if_missing = false;
  o.sync_mode = SyncMode::kNone;
  o.write_buffer_size = 64 << 10;
  std::unique_ptr<DB> db;
  Status s = DB::open(o, kDir, &db);
  if (!s.ok()) return 0;
  ReadOptions ro;
  {
    auto it = db->new_iterator(ro);
    size_t n = 0;
    for (it->seek_to_first(); it->valid() && n < 10000; it->next()) n++;
    for (it->seek_to_last(); it->valid() && n < 20000; it->prev()) n++;
  }
  WriteOptions wo;
  if (db->put(wo, "fuzz-key", "fuzz-value").ok()) {
    std::string v;
    Status g = db->get(ro, "fuzz-key", &v);
    FUZZ_CHECK(!g.ok() || v == "fuzz-value");
  }
  db->close();
  return 0;
}
