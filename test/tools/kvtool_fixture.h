// The fixture of the kvtool tests: kvtool run as a process (its path comes
// in $KVTOOL, set by test/tools/meson.build), a tiny JSON parser for its
// --json outputs, and a store written through the library whose contents
// the tests know (two namespaces, prefix trees of known shape).
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/coding.h"
#include "engine/db.h"
#include "kvcache_api/kv_store.h"
#include "kvcache_api/store_admin.h"
#include "kvcache_api/test_hooks.h"
#include "kvcache_api/prefix_key.h"
#include "tensorlog/record_format.h"
#include "test/engine/test_util.h"
#include "test/support/file_damage.h"
#include "test/support/kv_data.h"

namespace lsm4kv::test::kvtool_fixture {

using namespace lsm4kv::kvcache;
namespace fs = std::filesystem;

// ------------------------------------------------------------ tiny JSON

struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  double number = 0;
  bool boolean = false;
  std::string string;
  std::vector<Json> array;
  std::map<std::string, Json> object;

  const Json& operator[](const std::string& k) const {
    static const Json null;
    auto it = object.find(k);
    return it == object.end() ? null : it->second;
  }
  const Json& operator[](size_t i) const { return array.at(i); }
  uint64_t u() const { return static_cast<uint64_t>(number); }
};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  bool parse(Json* out) {
    bool ok = value(out);
    ws();
    return ok && i_ == s_.size();
  }

 private:
  void ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) i_++;
  }
  bool lit(const char* w) {
    size_t n = std::strlen(w);
    if (s_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  bool str(std::string* out) {
    if (s_[i_] != '"') return false;
    for (i_++; i_ < s_.size() && s_[i_] != '"'; i_++) {
      if (s_[i_] == '\\') {
        i_++;
        char c = s_[i_];
        if (c == 'n') out->push_back('\n');
        else if (c == 't') out->push_back('\t');
        else if (c == 'r') out->push_back('\r');
        else if (c == 'u') {
          out->push_back(static_cast<char>(std::stoi(s_.substr(i_ + 1, 4), nullptr, 16)));
          i_ += 4;
        } else out->push_back(c);
      } else {
        out->push_back(s_[i_]);
      }
    }
    if (i_ >= s_.size()) return false;
    i_++;
    return true;
  }
  bool value(Json* v) {
    ws();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '{') {
      v->kind = Json::kObject;
      i_++;
      ws();
      if (s_[i_] == '}') return ++i_, true;
      for (;;) {
        ws();
        std::string k;
        if (!str(&k)) return false;
        ws();
        if (s_[i_++] != ':') return false;
        if (!value(&v->object[k])) return false;
        ws();
        if (s_[i_] == ',') { i_++; continue; }
        if (s_[i_] == '}') return ++i_, true;
        return false;
      }
    }
    if (c == '[') {
      v->kind = Json::kArray;
      i_++;
      ws();
      if (s_[i_] == ']') return ++i_, true;
      for (;;) {
        v->array.emplace_back();
        if (!value(&v->array.back())) return false;
        ws();
        if (s_[i_] == ',') { i_++; continue; }
        if (s_[i_] == ']') return ++i_, true;
        return false;
      }
    }
    if (c == '"') {
      v->kind = Json::kString;
      return str(&v->string);
    }
    if (lit("true")) { v->kind = Json::kBool; v->boolean = true; return true; }
    if (lit("false")) { v->kind = Json::kBool; return true; }
    if (lit("null")) return true;
    size_t used = 0;
    try {
      v->number = std::stod(s_.substr(i_), &used);
    } catch (...) {
      return false;
    }
    v->kind = Json::kNumber;
    i_ += used;
    return true;
  }
  const std::string& s_;
  size_t i_ = 0;
};

// ------------------------------------------------------------ the binary

