// kvtool: inspect, verify and operate an lsm4kv store from the command line.
//
// One function per subcommand; each returns the process exit status:
//   0  done (verify: the store is clean; repair: nothing was lost)
//   1  problems found (repair: damaged records or pages dropped), or the
//      operation failed (a store another process has
//      open included: its locks are held)
//   2  usage: a bad flag, a missing directory, not a store, a bad token file,
//      an unknown namespace
// Errors are one line on stderr, "kvtool <command>: <what>".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "kvcache_api/kv_store.h"

namespace lsm4kv::kvtool {

constexpr int kExitOk = 0;
constexpr int kExitProblems = 1;
constexpr int kExitUsage = 2;

struct Common {
  std::string command;  // for messages
  std::string dir;
  bool json = false;
};

// Prints "kvtool <command>: <message>" to stderr and returns code.
int fail(const Common& c, int code, const std::string& message);
// The exit status and message for a failed library call: InvalidArgument ->
// usage (2); Busy -> 1 with what the caller can do; anything else -> 1.
int fail_status(const Common& c, const Status& s, bool writing);
// Opens c.dir as an existing store; on failure reports and sets *code.
bool open_store(const Common& c, bool writing, std::unique_ptr<kvcache::KvStore>* out, int* code);

struct TreeArgs {
  std::string ns;
  size_t depth = 0;
  size_t top = 10;
};
struct TokenArgs {
  std::string ns;
  std::string tokens_file;
  std::string out_file;  // get only
};
struct ReshapeArgs {
  int size_ratio = 0;
  std::vector<int> runs_per_level;
};

int run_info(const Common& c);
int run_stats(const Common& c);
int run_tree(const Common& c, const TreeArgs& a);
int run_verify(const Common& c);
int run_probe(const Common& c, const TokenArgs& a);
int run_get(const Common& c, const TokenArgs& a);
int run_compact(const Common& c);
int run_gc(const Common& c);
int run_reshape(const Common& c, const ReshapeArgs& a);
int run_evict(const Common& c, uint64_t target_bytes);
int run_repair(const Common& c);  // repair_command.cc

}  // namespace lsm4kv::kvtool
