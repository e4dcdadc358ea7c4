// Helpers shared by the engine tests: temporary directories and seeds.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>

namespace lsm4kv::test {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "lsm4kv") {
    std::string tmpl = "/tmp/" + tag + "_XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// LSM4KV_SEED from the environment, or a fresh random seed.
inline uint64_t test_seed() {
  if (const char* s = std::getenv("LSM4KV_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// Every file under dir, path relative to dir -> bytes: equal before and
// after means nothing in the directory tree was written, created or deleted.
inline std::map<std::string, std::string> dir_contents(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    // One read per file: istreambuf_iterator went byte by byte (~30 s a
    // test for a store's 64 MiB reserve file read 16 times).
    std::ifstream f(e.path(), std::ios::binary);
    std::string bytes(e.file_size(), '\0');
    f.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<size_t>(f.gcount()));
    out[std::filesystem::relative(e.path(), dir).string()] = std::move(bytes);
  }
  return out;
}

// An integer from the environment, or def.
inline uint64_t env_or(const char* name, uint64_t def) {
  const char* s = std::getenv(name);
  return s ? std::strtoull(s, nullptr, 10) : def;
}

}  // namespace lsm4kv::test
