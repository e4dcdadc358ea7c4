// Fuzz target: a data block of a sorted run (engine/block.h, the layout of
// engine/run_format.h) and BlockBuilder, its encoder.
//
// Input: one selector byte, then:
//   bit 0 = 0: block bytes. Block::open over them (contents_size from the
//              next byte: all of them or a few less, as if a trailer
//              followed), then every cursor move. Checked: nothing is read
//              outside the block (ASan); a block that is byte for byte what
//              BlockBuilder writes for the entries a forward scan finds reads
//              back exactly (backward scan, seeks); on any other sorted block
//              a seek that reports no error still lands on the right side.
//   bit 0 = 1: entries (key, type, seq, value) cut from the bytes, sorted
//              and deduplicated, built with BlockBuilder (restart interval
//              from the selector); the block must decode to exactly them and
//              every seek must land on its key.
#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "engine/block.h"
#include "engine/block_builder.h"
#include "test/fuzz/fuzz_util.h"

using namespace lsm4kv::engine;
using lsm4kv::Status;
using lsm4kv::fuzz::Input;

namespace {

struct Entry {
  std::string key;
  EntryType type;
  SequenceNumber seq;
  std::string value;
  bool operator==(const Entry&) const = default;
};

Entry current(const BlockIter& it) {
  return {std::string(it.key()), it.type(), it.seq(), std::string(it.value())};
}

// Every entry front to back; false when the scan met corruption.
bool scan_forward(const Block& b, std::vector<Entry>* out) {
  BlockIter it(&b);
  for (it.seek_to_first(); it.valid(); it.next()) {
    out->push_back(current(it));
    FUZZ_CHECK(out->size() <= b.contents().size());  // an entry takes at least one byte
  }
  return it.status().ok();
}

bool scan_backward(const Block& b, std::vector<Entry>* out) {
  BlockIter it(&b);
  for (it.seek_to_last(); it.valid(); it.prev()) {
    out->push_back(current(it));
    FUZZ_CHECK(out->size() <= b.contents().size());
  }
  std::reverse(out->begin(), out->end());
  return it.status().ok();
}

// True when BlockBuilder, at some restart interval, writes exactly this
// block's contents for these entries.
bool is_canonical(const Block& b, const std::vector<Entry>& entries) {
  const size_t n = entries.size();
  for (size_t r = 1; r <= n; r++) {
    if ((n + r - 1) / r != b.num_restarts()) continue;
    BlockBuilder builder(static_cast<int>(r));
    for (const Entry& e : entries) builder.add(e.key, e.type, e.seq, e.value);
    if (builder.finish() == b.contents()) return true;
  }
  return false;
}

// The seek properties of a block whose keys are strictly increasing. Not
// `exact` (a damaged block): a seek may fail, but one that does not lands on
// a key >= (seek) or <= (seek_for_prev) its target.
void check_seeks(const Block& b, const std::vector<Entry>& entries, std::string_view extra, bool exact) {
  std::vector<std::string> targets;
  for (const Entry& e : entries) {
    targets.push_back(e.key);
    targets.push_back(e.key + '\0');
    if (!e.key.empty()) targets.push_back(e.key.substr(0, e.key.size() - 1));
  }
  targets.emplace_back(extra);
  targets.emplace_back("");
  for (const std::string& t : targets) {
    auto lb = std::lower_bound(entries.begin(), entries.end(), t,
                               [](const Entry& e, const std::string& k) { return e.key < k; });
    BlockIter it(&b);
    it.seek(t);
    if (!exact) {
      if (it.valid()) FUZZ_CHECK(it.key() >= t);
    } else {
      FUZZ_CHECK(it.status().ok());
      if (lb == entries.end()) {
        FUZZ_CHECK(!it.valid());
      } else {
        FUZZ_CHECK(it.valid());
        FUZZ_CHECK(current(it) == *lb);
      }
    }
    // seek_for_prev: the last key <= t.
    auto ub = std::upper_bound(entries.begin(), entries.end(), t,
                               [](const std::string& k, const Entry& e) { return k < e.key; });
    BlockIter jt(&b);
    jt.seek_for_prev(t);
    if (!exact) {
      if (jt.valid()) FUZZ_CHECK(jt.key() <= t);
    } else {
      FUZZ_CHECK(jt.status().ok());
      if (ub == entries.begin()) {
        FUZZ_CHECK(!jt.valid());
      } else {
        FUZZ_CHECK(jt.valid());
        FUZZ_CHECK(current(jt) == *(ub - 1));
      }
    }
  }
}

void decode(uint8_t selector, Input* in) {
  size_t trailer = in->byte() % 16;
  std::string data(in->rest());
  size_t contents = data.size() >= trailer ? data.size() - trailer : data.size();
  std::shared_ptr<const Block> block;
  if (!Block::open(data, contents, &block).ok()) return;
  FUZZ_CHECK(block->contents().size() == contents);
  std::vector<Entry> fwd, bwd;
  bool fwd_ok = scan_forward(*block, &fwd);
  scan_backward(*block, &bwd);
  bool sorted = true;
  for (size_t i = 1; i < fwd.size(); i++) sorted = sorted && fwd[i - 1].key < fwd[i].key;
  if (fwd_ok && sorted && !fwd.empty() && is_canonical(*block, fwd)) {
    // Byte for byte what BlockBuilder writes: every cursor must be exact.
    FUZZ_CHECK(fwd == bwd);
    check_seeks(*block, fwd, data.substr(0, selector % 8), true);
    return;
  }
  // Damaged (the block checksum is what catches that on disk): a restart
  // array that points between entries, say, can make a seek fail or land
  // elsewhere than the scan went. Nothing may be read outside the block
  // (ASan watches), and a seek that reports no error on a sorted block
  // still lands on a key >= its target.
  if (fwd_ok && sorted) check_seeks(*block, fwd, data.substr(0, selector % 8), false);
  BlockIter it(block.get());
  for (const Entry& e : fwd) {
    it.seek(e.key);
    it.seek_for_prev(e.key);
    if (it.valid()) it.next();
    if (it.valid()) it.prev();
  }
}

void round_trip(uint8_t selector, Input* in) {
  const int restart_interval = 1 + (selector >> 1) % 20;
  std::map<std::string, Entry> by_key;
  while (in->left() > 0) {
    Entry e;
    e.key = std::string(in->take(in->byte() % 24));
    uint8_t t = in->byte();
    e.type = (t & 1) ? EntryType::kPut : EntryType::kDelete;
    e.seq = (uint64_t{in->byte()} << 48 | uint64_t{t} << 8 | in->byte()) & kMaxSequence;
    e.value = std::string(in->take(in->byte() % 40));
    by_key.emplace(e.key, e);
  }
  if (by_key.empty()) return;
  std::vector<Entry> entries;
  BlockBuilder builder(restart_interval);
  for (auto& [k, e] : by_key) {
    builder.add(e.key, e.type, e.seq, e.value);
    entries.push_back(e);
  }
  size_t estimate = builder.size_estimate();
  std::string data(builder.finish());
  FUZZ_CHECK(data.size() == estimate);
  FUZZ_CHECK(builder.first_key() == entries.front().key);
  FUZZ_CHECK(builder.last_key() == entries.back().key);
  data.append(9, '\xab');  // bytes after the contents are ignored
  std::shared_ptr<const Block> block;
  Status s = Block::open(data, estimate, &block);
  FUZZ_CHECK(s.ok());
  FUZZ_CHECK(block->base_key() == entries.front().key);
  std::vector<Entry> fwd, bwd;
  FUZZ_CHECK(scan_forward(*block, &fwd));
  FUZZ_CHECK(scan_backward(*block, &bwd));
  FUZZ_CHECK(fwd == entries);
  FUZZ_CHECK(bwd == entries);
  check_seeks(*block, entries, in->rest(), true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  uint8_t selector = in.byte();
  if (selector & 1) round_trip(selector, &in);
  else decode(selector, &in);
  return 0;
}
