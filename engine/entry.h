// The unit of data inside the engine: a user key with a sequence number and a
// type. Every write gets a sequence number from a global counter; of two
// entries for one key the higher sequence wins. A sorted run keeps only the
// newest entry of each key; the memtable keeps every version so that an
// iterator can read the snapshot it was created at.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lsm4kv::engine {

using SequenceNumber = uint64_t;
constexpr SequenceNumber kMaxSequence = (1ull << 56) - 1;

enum class EntryType : uint8_t {
  kDelete = 0,  // a point tombstone
  kPut = 1,
};

// A tombstone for the half-open user-key range [begin, end) written at `seq`:
// it hides every entry of that range whose sequence is lower.
struct RangeTombstone {
  std::string begin;
  std::string end;
  SequenceNumber seq = 0;
  bool operator==(const RangeTombstone&) const = default;
};

}  // namespace lsm4kv::engine
