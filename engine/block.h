// Block: one data block of a sorted run in memory, and BlockIter, the cursor
// over its entries. The layout is drawn in engine/run_format.h: prefix-
// compressed entries, then the restart array. Seeks binary-search the restart
// keys, then scan at most restart_interval entries.
//
// Malformed contents (a varint or length that leaves the block, a restart
// array that does not fit) never cause a read outside the block: Block::open
// rejects a bad restart array and BlockIter reports a bad entry through
// status() and becomes invalid. Messages name only the block; callers add
// the file and offset.
//
// Thread-safety: a Block is immutable and may be shared by any number of
// threads (the block cache hands out shared_ptr<const Block>). A BlockIter is
// used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/entry.h"

namespace lsm4kv::engine {

class Block {
 public:
  // `data` holds the block contents in its first contents_size bytes; any
  // bytes after them (the trailer as read from disk) are kept but ignored.
  // Corruption when the restart array or the first entry is malformed.
  static Status open(std::string data, size_t contents_size, std::shared_ptr<const Block>* out);

  std::string_view contents() const { return {data_.data(), contents_size_}; }
  // All the bytes given to open(), trailer included.
  std::string_view raw() const { return data_; }
  // Memory held, for the block cache's budget.
  size_t charge() const { return data_.capacity() + sizeof(Block); }
  uint32_t num_restarts() const { return num_restarts_; }
  // The whole key of entry 0, against which restart keys are delta-encoded.
  std::string_view base_key() const { return {data_.data() + base_key_offset_, base_key_size_}; }

 private:
  friend class BlockIter;
  Block() = default;

  std::string data_;
  size_t contents_size_ = 0;
  uint32_t restarts_offset_ = 0;  // where the entries end
  uint32_t num_restarts_ = 0;
  uint32_t base_key_offset_ = 0;
  uint32_t base_key_size_ = 0;
};

class BlockIter {
 public:
  // REQUIRES: block outlives the iterator.
  explicit BlockIter(const Block* block);

  bool valid() const { return current_ < limit_ && status_.ok(); }
  void seek_to_first();
  void seek_to_last();
  // The first entry with key >= target.
  void seek(std::string_view target);
  // The last entry with key <= target.
  void seek_for_prev(std::string_view target);
  // REQUIRES: valid().
  void next();
  void prev();

  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }  // the user value
  EntryType type() const { return type_; }
  SequenceNumber seq() const { return seq_; }
  // Corruption once a malformed entry was met; the iterator is then invalid.
  const Status& status() const { return status_; }

 private:
  uint32_t restart_point(uint32_t index) const;
  // Decodes the entry at `offset` into key_/value_; `restart` selects whether
  // its shared prefix comes from the base key or from key_.
  bool parse_entry(uint32_t offset, bool restart);
  void seek_to_restart(uint32_t index);
  // Moves to the entry at next_; invalid at the end of the block.
  void advance();
  void corrupt(std::string_view why);
  void invalidate() { current_ = limit_; }

  const Block* block_;
  const char* data_;
  uint32_t limit_;         // offset of the restart array: the end of the entries
  uint32_t num_restarts_;
  uint32_t current_;       // offset of the current entry; limit_ when invalid
  uint32_t next_ = 0;      // offset just past the current entry
  uint32_t restart_index_ = 0;  // the restart interval holding current_
  std::string key_;
  std::string_view value_;
  EntryType type_ = EntryType::kPut;
  SequenceNumber seq_ = 0;
  Status status_;
};

}  // namespace lsm4kv::engine
