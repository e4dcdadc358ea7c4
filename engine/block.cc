#include "engine/block.h"

#include "base/coding.h"

namespace lsm4kv::engine {

namespace {

struct EntryHeader {
  uint32_t shared;
  uint32_t unshared;
  uint32_t value_len;
  uint32_t header_len;
};

// A varint of at most 64 bits (or 32 for uint32_t) at data[*pos, limit);
// false when it is malformed or runs past limit. Inline because entries are
// decoded in every step of a seek.
template <typename T>
inline bool decode_varint(const char* data, uint32_t limit, uint32_t* pos, T* v) {
  constexpr uint32_t kBits = sizeof(T) * 8;
  uint64_t result = 0;
  for (uint32_t shift = 0, p = *pos; shift < kBits && p < limit; shift += 7, p++) {
    uint64_t byte = static_cast<uint8_t>(data[p]);
    if (kBits - shift < 7 && (byte & 0x7f) >> (kBits - shift) != 0) return false;  // too wide
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      *v = static_cast<T>(result);
      *pos = p + 1;
      return true;
    }
  }
  return false;
}

// Decodes the three varints of the entry at data[offset, limit) and checks
// that the entry's bytes lie inside [offset, limit).
bool decode_header(const char* data, uint32_t offset, uint32_t limit, EntryHeader* h) {
  uint32_t p = offset;
  if (offset >= limit) return false;
  if (limit - offset >= 3 && ((data[p] | data[p + 1] | data[p + 2]) & 0x80) == 0) {
    // The common case: three one-byte varints.
    h->shared = static_cast<uint8_t>(data[p]);
    h->unshared = static_cast<uint8_t>(data[p + 1]);
    h->value_len = static_cast<uint8_t>(data[p + 2]);
    p += 3;
  } else if (!decode_varint(data, limit, &p, &h->shared) ||
             !decode_varint(data, limit, &p, &h->unshared) ||
             !decode_varint(data, limit, &p, &h->value_len)) {
    return false;
  }
  h->header_len = p - offset;
  return static_cast<uint64_t>(h->unshared) + h->value_len <= limit - p;
}

}  // namespace

Status Block::open(std::string data, size_t contents_size, std::shared_ptr<const Block>* out) {
  if (contents_size < 4 || contents_size > data.size() || contents_size > UINT32_MAX) {
    return Status::corruption("block too short");
  }
  uint32_t n = decode_fixed32(data.data() + contents_size - 4);
  if (n > (contents_size - 4) / 4) return Status::corruption("bad restart count");
  uint32_t limit = static_cast<uint32_t>(contents_size - 4 - 4ull * n);
  if (n == 0 && limit != 0) return Status::corruption("entries without restart points");
  uint32_t prev = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t r = decode_fixed32(data.data() + limit + 4ull * i);
    if ((i == 0 && r != 0) || (i > 0 && r <= prev) || r >= limit) {
      return Status::corruption("bad restart array");
    }
    prev = r;
  }
  std::shared_ptr<Block> b(new Block());
  if (n > 0) {
    EntryHeader h;
    if (!decode_header(data.data(), 0, limit, &h) || h.shared != 0) {
      return Status::corruption("bad first entry");
    }
    b->base_key_offset_ = h.header_len;
    b->base_key_size_ = h.unshared;
  }
  b->data_ = std::move(data);
  b->contents_size_ = contents_size;
  b->restarts_offset_ = limit;
  b->num_restarts_ = n;
  *out = std::move(b);
  return Status::OK();
}

BlockIter::BlockIter(const Block* block)
    : block_(block),
      data_(block->data_.data()),
      limit_(block->restarts_offset_),
      num_restarts_(block->num_restarts_),
      current_(limit_) {}

uint32_t BlockIter::restart_point(uint32_t index) const {
  return decode_fixed32(data_ + limit_ + 4ull * index);
}

