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

// Decodes the three varints of the entry at data[offset, limit) and checks
// that the entry's bytes lie inside [offset, limit).
bool decode_header(const char* data, uint32_t offset, uint32_t limit, EntryHeader* h) {
  if (offset >= limit) return false;
  std::string_view in(data + offset, limit - offset);
  size_t before = in.size();
  if (!get_varint32(&in, &h->shared) || !get_varint32(&in, &h->unshared) ||
      !get_varint32(&in, &h->value_len)) {
    return false;
  }
  h->header_len = static_cast<uint32_t>(before - in.size());
  return static_cast<uint64_t>(h->unshared) + h->value_len <= in.size();
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
  return Status::ok();
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
  if (status_.is_ok()) status_ = Status::corruption(why);
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
  const char* p = data_ + offset + h.header_len;
  key_.append(p, h.unshared);
  std::string_view value_part(p + h.unshared, h.value_len);
  uint64_t tag;
  if (!get_varint64(&value_part, &tag) || (tag >> 1) > kMaxSequence) {
    corrupt("bad entry tag at block offset " + std::to_string(offset));
    return false;
  }
  type_ = static_cast<EntryType>(tag & 1);
  seq_ = tag >> 1;
  value_ = value_part;
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
  if (!status_.is_ok()) return;
  if (num_restarts_ == 0) return invalidate();
  seek_to_restart(0);
}

void BlockIter::seek_to_last() {
  if (!status_.is_ok()) return;
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
  if (!status_.is_ok()) return;
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
  } else if (status_.is_ok()) {
    seek_to_last();
  }
}

}  // namespace lsm4kv::engine
