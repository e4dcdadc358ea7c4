// The power-loss model itself (test/support/power_loss_fs.h): what was synced
// survives a cut, what was not may not, and directory entries not covered
// by a directory sync are undone.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "base/file_system.h"
#include "test/support/power_loss_fs.h"

using namespace lsm4kv;
using test::PowerLossFileSystem;

namespace {

// A fresh directory with a store directory and a graveyard in it.
struct Dirs {
  Dirs() {
    char tmpl[] = "/tmp/lsm4kv_plfs_XXXXXX";
    root = ::mkdtemp(tmpl);
    store = root + "/store";
    grave = root + "/grave";
    std::filesystem::create_directory(store);
  }
  ~Dirs() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  std::string file(const std::string& name) const { return store + "/" + name; }
  std::string root, store, grave;
};

std::string content(const std::string& path) {
  std::string out;
  REQUIRE(read_file(FileSystem::posix(), path, &out).ok());
  return out;
}

void write_durable(const std::string& path, const std::string& data) {
  std::unique_ptr<WritableFile> f;
  REQUIRE(FileSystem::posix()->new_writable(path, &f).ok());
  REQUIRE(f->append(data).ok());
  REQUIRE(f->close().ok());
}

std::string bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>(seed + 1 + i % 97);  // never 0
  return s;
}

}  // namespace

TEST_CASE("power loss: synced data survives, the unsynced tail may be dropped or torn", "[base][power]") {
  const std::string synced = bytes(1000, 'a'), unsynced = bytes(5000, 'k');
  int lost_some = 0, kept_some = 0, torn = 0;
  for (uint64_t seed = 0; seed < 40; seed++) {
    Dirs d;
    PowerLossFileSystem fs(FileSystem::posix(), d.grave);
    std::unique_ptr<WritableFile> f;
    REQUIRE(fs.new_writable(d.file("log"), &f).ok());
    REQUIRE(fs.sync_dir(d.store).ok());
    REQUIRE(f->append(synced).ok());
    REQUIRE(f->sync().ok());
    REQUIRE(f->append(unsynced).ok());
    fs.cut();
    REQUIRE(f->append("x").is_io_error());
    REQUIRE(f->sync().is_io_error());
    f.reset();
    test::PowerLossReport report;
    REQUIRE(fs.apply_loss(seed, &report).ok());
    torn += report.files_torn > 0;

    std::string got = content(d.file("log"));
    INFO("seed " << seed << " size " << got.size());
    REQUIRE(got.size() >= synced.size());
    REQUIRE(got.size() <= synced.size() + unsynced.size());
    REQUIRE(got.substr(0, synced.size()) == synced);
    // Every byte after the sync is its own or a zero of a lost sector, and a
    // sector is kept or lost whole.
    for (size_t lo = synced.size(); lo < got.size();) {
      size_t hi = std::min(got.size(), (lo / 512 + 1) * 512);
      std::string piece = got.substr(lo, hi - lo);
      bool kept = piece == unsynced.substr(lo - synced.size(), hi - lo);
      bool zero = piece == std::string(hi - lo, '\0');
      REQUIRE((kept || zero));
      lo = hi;
    }
    if (got != synced + unsynced) lost_some++;
    if (got.size() > synced.size()) kept_some++;
  }
  // Over 40 seeds every outcome shows up (deterministic: fixed seeds).
  REQUIRE(lost_some > 0);
  REQUIRE(kept_some > 0);
  REQUIRE(torn > 0);
}

TEST_CASE("power loss: a file created without a directory sync disappears", "[base][power]") {
  for (bool dir_synced : {false, true}) {
    Dirs d;
    PowerLossFileSystem fs(FileSystem::posix(), d.grave);
    std::unique_ptr<WritableFile> f;
    REQUIRE(fs.new_writable(d.file("000015.run"), &f).ok());
    REQUIRE(f->append("run data").ok());
    REQUIRE(f->sync().ok());  // its data is durable; its name is not
    REQUIRE(f->close().ok());
    if (dir_synced) REQUIRE(fs.sync_dir(d.store + "/").ok());  // any spelling of the dir
    fs.cut();
    REQUIRE(fs.apply_loss(1).ok());
    INFO("dir synced " << dir_synced);
    REQUIRE(FileSystem::posix()->exists(d.file("000015.run")) == dir_synced);
    if (dir_synced) REQUIRE(content(d.file("000015.run")) == "run data");
  }
}

