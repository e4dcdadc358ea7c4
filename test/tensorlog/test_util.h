// Helpers shared by the tensor log tests: a temporary directory that removes
// itself, deterministic pseudo-random tensors, and a tiny store of expected
// contents.
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tensorlog/record_format.h"

namespace lsm4kv::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/lsm4kv_tl_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { remove_tree(path_); }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

  static void remove_tree(const std::string& p) {
    if (DIR* d = ::opendir(p.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        std::string c = p + "/" + n;
        struct stat st;
        if (::lstat(c.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
          remove_tree(c);
        } else {
          ::unlink(c.c_str());
        }
      }
      ::closedir(d);
    }
    ::rmdir(p.c_str());
  }

 private:
  std::string path_;
};

// bf16-like data: random mantissas, exponents clustered like KV activations.
// A record a test appended: where it went, its tag and its payload.
struct Rec {
  tensorlog::Location loc;
  std::string tag;
  std::string data;
};

inline std::string make_tensor(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (size_t i = 0; i + 1 < n; i += 2) {
    float f = dist(rng);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    uint16_t bf = static_cast<uint16_t>(bits >> 16);
    std::memcpy(&s[i], &bf, 2);
  }
  if (n % 2) s[n - 1] = static_cast<char>(seed);
  return s;
}

inline std::string make_tag(uint64_t seed) {
  std::string t(64 * 4, '\0');  // 64 token ids
  for (size_t i = 0; i < 64; ++i) {
    uint32_t tok = static_cast<uint32_t>(seed * 131 + i);
    std::memcpy(&t[i * 4], &tok, 4);
  }
  return t;
}

inline void flip_byte(const std::string& path, uint64_t offset) {
  FILE* f = std::fopen(path.c_str(), "r+b");
  std::fseek(f, static_cast<long>(offset), SEEK_SET);
  int c = std::fgetc(f);
  std::fseek(f, static_cast<long>(offset), SEEK_SET);
  std::fputc(c ^ 0x5a, f);
  std::fclose(f);
}

}  // namespace lsm4kv::test
