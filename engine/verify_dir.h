// Offline checks of an engine directory, writing nothing: every run file
// block by block, the manifest CURRENT names (replayed with engine::apply,
// the rule recovery uses, so it fails exactly where an open would), and
// every WAL record. Problems are reported one line each, naming the file;
// the checks go on past them. The store's verifier (kvcache_api) composes
// these with the tensor log's (tensorlog/verify_dir.h).
//
// Thread-safety: plain functions over a FileSystem; no shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/file_system.h"

namespace lsm4kv::engine {

class DB;

struct RunFile {
  uint64_t number = 0;
  uint64_t size = 0;
};

struct DirCounts {
  uint64_t run_files = 0, wal_files = 0, manifests = 0;
};

struct DirChecks {
  std::function<void(std::string)> problem;  // one line per problem
  std::function<void(uint64_t bytes)> checked;  // after each run file, its size (optional)
  // How the directory is named in problems about it as a whole
  // ("<label> directory: ...", "<label>/CURRENT: ..."); empty: its path.
  std::string label;
};

// The run files to check: those db's version holds when it is open, or
// (db null: it could not be opened) every run file in dir.
std::vector<RunFile> list_run_files(FileSystem* fs, const std::string& dir, DB* db, const DirChecks& checks);

// Checks runs, then the manifest, then the WALs (a torn last record of a WAL
// is not damage: the WAL being written may end in one).
void verify_dir(FileSystem* fs, const std::string& dir, const std::vector<RunFile>& runs,
                const DirChecks& checks, DirCounts* counts);

// The same over every run file in dir, collecting the problems.
void verify_dir(FileSystem* fs, const std::string& dir, DirCounts* counts, std::vector<std::string>* problems);

}  // namespace lsm4kv::engine
