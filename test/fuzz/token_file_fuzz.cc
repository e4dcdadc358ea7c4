// Fuzz target: kvtool's token file parser (read_token_file in
// tools/kvtool/data_commands.cc: one whitespace-separated list of int32
// token ids per line, blank lines skipped).
//
// read_token_file lives in an anonymous namespace, so this file includes
// data_commands.cc (meson links output.cc, which it calls, beside it).
//
// Input: one selector byte, then:
//   bit 0 = 0: the file's bytes. Accepted: the lists are non-empty, their
//              line numbers increase and stay within the file's lines, and
//              the lists written back one per line read back the same.
//              Rejected: a message naming the file.
//   bit 0 = 1: lists of int32s cut from the bytes, written with varied
//              whitespace -> read == the lists.
#include "tools/kvtool/data_commands.cc"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "base/coding.h"
#include "test/fuzz/fuzz_util.h"

using lsm4kv::fuzz::Input;
using lsm4kv::kvtool::TokenList;
using lsm4kv::kvtool::read_token_file;

namespace {

// Made once, removed at exit; never destroyed (the exit handler uses it).
const std::string& path() {
  static const std::string* p = [] {
    const char* base = std::getenv("TMPDIR");
    std::string t = std::string(base && *base ? base : "/tmp") + "/token_fuzz.XXXXXX";
    FUZZ_CHECK(mkdtemp(t.data()) != nullptr);
    auto* file = new std::string(t + "/tokens.txt");
    std::atexit([] {
      std::remove(path().c_str());
      rmdir(path().substr(0, path().rfind('/')).c_str());
    });
    return file;
  }();
  return *p;
}

void write(std::string_view bytes) {
  std::ofstream f(path(), std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(f.good());
}

std::vector<std::vector<lsm4kv::kvcache::Token>> tokens(const std::vector<TokenList>& lists) {
  std::vector<std::vector<lsm4kv::kvcache::Token>> t;
  for (const TokenList& l : lists) t.push_back(l.tokens);
  return t;
}

void decode(std::string_view bytes) {
  write(bytes);
  std::vector<TokenList> lists;
  std::string error;
  if (!read_token_file(path(), &lists, &error)) {
    FUZZ_CHECK(error.find(path()) == 0);
    return;
  }
  FUZZ_CHECK(!lists.empty());
  size_t newlines = static_cast<size_t>(std::count(bytes.begin(), bytes.end(), '\n'));
  size_t prev = 0;
  for (const TokenList& l : lists) {
    FUZZ_CHECK(!l.tokens.empty());
    FUZZ_CHECK(l.line > prev);
    FUZZ_CHECK(l.line <= newlines + 1);
    prev = l.line;
  }
  std::string text;
  for (const TokenList& l : lists) {
    for (auto t : l.tokens) text += std::to_string(t) + " ";
    text += "\n";
  }
  write(text);
  std::vector<TokenList> again;
  FUZZ_CHECK(read_token_file(path(), &again, &error));
  FUZZ_CHECK(tokens(again) == tokens(lists));
}

void round_trip(Input* in) {
  static const char* kSpace[] = {" ", "\t", "  ", " \t ", "\v", "\f", "\r "};
  std::vector<std::vector<lsm4kv::kvcache::Token>> want;
  std::string text;
  while (in->left() > 0) {
    uint8_t n = in->byte() % 8;
    std::vector<lsm4kv::kvcache::Token> list;
    for (uint8_t i = 0; i < n; i++) {
      std::string_view b = in->take(4);
      char buf[4] = {};
      std::memcpy(buf, b.data(), b.size());
      auto t = static_cast<lsm4kv::kvcache::Token>(lsm4kv::decode_fixed32(buf));
      list.push_back(t);
      uint8_t s = in->byte();
      if ((s & 0x80) && t >= 0) text += "+";  // strtoll takes a sign
      text += std::to_string(t);
      text += kSpace[s % 7];
    }
    text += "\n";
    if (!list.empty()) want.push_back(std::move(list));
  }
  write(text);
  std::vector<TokenList> lists;
  std::string error;
  bool ok = read_token_file(path(), &lists, &error);
  if (want.empty()) {
    FUZZ_CHECK(!ok);
    return;
  }
  FUZZ_CHECK(ok);
  FUZZ_CHECK(tokens(lists) == want);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return lsm4kv::fuzz::two_modes(data, size, decode, round_trip);
}
