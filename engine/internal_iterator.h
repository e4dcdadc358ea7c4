// InternalIterator: the cursor every source of entries offers (memtable,
// sorted run, merged view). It yields at most ONE entry per user key, in
// ascending bytewise order of user keys: a sorted run holds one entry per key,
// and the memtable iterator resolves its versions to the newest one visible
// at its snapshot. Deletes are yielded (type kDelete) so that a merge of
// several sources can let a newer delete hide an older put.
//
// Thread-safety: one iterator is used by one thread at a time.
#pragma once

#include <string_view>

#include "base/status.h"
#include "engine/entry.h"

namespace lsm4kv::engine {

class InternalIterator {
 public:
  virtual ~InternalIterator() = default;
  virtual bool valid() const = 0;
  virtual void seek_to_first() = 0;
  virtual void seek_to_last() = 0;
  // Positions at the first key >= target.
  virtual void seek(std::string_view target) = 0;
  // Positions at the last key <= target.
  virtual void seek_for_prev(std::string_view target) = 0;
  // REQUIRES: valid().
  virtual void next() = 0;
  virtual void prev() = 0;
  virtual std::string_view key() const = 0;
  // Empty for kDelete.
  virtual std::string_view value() const = 0;
  virtual EntryType type() const = 0;
  virtual SequenceNumber seq() const = 0;
  // Not OK when a read or checksum failed; the iterator is then not valid().
  virtual Status status() const = 0;
};

}  // namespace lsm4kv::engine
