#include "engine/write_batch.h"

#include "base/coding.h"

namespace lsm4kv::engine {

void WriteBatch::clear() {
  rep_.assign(kHeaderSize, '\0');
}

uint32_t WriteBatch::count() const { return decode_fixed32(rep_.data() + 8); }
void WriteBatch::set_count(uint32_t n) { encode_fixed32(rep_.data() + 8, n); }
SequenceNumber WriteBatch::sequence() const { return decode_fixed64(rep_.data()); }
void WriteBatch::set_sequence(SequenceNumber seq) { encode_fixed64(rep_.data(), seq); }

void WriteBatch::put(std::string_view key, std::string_view value) {
  set_count(count() + 1);
  rep_.push_back(static_cast<char>(Kind::kPut));
  put_length_prefixed(&rep_, key);
  put_length_prefixed(&rep_, value);
}

void WriteBatch::delete_key(std::string_view key) {
  set_count(count() + 1);
  rep_.push_back(static_cast<char>(Kind::kDelete));
  put_length_prefixed(&rep_, key);
}

void WriteBatch::delete_range(std::string_view begin, std::string_view end) {
  set_count(count() + 1);
  rep_.push_back(static_cast<char>(Kind::kDeleteRange));
  put_length_prefixed(&rep_, begin);
  put_length_prefixed(&rep_, end);
}

void WriteBatch::append(const WriteBatch& other) {
  set_count(count() + other.count());
  rep_.append(other.rep_, kHeaderSize, std::string::npos);
}

Status WriteBatch::from_rep(std::string_view rep, WriteBatch* out) {
  if (rep.size() < kHeaderSize) return Status::corruption("write batch shorter than its header");
  out->rep_.assign(rep.data(), rep.size());
  return Status::OK();
}

Status WriteBatch::for_each(Handler* handler) const {
  std::string_view in(rep_);
  in.remove_prefix(kHeaderSize);
  SequenceNumber seq = sequence();
  uint32_t n = 0;
  while (!in.empty()) {
    auto kind = static_cast<Kind>(in[0]);
    in.remove_prefix(1);
    std::string_view a, b;
    switch (kind) {
      case Kind::kPut:
        if (!get_length_prefixed(&in, &a) || !get_length_prefixed(&in, &b))
          return Status::corruption("write batch: truncated put");
        handler->put(seq, a, b);
        break;
      case Kind::kDelete:
        if (!get_length_prefixed(&in, &a)) return Status::corruption("write batch: truncated delete");
        handler->delete_key(seq, a);
        break;
      case Kind::kDeleteRange:
        if (!get_length_prefixed(&in, &a) || !get_length_prefixed(&in, &b))
          return Status::corruption("write batch: truncated range delete");
        handler->delete_range(seq, a, b);
        break;
      default:
        return Status::corruption("write batch: unknown operation kind");
    }
    seq++;
    n++;
  }
  if (n != count()) return Status::corruption("write batch: count does not match operations");
  return Status::OK();
}

}  // namespace lsm4kv::engine
