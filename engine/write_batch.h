// WriteBatch: a group of puts, deletes and range deletes applied atomically:
// after a crash either all of a batch is there or none of it.
//
// Encoding (also the WAL record payload):
//   fixed64 first_sequence   (filled by the engine when the batch is committed)
//   fixed32 count            (number of operations)
//   count × operation:
//     u8 kind (see Kind)
//     kPut:         length-prefixed key, length-prefixed value
//     kDelete:      length-prefixed key
//     kDeleteRange: length-prefixed begin, length-prefixed end   ([begin, end))
// Operation j of the batch gets sequence first_sequence + j.
//
// Thread-safety: a WriteBatch is not safe for concurrent mutation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/entry.h"

namespace lsm4kv::engine {

class WriteBatch {
 public:
  enum class Kind : uint8_t { kPut = 1, kDelete = 2, kDeleteRange = 3 };
  static constexpr size_t kHeaderSize = 12;

  WriteBatch() { clear(); }

  void put(std::string_view key, std::string_view value);
  void delete_key(std::string_view key);
  // Deletes every key k with begin <= k < end.
  void delete_range(std::string_view begin, std::string_view end);
  void clear();
  // Appends every operation of other.
  void append(const WriteBatch& other);

  uint32_t count() const;
  SequenceNumber sequence() const;
  void set_sequence(SequenceNumber seq);
  size_t byte_size() const { return rep_.size(); }
  const std::string& rep() const { return rep_; }
  // Adopts an encoded batch (from the WAL); checked by for_each.
  static Status from_rep(std::string_view rep, WriteBatch* out);

  // Calls handler for every operation in order with its sequence number.
  // Returns Corruption when the encoding is malformed.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void put(SequenceNumber seq, std::string_view key, std::string_view value) = 0;
    virtual void delete_key(SequenceNumber seq, std::string_view key) = 0;
    virtual void delete_range(SequenceNumber seq, std::string_view begin, std::string_view end) = 0;
  };
  Status for_each(Handler* handler) const;

 private:
  void set_count(uint32_t n);
  std::string rep_;
};

}  // namespace lsm4kv::engine
