// Fuzz target: admin::read_stats_file (kvcache_api/store_stats_file.cc),
// the reader of a store's STATS file: "key value" lines, '#' comments and
// blank lines skipped.
//
// Input: one selector byte, then:
//   bit 0 = 0: the file's bytes. Accepted: every pair came from one line,
//              the key holds no space or newline, the value no newline, and
//              writing the pairs back as lines reads back the same pairs.
//              Rejected: Corruption naming the file.
//   bit 0 = 1: pairs cut from the bytes (keys made legal) -> lines -> read
//              == the pairs.
// The file lives in a private temporary directory (the reader takes a
// directory and goes through the POSIX file system).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "kvcache_api/store_admin.h"
#include "test/fuzz/fuzz_util.h"

using lsm4kv::Status;
using lsm4kv::fuzz::Input;
namespace admin = lsm4kv::kvcache::admin;
using Pairs = std::vector<std::pair<std::string, std::string>>;

namespace {

// Made once, removed at exit; never destroyed (the exit handler uses it).
const std::string& dir() {
  static const std::string* d = [] {
    const char* base = std::getenv("TMPDIR");
    auto* t = new std::string(std::string(base && *base ? base : "/tmp") + "/stats_fuzz.XXXXXX");
    FUZZ_CHECK(mkdtemp(t->data()) != nullptr);
    std::atexit([] {
      std::remove((dir() + "/" + admin::kStatsFile).c_str());
      rmdir(dir().c_str());
    });
    return t;
  }();
  return *d;
}

void write(std::string_view bytes) {
  std::ofstream f(dir() + "/" + admin::kStatsFile, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(f.good());
}

Status read(Pairs* out) { return admin::read_stats_file(dir(), out); }

std::string lines(const Pairs& pairs) {
  std::string s = "# written by stats_file_fuzz\n";
  for (const auto& [k, v] : pairs) s += k + " " + v + "\n";
  return s;
}

void decode(std::string_view bytes) {
  write(bytes);
  Pairs pairs;
  Status s = read(&pairs);
  if (!s.ok()) {
    FUZZ_CHECK(s.is_corruption());
    FUZZ_CHECK(s.to_string().find(admin::kStatsFile) != std::string::npos);
    return;
  }
  for (const auto& [k, v] : pairs) {
    FUZZ_CHECK(k.find_first_of(" \n") == std::string::npos);
    FUZZ_CHECK(v.find('\n') == std::string::npos);
    FUZZ_CHECK(k.size() + 1 + v.size() <= bytes.size());
  }
  write(lines(pairs));
  Pairs again;
  FUZZ_CHECK(read(&again).ok());
  FUZZ_CHECK(again == pairs);
}

void round_trip(Input* in) {
  Pairs pairs;
  while (in->left() > 0) {
    std::string k(in->take(1 + in->byte() % 24));
    for (char& c : k)
      if (c == ' ' || c == '\n') c = '_';
    if (k[0] == '#') k[0] = '_';
    std::string v(in->take(in->byte() % 80));
    for (char& c : v)
      if (c == '\n') c = ' ';
    pairs.emplace_back(std::move(k), std::move(v));
  }
  write(lines(pairs));
  Pairs got;
  FUZZ_CHECK(read(&got).ok());
  FUZZ_CHECK(got == pairs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return lsm4kv::fuzz::two_modes(data, size, decode, round_trip);
}
