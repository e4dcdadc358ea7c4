// kvtool: the command line of lsm4kv (subcommands in commands.h).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "tools/kvtool/commands.h"

namespace lsm4kv::kvtool {
namespace {

// "512", "64K", "10M", "2G", "1T" (powers of 1024).
bool parse_bytes(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(s, &pos);
  } catch (...) {
    return false;
  }
  if (s[0] == '-') return false;
  std::string unit = s.substr(pos);
  int shift = 0;
  if (unit.empty() || unit == "B") shift = 0;
  else if (unit == "K" || unit == "KiB") shift = 10;
  else if (unit == "M" || unit == "MiB") shift = 20;
  else if (unit == "G" || unit == "GiB") shift = 30;
  else if (unit == "T" || unit == "TiB") shift = 40;
  else return false;
  if (shift > 0 && v > (~0ull >> shift)) return false;
  *out = static_cast<uint64_t>(v) << shift;
  return true;
}

int run(int argc, char** argv) {
  CLI::App app{"kvtool: inspect, verify and operate an lsm4kv KV cache store.\n"
               "Exit status: 0 ok, 1 problems found or operation failed, 2 usage error."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");

  Common c;
  TreeArgs tree;
  TokenArgs tokens;
  ReshapeArgs reshape;
  std::string to_bytes;

  auto add = [&](const char* name, const char* what) {
    CLI::App* sub = app.add_subcommand(name, what);
    sub->add_option("DIR", c.dir, "The store's directory")->required();
    sub->add_flag("--json", c.json, "Print one JSON document instead of text");
    return sub;
  };
  CLI::App* info = add("info", "Namespaces, page size, pages and bytes, files, index shape, tensor-log segments, tuner");
  CLI::App* stats = add("stats", "Counters a running store persisted or the last session left (works while the store is open)");
  CLI::App* tree_cmd = add("tree", "The prefix tree of one namespace: fan-out and bytes per depth, the largest subtrees");
  tree_cmd->add_option("--ns", tree.ns, "Namespace name")->required();
  tree_cmd->add_option("--depth", tree.depth, "Show depths 1..D only (default: all)")->check(CLI::PositiveNumber);
  tree_cmd->add_option("--top", tree.top, "How many largest subtrees (default 10)");
  CLI::App* probe = add("probe", "The cached prefix of each token list in a file");
  CLI::App* get = add("get", "Load the cached prefix of each token list and write its KV bytes to a file");
  for (CLI::App* sub : {probe, get}) {
    sub->add_option("--ns", tokens.ns, "Namespace name")->required();
    sub->add_option("--tokens", tokens.tokens_file,
                    "File of token ids: one whitespace-separated list per line")->required();
  }
  get->add_option("--out", tokens.out_file, "Where the KV bytes go (page-major, the lists' prefixes one after another)")
      ->required();
  CLI::App* verify = add("verify", "Check every run file, the WAL, the manifest, every tensor record and index entry");
  CLI::App* compact = add("compact", "Merge the whole index into one run");
  CLI::App* gc = add("gc", "Tensor-log garbage collection: rewrite mostly-dead segments");
  CLI::App* reshape_cmd = add("reshape", "Set the index's size ratio T and runs per level K (applied lazily)");
  reshape_cmd->add_option("--T", reshape.size_ratio, "Size ratio T (>= 2)")->required();
  reshape_cmd->add_option("--K", reshape.runs_per_level, "Runs per level: K of level 1, 2, ... (e.g. --K 3,2,1)")
      ->required()
      ->delimiter(',');
  CLI::App* evict = add("evict", "Evict least recently used prefix subtrees down to a byte target");
  CLI::App* repair = add("repair", "Rebuild the index from the tensor log (the old one goes to DIR/index.damaged); "
                                   "report pages kept and dropped");
  evict->add_option("--to-bytes", to_bytes, "Target stored bytes (suffixes K, M, G, T: powers of 1024)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::string what = e.what();
    for (char& ch : what)
      if (ch == '\n') ch = ' ';
    std::fprintf(stderr, "kvtool: %s (try --help)\n", what.c_str());
    return kExitUsage;
  }
  CLI::App* sub = app.get_subcommands().front();
  c.command = sub->get_name();
  if (sub == info) return run_info(c);
  if (sub == stats) return run_stats(c);
  if (sub == tree_cmd) return run_tree(c, tree);
  if (sub == probe) return run_probe(c, tokens);
  if (sub == get) return run_get(c, tokens);
  if (sub == verify) return run_verify(c);
  if (sub == compact) return run_compact(c);
  if (sub == gc) return run_gc(c);
  if (sub == reshape_cmd) return run_reshape(c, reshape);
  if (sub == repair) return run_repair(c);
  if (sub == evict) {
    uint64_t target = 0;
    if (!parse_bytes(to_bytes, &target))
      return fail(c, kExitUsage, "--to-bytes '" + to_bytes + "' is not a byte count (e.g. 1073741824, 512M, 2G)");
    return run_evict(c, target);
  }
  return kExitUsage;
}

}  // namespace
}  // namespace lsm4kv::kvtool

int main(int argc, char** argv) { return lsm4kv::kvtool::run(argc, argv); }
