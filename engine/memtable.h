// MemTable: the in-memory write buffer. Holds every version of every key
// written since the last flush (so that an iterator can read the snapshot it
// was created at), plus the range tombstones of those writes.
//
// Entry layout in the arena (the skip list orders entries by user key
// ascending, then sequence descending):
//   varint32 key_len | key | fixed64 (seq << 8 | type) | varint32 value_len | value
//
// Thread-safety: add() and add_range_tombstone() need external
// synchronization (the DB's single write leader); get(), iterators and the
// tombstone queries may run concurrently with it and with each other.
// Readers pass a snapshot sequence and never see entries above it, so a write
// still being inserted is invisible until the DB publishes its sequence.
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/entry.h"
#include "engine/internal_iterator.h"
#include "engine/range_tombstones.h"
#include "engine/skiplist.h"

namespace lsm4kv::engine {

struct MemLookup {
  bool found = false;
  EntryType type = EntryType::kPut;
  SequenceNumber seq = 0;
  std::string value;
};

class MemTable {
 public:
  MemTable();
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  void add(SequenceNumber seq, EntryType type, std::string_view key, std::string_view value);
  void add_range_tombstone(SequenceNumber seq, std::string_view begin, std::string_view end);

  // The newest version of key with seq <= snapshot.
  void get(std::string_view key, SequenceNumber snapshot, MemLookup* out) const;
  // The highest sequence <= snapshot of a range tombstone covering key (0 if none).
  SequenceNumber max_covering_tombstone(std::string_view key, SequenceNumber snapshot) const;
  // The range tombstones with seq <= snapshot, fragmented. Never null. Cut
  // once per new tombstone (laid over the previous cut) and shared by every
  // reader after it (cutting them per iterator or scanning them per lookup
  // cost 0.4 ms a probe with 1,000 evictions in the memtable).
  std::shared_ptr<const FragmentedTombstones> fragmented_tombstones(SequenceNumber snapshot) const;
  // Yields the newest version <= snapshot of each key (deletes included).
  std::unique_ptr<InternalIterator> new_iterator(SequenceNumber snapshot) const;

  size_t memory_usage() const;
  bool empty() const { return entries_ == 0 && tombstone_count_ == 0; }
  uint64_t entries() const { return entries_; }

  struct KeyCompare {
    int operator()(const char* a, const char* b) const;
  };
  using Table = SkipList<KeyCompare>;

 private:
  friend class MemTableIterator;
  Arena arena_;
  Table table_;
  std::atomic<uint64_t> entries_{0};
  mutable std::shared_mutex tombstones_mu_;
  // In the order added; while sequences only grow (the DB's writes), those
  // <= a snapshot are a prefix.
  std::vector<RangeTombstone> tombstones_;
  bool tombstones_in_order_ = true;
  // The fragments of tombstones_[0, cut_count_), guarded by cut_mu_.
  mutable std::mutex cut_mu_;
  mutable std::shared_ptr<const FragmentedTombstones> cut_;
  mutable size_t cut_count_ = 0;
  std::atomic<size_t> tombstone_count_{0};
  std::atomic<size_t> tombstone_bytes_{0};
};

}  // namespace lsm4kv::engine