struct Result {
  int code = -1;
  std::string out, err;
  Json json() const {
    Json j;
    INFO("stdout: " << out << "\nstderr: " << err);
    REQUIRE(Parser(out).parse(&j));
    return j;
  }
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline Result kvtool(const std::string& args) {
  const char* bin = std::getenv("KVTOOL");
  REQUIRE(bin != nullptr);  // set by test/tools/meson.build
  static test::TempDir scratch("kvtool_out");
  const std::string out = scratch.path() + "/stdout", err = scratch.path() + "/stderr";
  const std::string cmd = std::string(bin) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  UNSCOPED_INFO("kvtool " << args << " -> " << r.code << "\nstdout: " << r.out << "\nstderr: " << r.err);
  return r;
}

// ------------------------------------------------------------ the store

inline constexpr uint32_t P = 8;
inline const KvLayout kLayoutA{2, 2, 8, DType::kBF16};  // 128 bytes per token
inline const KvLayout kLayoutB{1, 1, 16, DType::kF32};  // 128 bytes per token
// 32 + tag (46) + P · 128 payload, packed: 1104 B.
inline constexpr uint64_t kRecordDiskBytes =
    tensorlog::allocated_bytes(tensorlog::kRecordHeaderSize + kvcache::kTagBytes + P * 128);

inline StoreOptions options(const std::string& dir) {
  StoreOptions o;
  o.dir = dir;
  o.page_tokens = P;
  o.sync = SyncMode::kNone;
  o.tuner = false;
  o.segment_bytes = 16 << 10;  // several segments
  o.index_write_buffer = 4 << 10;  // several runs
  o.initial_shape = {.size_ratio = 6, .runs_per_level = {2}};
  // The full-disk reserve file (by the capacity, 64 MiB without one) is read whole by every
  // before/after comparison of the read-only tests: 1 MiB keeps it there.
  o.reserve_bytes = 1 << 20;
  return o;
}

// Prompts of namespace "alpha": 4 roots; root r has r+1 branches of 2..4
// pages below a shared first 2 pages. Namespace "beta": 2 single prompts.
struct Written {
  std::vector<std::vector<Token>> alpha, beta;
  std::set<std::vector<Token>> alpha_pages, beta_pages;  // every stored page prefix
  std::map<size_t, uint64_t> alpha_depth_pages;           // depth -> pages
};

inline void note_pages(const std::vector<Token>& p, std::set<std::vector<Token>>* pages) {
  for (size_t n = P; n <= p.size(); n += P) pages->insert(std::vector<Token>(p.begin(), p.begin() + n));
}

inline Written write_store(const std::string& dir) {
  Written w;
  for (int r = 0; r < 4; r++) {
    for (int b = 0; b <= r; b++) {
      std::vector<Token> p;
      for (size_t t = 0; t < 2 * P; t++) p.push_back(1000 * (r + 1) + static_cast<Token>(t));
      for (size_t t = 0; t < (2 + b % 3) * P; t++) p.push_back(50000 + 100 * b + static_cast<Token>(t));
      w.alpha.push_back(p);
      note_pages(p, &w.alpha_pages);
    }
  }
  for (int i = 0; i < 2; i++) {
    std::vector<Token> p;
    for (size_t t = 0; t < 3 * P + 3; t++) p.push_back(7 + i * 1000 + static_cast<Token>(t));
    w.beta.push_back(p);
    note_pages(p, &w.beta_pages);
  }
  for (const auto& p : w.alpha_pages) w.alpha_depth_pages[p.size() / P]++;

  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir), &store).ok());
  NamespaceId a, b;
  REQUIRE(store->register_namespace("alpha", kLayoutA, &a).ok());
  REQUIRE(store->register_namespace("beta", kLayoutB, &b).ok());
  for (const auto& p : w.alpha) {
    auto kv = test::kv_of(p, p.size(), kLayoutA.bytes_per_token());
    REQUIRE(store->put_batch(a, p, KvBuffer::host(kv.data(), kv.size())).ok());
  }
  for (const auto& p : w.beta) {
    auto kv = test::kv_of(p, p.size(), kLayoutB.bytes_per_token());
    REQUIRE(store->put_batch(b, p, KvBuffer::host(kv.data(), kv.size())).ok());
  }
  size_t cached = 0;
  REQUIRE(store->probe(a, w.alpha[0], &cached).ok());
  REQUIRE(kvcache::testing::index_of(store.get())->flush().ok());  // run files for the tests that damage one
  REQUIRE(store->close().ok());
  return w;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

inline std::string tokens_line(const std::vector<Token>& p) {
  std::string s;
  for (Token t : p) s += std::to_string(t) + " ";
  return s;
}

using test::flip_byte;

inline std::vector<std::string> files_ending(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().string().ends_with(suffix)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace lsm4kv::test::kvtool_fixture