TEST_CASE("power loss: a rename without a directory sync reverts", "[base][power]") {
  for (bool dir_synced : {false, true}) {
    Dirs d;
    write_durable(d.file("CURRENT"), "MANIFEST-1\n");
    PowerLossFileSystem fs(FileSystem::posix(), d.grave);
    std::unique_ptr<WritableFile> f;
    REQUIRE(fs.new_writable(d.file("CURRENT.tmp"), &f).ok());
    REQUIRE(f->append("MANIFEST-2\n").ok());
    REQUIRE(f->sync().ok());
    REQUIRE(f->close().ok());
    REQUIRE(fs.rename(d.file("CURRENT.tmp"), d.file("CURRENT")).ok());
    REQUIRE(content(d.file("CURRENT")) == "MANIFEST-2\n");
    if (dir_synced) REQUIRE(fs.sync_dir(d.store).ok());
    fs.cut();
    test::PowerLossReport report;
    REQUIRE(fs.apply_loss(2, &report).ok());
    INFO("dir synced " << dir_synced);
    if (dir_synced) {
      REQUIRE(content(d.file("CURRENT")) == "MANIFEST-2\n");
      REQUIRE_FALSE(FileSystem::posix()->exists(d.file("CURRENT.tmp")));
      REQUIRE(report.entries_undone == 0);
    } else {
      // The target has its old content back; the temporary file was never
      // durable either (its creation is undone after the rename).
      REQUIRE(content(d.file("CURRENT")) == "MANIFEST-1\n");
      REQUIRE_FALSE(FileSystem::posix()->exists(d.file("CURRENT.tmp")));
      REQUIRE(report.entries_undone == 2);
    }
    std::vector<std::string> graves;
    REQUIRE(FileSystem::posix()->list_dir(d.grave, &graves).ok());
    REQUIRE(graves.empty());
  }
}

TEST_CASE("power loss: a rename of a durable file reverts to its old name", "[base][power]") {
  Dirs d;
  write_durable(d.file("a"), "payload");
  PowerLossFileSystem fs(FileSystem::posix(), d.grave);
  REQUIRE(fs.rename(d.file("a"), d.file("b")).ok());
  fs.cut();
  REQUIRE(fs.apply_loss(3).ok());
  REQUIRE(content(d.file("a")) == "payload");
  REQUIRE_FALSE(FileSystem::posix()->exists(d.file("b")));
}

TEST_CASE("power loss: a removal without a directory sync comes back", "[base][power]") {
  for (bool dir_synced : {false, true}) {
    Dirs d;
    write_durable(d.file("seg-1.tlog"), "segment");
    PowerLossFileSystem fs(FileSystem::posix(), d.grave);
    REQUIRE(fs.remove(d.file("seg-1.tlog")).ok());
    REQUIRE_FALSE(FileSystem::posix()->exists(d.file("seg-1.tlog")));
    REQUIRE(fs.remove(d.file("seg-1.tlog")).is_not_found());
    if (dir_synced) REQUIRE(fs.sync_dir(d.store).ok());
    fs.cut();
    REQUIRE(fs.apply_loss(4).ok());
    INFO("dir synced " << dir_synced);
    REQUIRE(FileSystem::posix()->exists(d.file("seg-1.tlog")) == !dir_synced);
    if (!dir_synced) REQUIRE(content(d.file("seg-1.tlog")) == "segment");
  }
}

TEST_CASE("power loss: a directory made without syncing its parent disappears", "[base][power]") {
  for (bool durable : {false, true}) {
    Dirs d;
    PowerLossFileSystem fs(FileSystem::posix(), d.grave);
    const std::string sub = d.store + "/index";
    if (durable) {
      REQUIRE(create_dir_durable(&fs, sub).ok());
    } else {
      REQUIRE(fs.create_dir(sub).ok());
    }
    std::unique_ptr<WritableFile> f;
    REQUIRE(fs.new_writable(sub + "/CURRENT", &f).ok());
    REQUIRE(f->append("x").ok());
    REQUIRE(f->sync().ok());
    REQUIRE(fs.sync_dir(sub).ok());
    f.reset();
    fs.cut();
    REQUIRE(fs.apply_loss(5).ok());
    INFO("durable " << durable);
    REQUIRE(FileSystem::posix()->exists(sub + "/CURRENT") == durable);
  }
}

