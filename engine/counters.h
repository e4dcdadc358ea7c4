// EngineCounters: what the engine did, counted as it happens, for the tuner
// (tuner/) and the properties call. Relaxed atomics: the values are
// statistics, read without synchronization with the writes they count.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace lsm4kv::engine {

constexpr int kMaxLevels = 16;  // level 0 (flushed runs) + disk levels 1..15

struct EngineCounters {
  using Counter = std::atomic<uint64_t>;
  Counter entries_written{0};       // puts, deletes and range deletes applied
  Counter user_bytes_written{0};    // key + value bytes of those operations
  Counter point_lookups_found{0};   // get/multi-get keys that returned a value
  Counter point_lookups_empty{0};   // get/multi-get keys that found nothing
  Counter seeks{0};                 // iterator seeks (seek, seek_for_prev, seek_to_*)
  Counter runs_probed{0};           // sorted runs whose blocks a point lookup searched
  Counter bloom_checked{0};         // Bloom filter queries by point lookups
  Counter bloom_negatives{0};       // ... that said "absent" (a run skipped)
  Counter bloom_false_positives{0}; // ... that said "maybe" for a key the run lacks
  Counter blocks_read{0};           // data blocks read from disk (block cache misses)
  Counter block_bytes_read{0};
  Counter block_cache_hits{0};
  Counter flush_bytes_written{0};
  Counter wal_bytes_written{0};
  std::array<Counter, kMaxLevels> compaction_bytes_written{};  // by output level
  std::array<Counter, kMaxLevels> compaction_bytes_read{};     // by output level
  Counter write_stalls{0};          // writers that waited for level 0 to drain
};

}  // namespace lsm4kv::engine
