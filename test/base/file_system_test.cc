#include <catch2/catch.hpp>

#include <cstdlib>
#include <unistd.h>

#include "base/file_system.h"

using namespace lsm4kv;

TEST_CASE("posix file system basics and atomic writes", "[base]") {
  char tmpl[] = "/tmp/lsm4kv_fs_XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  FileSystem* fs = FileSystem::posix();
  REQUIRE(write_file_atomic(fs, dir, "CURRENT", "MANIFEST-000001\n").ok());
  std::string got;
  REQUIRE(read_file(fs, dir + "/CURRENT", &got).ok());
  REQUIRE(got == "MANIFEST-000001\n");
  REQUIRE_FALSE(fs->exists(dir + "/CURRENT.tmp"));

  Status missing = read_file(fs, dir + "/nope", &got);
  REQUIRE(missing.is_not_found());
  REQUIRE(missing.message().find("nope") != std::string::npos);

  std::unique_ptr<FileLock> lock;
  REQUIRE(fs->lock_file(dir + "/LOCK", &lock).ok());
  std::vector<std::string> names;
  REQUIRE(fs->list_dir(dir, &names).ok());
  REQUIRE(names.size() == 2);
  lock.reset();
  REQUIRE(fs->remove(dir + "/LOCK").ok());
  REQUIRE(fs->remove(dir + "/CURRENT").ok());
  REQUIRE(::rmdir(dir.c_str()) == 0);
}