TEST_CASE("power loss: the cut comes at the chosen operation and fails every later one", "[base][power]") {
  Dirs d;
  PowerLossFileSystem fs(FileSystem::posix(), d.grave);
  std::unique_ptr<WritableFile> f;
  REQUIRE(fs.new_writable(d.file("wal"), &f).ok());  // op 1
  REQUIRE(fs.ops() == 1);
  fs.cut_after(3);
  REQUIRE(f->append("a").ok());   // op 2
  REQUIRE(f->sync().ok());        // op 3
  Status s = f->append("b");         // op 4: the power goes off
  REQUIRE(s.is_io_error());
  REQUIRE(s.message().find("power cut") != std::string::npos);
  REQUIRE(fs.is_cut());
  std::unique_ptr<WritableFile> g;
  REQUIRE(fs.new_writable(d.file("other"), &g).is_io_error());
  REQUIRE(fs.rename(d.file("wal"), d.file("x")).is_io_error());
  REQUIRE(fs.remove(d.file("wal")).is_io_error());
  REQUIRE(fs.sync_dir(d.store).is_io_error());
  std::vector<std::string> names;
  REQUIRE(fs.list_dir(d.store, &names).is_io_error());
  std::unique_ptr<RandomAccessFile> r;
  REQUIRE(fs.new_random_access(d.file("wal"), &r).is_io_error());
  REQUIRE(fs.ops() == 4);
  f.reset();
  REQUIRE(fs.apply_loss(6).ok());
  // The wal's creation was never covered by a directory sync.
  REQUIRE_FALSE(FileSystem::posix()->exists(d.file("wal")));
}

TEST_CASE("power loss: writes through a direct file's descriptor count at sync", "[base][power]") {
  for (uint64_t seed = 0; seed < 8; seed++) {
    Dirs d;
    PowerLossFileSystem fs(FileSystem::posix(), d.grave);
    std::unique_ptr<WritableFile> f;
    REQUIRE(fs.new_direct_writable(d.file("seg"), &f).ok());
    REQUIRE(fs.sync_dir(d.store).ok());
    REQUIRE(f->fd() >= 0);  // the POSIX file underneath has one
    // Written the way io_uring users do: at size(), then advance().
    const std::string first = bytes(8192, 'p'), second = bytes(8192, 'q');
    REQUIRE(::pwrite(f->fd(), first.data(), first.size(), 0) == 8192);
    f->advance(first.size());
    REQUIRE(f->size() == 8192);
    REQUIRE(f->sync().ok());
    REQUIRE(::pwrite(f->fd(), second.data(), second.size(), 8192) == 8192);
    f->advance(second.size());
    fs.cut();
    REQUIRE(f->fd() == -1);  // no new write bypasses the wrapper after the cut
    f.reset();
    REQUIRE(fs.apply_loss(seed).ok());
    std::string got = content(d.file("seg"));
    INFO("seed " << seed);
    REQUIRE(got.size() >= first.size());
    REQUIRE(got.substr(0, first.size()) == first);
  }
}

TEST_CASE("power loss: a file reopened for append keeps what it had as durable", "[base][power]") {
  for (uint64_t seed = 0; seed < 8; seed++) {
    Dirs d;
    write_durable(d.file("DEAD.log"), "old entries");
    PowerLossFileSystem fs(FileSystem::posix(), d.grave);
    std::unique_ptr<WritableFile> f;
    REQUIRE(fs.new_appendable(d.file("DEAD.log"), &f).ok());
    REQUIRE(f->append(" new entry").ok());
    fs.cut();
    f.reset();
    REQUIRE(fs.apply_loss(seed).ok());
    std::string got = content(d.file("DEAD.log"));
    INFO("seed " << seed);
    REQUIRE(got.size() >= 11);
    REQUIRE(got.substr(0, 11) == "old entries");
  }
}
