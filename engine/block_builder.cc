#include "engine/block_builder.h"

#include <algorithm>
#include <cassert>

#include "base/coding.h"

namespace lsm4kv::engine {

namespace {

size_t shared_prefix(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) i++;
  return i;
}

}  // namespace

BlockBuilder::BlockBuilder(int restart_interval)
    : restart_interval_(std::max(restart_interval, 1)) {}

void BlockBuilder::reset() {
  buffer_.clear();
  restarts_.clear();
  first_key_.clear();
  last_key_.clear();
  entries_ = 0;
  finished_ = false;
}

void BlockBuilder::add(std::string_view key, EntryType type, SequenceNumber seq,
                       std::string_view value) {
  assert(!finished_);
  assert(entries_ == 0 || key > std::string_view(last_key_));
  size_t shared;
  if (entries_ % static_cast<uint64_t>(restart_interval_) == 0) {
    restarts_.push_back(static_cast<uint32_t>(buffer_.size()));
    shared = entries_ == 0 ? 0 : shared_prefix(first_key_, key);
  } else {
    shared = shared_prefix(last_key_, key);
  }
  uint64_t tag = (seq << 1) | static_cast<uint64_t>(type);
  size_t value_len = static_cast<size_t>(varint_length(tag)) + value.size();
  put_varint32(&buffer_, static_cast<uint32_t>(shared));
  put_varint32(&buffer_, static_cast<uint32_t>(key.size() - shared));
  put_varint32(&buffer_, static_cast<uint32_t>(value_len));
  buffer_.append(key.data() + shared, key.size() - shared);
  put_varint64(&buffer_, tag);
  buffer_.append(value.data(), value.size());
  if (entries_ == 0) first_key_.assign(key.data(), key.size());
  last_key_.assign(key.data(), key.size());
  entries_++;
}

std::string_view BlockBuilder::finish() {
  if (!finished_) {
    for (uint32_t r : restarts_) put_fixed32(&buffer_, r);
    put_fixed32(&buffer_, static_cast<uint32_t>(restarts_.size()));
    finished_ = true;
  }
  return buffer_;
}

size_t BlockBuilder::size_estimate() const {
  if (finished_) return buffer_.size();
  return buffer_.size() + (restarts_.size() + 1) * sizeof(uint32_t);
}

}  // namespace lsm4kv::engine
