// Fuzz target: WriteBatch, the WAL record payload (engine/write_batch.h).
//
// Input: one selector byte, then:
//   bit 0 = 0: an encoded batch. from_rep + for_each accept or reject it; a
//              batch that decodes re-encodes (put/delete_key/delete_range
//              with the same first sequence) to a batch that decodes to the
//              same operations, with sequences first + j.
//   bit 0 = 1: operations cut from the bytes -> a batch, split in two and
//              joined again with append() -> for_each == the operations;
//              every strict prefix of the encoding is rejected or decodes
//              to fewer operations than the count says (never accepted).
#include <string>
#include <tuple>
#include <vector>

#include "engine/write_batch.h"
#include "test/fuzz/fuzz_util.h"

using lsm4kv::Status;
using lsm4kv::engine::SequenceNumber;
using lsm4kv::engine::WriteBatch;
using lsm4kv::fuzz::Input;

namespace {

struct Op {
  WriteBatch::Kind kind;
  SequenceNumber seq;
  std::string a, b;
  bool operator==(const Op&) const = default;
};

class Collect : public WriteBatch::Handler {
 public:
  std::vector<Op> ops;
  void put(SequenceNumber seq, std::string_view k, std::string_view v) override {
    ops.push_back({WriteBatch::Kind::kPut, seq, std::string(k), std::string(v)});
  }
  void delete_key(SequenceNumber seq, std::string_view k) override {
    ops.push_back({WriteBatch::Kind::kDelete, seq, std::string(k), ""});
  }
  void delete_range(SequenceNumber seq, std::string_view b, std::string_view e) override {
    ops.push_back({WriteBatch::Kind::kDeleteRange, seq, std::string(b), std::string(e)});
  }
};

void add(WriteBatch* b, const Op& op) {
  switch (op.kind) {
    case WriteBatch::Kind::kPut: b->put(op.a, op.b); break;
    case WriteBatch::Kind::kDelete: b->delete_key(op.a); break;
    case WriteBatch::Kind::kDeleteRange: b->delete_range(op.a, op.b); break;
  }
}

Status decode(std::string_view rep, std::vector<Op>* ops) {
  WriteBatch b;
  Status s = WriteBatch::from_rep(rep, &b);
  if (!s.ok()) return s;
  FUZZ_CHECK(b.byte_size() == rep.size());
  Collect c;
  s = b.for_each(&c);
  if (s.ok()) {
    FUZZ_CHECK(c.ops.size() == b.count());
    for (size_t j = 0; j < c.ops.size(); j++) FUZZ_CHECK(c.ops[j].seq == b.sequence() + j);
  }
  *ops = std::move(c.ops);
  return s;
}

void decode_bytes(std::string_view bytes) {
  std::vector<Op> ops;
  Status s = decode(bytes, &ops);
  if (!s.ok()) {
    FUZZ_CHECK(s.is_corruption());
    return;
  }
  WriteBatch again;
  for (const Op& op : ops) add(&again, op);
  WriteBatch first;
  WriteBatch::from_rep(bytes, &first);
  again.set_sequence(first.sequence());
  std::vector<Op> ops2;
  FUZZ_CHECK(decode(again.rep(), &ops2).ok());
  FUZZ_CHECK(ops2 == ops);
}

void round_trip(Input* in) {
  SequenceNumber first = in->byte() | SequenceNumber{in->byte()} << 40;
  size_t split = in->byte();
  std::vector<Op> ops;
  while (in->left() > 0) {
    uint8_t k = in->byte() % 3;
    Op op{static_cast<WriteBatch::Kind>(k + 1), 0, std::string(in->take(in->byte() % 32)), ""};
    if (op.kind != WriteBatch::Kind::kDelete) op.b = std::string(in->take(in->byte() % 200));
    ops.push_back(std::move(op));
  }
  WriteBatch head, tail;
  for (size_t j = 0; j < ops.size(); j++) {
    ops[j].seq = first + j;
    add(j < split ? &head : &tail, ops[j]);
  }
  head.append(tail);
  head.set_sequence(first);
  FUZZ_CHECK(head.count() == ops.size());
  std::vector<Op> got;
  FUZZ_CHECK(decode(head.rep(), &got).ok());
  FUZZ_CHECK(got == ops);
  if (ops.empty()) return;
  // A batch cut short (a torn WAL payload would fail its checksum first,
  // but the batch must not rely on that) is never accepted whole.
  const std::string& rep = head.rep();
  for (size_t cut : {rep.size() - 1, WriteBatch::kHeaderSize + 1, (rep.size() + WriteBatch::kHeaderSize) / 2}) {
    if (cut >= rep.size()) continue;
    std::vector<Op> part;
    FUZZ_CHECK(!decode(std::string_view(rep).substr(0, cut), &part).ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return lsm4kv::fuzz::two_modes(data, size, decode_bytes, round_trip);
}
