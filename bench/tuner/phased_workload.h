// The phased workload of SGLang-LSM's evaluation (§4.1), emulated on the
// engine: requests whose expected hit rate changes from stage to stage, each
// one doing what the store does for a prompt (kvcache_api/, DESIGN.md):
//
//   probe:   one seek_for_prev to the key of the whole prompt; the common
//            page-prefix of the key found is the cached prefix (or, with
//            ProbeMode::kBinarySearch, the paper's binary search of point
//            lookups, which also yields zero-result lookups)
//   get:     one multi_get of the cached pages' keys
//   put:     one write batch of the missing pages' keys
//
// Keys are the store's prefix-preserving keys: a 2-byte namespace id and one
// 8-byte fingerprint per page, so a page's key extends its parent's. A
// request with expected hit rate h reuses the first ⌊h·P + u⌋ pages (u
// uniform in [0,1)) of a random earlier prompt and adds fresh pages up to P;
// the stored set stays prefix-closed. The sequence of requests depends only
// on the seed, so every configuration sees the same one.
//
// Thread-safety: not thread-safe; one workload drives one DB.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/db.h"
#include "tuner/controller.h"

namespace lsm4kv::bench {

enum class ProbeMode { kSeek, kBinarySearch };

struct WorkloadConfig {
  int pages = 32;             // P: pages per prompt (64-token pages: 2k tokens)
  size_t value_bytes = 24;    // the store's value: tensor-log location + checks
  ProbeMode probe = ProbeMode::kSeek;
  uint64_t seed = 7;
};

// What a stretch of requests did, from the engine's counter deltas.
struct StageStats {
  double requests = 0;
  double pages_hit = 0;           // pages found by probes
  double pages_total = 0;
  double entries_written = 0;
  double lookups = 0;             // point lookups + seeks
  double bytes_written = 0;       // flush + compaction
  double lookup_bytes_read = 0;   // data blocks read from disk by lookups and seeks
  double compaction_bytes_read = 0;
  double blocks_read = 0;         // from disk
  double seconds = 0;
  uint64_t wrong = 0;             // probes that disagreed with the workload: must be 0
  double io_bytes() const { return bytes_written + lookup_bytes_read + compaction_bytes_read; }
  double blocks_per_lookup() const { return lookups > 0 ? blocks_read / lookups : 0; }
};

class PhasedWorkload {
 public:
  PhasedWorkload(engine::DB* db, const WorkloadConfig& config, tuner::Controller* tuner);

  // Requests that reuse a random fraction (0..max_share) of earlier prompts
  // until `entries` pages are stored.
  Status warm_up(uint64_t entries, double max_share = 0.8);
  // `requests` requests with expected hit rate h; waits for compactions at
  // the end so that the stage is charged for what it wrote.
  Status run_stage(uint64_t requests, double hit_rate, StageStats* out);

 private:
  // One request; the prompt reuses `reuse` pages of prompt `base`.
  Status request(size_t base, int reuse, StageStats* stats);
  std::string key(const std::vector<uint64_t>& prompt, int pages) const;
  Status probe(const std::vector<uint64_t>& prompt, int* cached);

  engine::DB* db_;
  WorkloadConfig config_;
  tuner::Controller* tuner_;
  std::mt19937_64 rng_;
  uint64_t next_fingerprint_ = 1;
  std::vector<std::vector<uint64_t>> prompts_;  // fingerprints of stored prompts
  std::string value_;
};

// Counter deltas between two property snapshots, into stats.
void add_counter_deltas(const engine::Properties& before, const engine::Properties& after,
                        StageStats* stats);

}  // namespace lsm4kv::bench