void BlockIter::corrupt(std::string_view why) {
  if (status_.ok()) status_ = Status::corruption(why);
  key_.clear();
  value_ = {};
  invalidate();
}

bool BlockIter::parse_entry(uint32_t offset, bool restart) {
  EntryHeader h;
  if (!decode_header(data_, offset, limit_, &h)) {
    corrupt("malformed entry at block offset " + std::to_string(offset));
    return false;
  }
  std::string_view base = restart ? block_->base_key() : std::string_view(key_);
  if (h.shared > base.size()) {
    corrupt("bad shared prefix at block offset " + std::to_string(offset));
    return false;
  }
  if (restart) key_.assign(base.data(), h.shared);
  key_.resize(h.shared);
  uint32_t key_pos = offset + h.header_len;
  key_.append(data_ + key_pos, h.unshared);
  uint32_t value_pos = key_pos + h.unshared;
  uint32_t value_end = value_pos + h.value_len;
  uint64_t tag;
  if (!decode_varint(data_, value_end, &value_pos, &tag) || (tag >> 1) > kMaxSequence) {
    corrupt("bad entry tag at block offset " + std::to_string(offset));
    return false;
  }
  type_ = static_cast<EntryType>(tag & 1);
  seq_ = tag >> 1;
  value_ = std::string_view(data_ + value_pos, value_end - value_pos);
  current_ = offset;
  next_ = offset + h.header_len + h.unshared + h.value_len;
  return true;
}

void BlockIter::seek_to_restart(uint32_t index) {
  restart_index_ = index;
  parse_entry(restart_point(index), true);
}

void BlockIter::advance() {
  if (next_ >= limit_) {
    invalidate();
    return;
  }
  bool restart = false;
  if (restart_index_ + 1 < num_restarts_) {
    uint32_t r = restart_point(restart_index_ + 1);
    if (r < next_) {
      corrupt("entry overlaps a restart point at block offset " + std::to_string(r));
      return;
    }
    if (r == next_) {
      restart_index_++;
      restart = true;
    }
  }
  parse_entry(next_, restart);
}

void BlockIter::seek_to_first() {
  if (!status_.ok()) return;
  if (num_restarts_ == 0) return invalidate();
  seek_to_restart(0);
}

void BlockIter::seek_to_last() {
  if (!status_.ok()) return;
  if (num_restarts_ == 0) return invalidate();
  seek_to_restart(num_restarts_ - 1);
  while (valid() && next_ < limit_) advance();
}

void BlockIter::next() {
  if (valid()) advance();
}

void BlockIter::prev() {
  if (!valid()) return;
  uint32_t original = current_;
  uint32_t r = restart_index_;
  while (r > 0 && restart_point(r) >= original) r--;
  if (restart_point(r) >= original) return invalidate();  // was the first entry
  seek_to_restart(r);
  while (valid() && next_ < original) advance();
  if (valid() && next_ != original) corrupt("entries do not chain at block offset " +
                                            std::to_string(original));
}

void BlockIter::seek(std::string_view target) {
  if (!status_.ok()) return;
  if (num_restarts_ == 0) return invalidate();
  // The last restart point whose key < target (or restart 0).
  uint32_t lo = 0, hi = num_restarts_ - 1;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo + 1) / 2;
    if (!parse_entry(restart_point(mid), true)) return;
    if (std::string_view(key_) < target) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  seek_to_restart(lo);
  while (valid() && std::string_view(key_) < target) advance();
}

void BlockIter::seek_for_prev(std::string_view target) {
  seek(target);
  if (valid()) {
    if (std::string_view(key_) > target) prev();
  } else if (status_.ok()) {
    seek_to_last();
  }
  // A damaged restart array (one the block's checksum would catch on disk)
  // can leave the cursor past the target: an error, never a wrong key
  // (block_fuzz found one in an 8 s run).
  if (valid() && std::string_view(key_) > target) corrupt("seek_for_prev landed past its target");
}

}  // namespace lsm4kv::engine
