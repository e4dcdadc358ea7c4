// The admin surface of a store, for tools (kvtool) and monitoring: opening
// an existing store, what its namespaces, prefix tree, index and tensor log
// hold, checking every file and record (verify), the stats file, and the
// index's maintenance, through the store. No raw engine or log pointer
// leaves the store (a tool holding one could break the store's invariants);
// serving code needs none of this (kv_store.h).
//
// The calls taking a KvStore& take a store opened by KvStore::open or
// admin::open_existing and are InvalidArgument after its close(). Each scan
// reads the whole index (or one namespace of it): meant for tools and
// monitoring, not the serving path.
//
// Thread-safety: as the store's calls.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/lsm_shape.h"
#include "base/status.h"
#include "engine/db.h"
#include "kvcache_api/kv_store.h"
#include "tensorlog/tensor_log.h"

namespace lsm4kv::kvcache::admin {

// ------------------------------------------------------------------ opening

// Opens a store that already exists with the page size it was created with
// (options.page_tokens is ignored); the tuner is off and no stats file is
// written; with options.read_only nothing at all is written.
// InvalidArgument when options.dir is missing or holds no store; Busy when
// another process has it open.
Status open_existing(StoreOptions options, std::unique_ptr<KvStore>* out);

// --------------------------------------------------------------- namespaces

struct NamespaceInfo {
  std::string name;
  NamespaceId id = 0;
  KvLayout layout;
  uint64_t pages = 0;  // stored pages
  uint64_t bytes = 0;  // their tensor records on disk (what capacity counts)
};
Status list_namespaces(KvStore& store, std::vector<NamespaceInfo>* out);

// The prefix tree of one namespace as the index holds it.
struct TreeLevel {
  size_t depth = 0;           // 1 = root pages (a prompt's first page)
  uint64_t pages = 0, bytes = 0;
  uint64_t parents = 0;       // pages of this depth with at least one child
  uint64_t children = 0;      // pages of depth + 1
  uint64_t max_fanout = 0;    // most children of one page of this depth
};
struct Subtree {
  std::string root_key;       // the root page's index key
  uint64_t pages = 0, bytes = 0;
  size_t depth = 0;           // its deepest page
};
struct TreeInfo {
  uint64_t roots = 0, pages = 0, bytes = 0;
  std::vector<TreeLevel> levels;   // depth 1 first
  std::vector<Subtree> largest;    // by bytes, largest first
};
// max_depth 0 = all depths; top = how many largest subtrees.
Status tree(KvStore& store, std::string_view ns_name, size_t max_depth, size_t top, TreeInfo* out);

// ------------------------------------------------------------------- verify

struct VerifyReport {
  uint64_t run_files = 0, wal_files = 0, manifests = 0, segments = 0;
  uint64_t entries = 0, records = 0, record_bytes = 0;
  std::vector<std::string> problems;  // one line each, naming file and offset
  bool clean() const { return problems.empty(); }
};
// Called now and then with (bytes checked, bytes to check).
using VerifyProgress = std::function<void(uint64_t done, uint64_t total)>;

// Checks a store without opening it as a store (so a damaged one can be
// examined), writing nothing: every run file block by block, the WALs, the
// manifest, torn segment tails, every segment header
// (engine::verify_dir, tensorlog::verify_dir), and for every index entry its
// tensor record's checksum and tag (namespace, page index, the page's
// fingerprint and the chained digest of the prompt before it, rebuilt from
// the ancestors' tags). Problems go to the report; the Status is not OK only
// when the check could not run (Busy, not a store).
Status verify_dir(const StoreOptions& options, VerifyReport* report, const VerifyProgress& progress = {});
// verify_dir's checks on an open store.
Status verify(KvStore& store, VerifyReport* report, const VerifyProgress& progress = {});

// --------------------------------------------------------------- stats file

// The stats file a store writes into DIR (STATS) every few seconds and at
// close: "key value" lines, StoreStats and the index counters.
inline constexpr const char* kStatsFile = "STATS";
Status read_stats_file(const std::string& dir, std::vector<std::pair<std::string, std::string>>* out);
// Writes the stats file now.
Status persist_stats(KvStore& store);

// ------------------------------------------------------- index and tensor log

// The index's levels, runs, counters and shape.
Status index_properties(KvStore& store, engine::Properties* out);
// Every segment of the tensor log: bytes live and dead, records, state.
Status segments(KvStore& store, std::vector<tensorlog::SegmentInfo>* out);
// Merges the index's runs down (engine::DB::compact_all).
Status compact_index(KvStore& store);
// Reshapes the index to T and K now (the tuner may move it again later,
// unless the store's shape is pinned).
Status reshape_index(KvStore& store, const LsmShape& shape);

}  // namespace lsm4kv::kvcache::admin
