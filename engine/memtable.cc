#include "engine/memtable.h"

#include <cstring>
#include <mutex>

#include "base/coding.h"

namespace lsm4kv::engine {
namespace {

struct Decoded {
  std::string_view key;
  SequenceNumber seq;
  EntryType type;
  const char* value_start;  // at the value's varint length
};

// Entries were encoded by us into the arena: decoding cannot fail.
Decoded decode_entry(const char* p) {
  std::string_view in(p, 5 + 1);  // enough for a varint32; we re-span below
  uint32_t klen;
  get_varint32(&in, &klen);
  const char* k = in.data();
  uint64_t tag = decode_fixed64(k + klen);
  return {std::string_view(k, klen), tag >> 8, static_cast<EntryType>(tag & 0xff), k + klen + 8};
}

std::string_view decode_value(const char* value_start) {
  std::string_view in(value_start, 5);
  uint32_t vlen;
  get_varint32(&in, &vlen);
  return std::string_view(in.data(), vlen);
}

// An encoded lookup key: sorts before every version of key with seq <= seq
// (type kPut is the larger tag byte, so it sorts first among equal seqs).
std::string lookup_key(std::string_view key, SequenceNumber seq) {
  std::string out;
  put_varint32(&out, static_cast<uint32_t>(key.size()));
  out.append(key);
  put_fixed64(&out, (seq << 8) | static_cast<uint64_t>(EntryType::kPut));
  return out;
}

}  // namespace

int MemTable::KeyCompare::operator()(const char* a, const char* b) const {
  Decoded da = decode_entry(a), db = decode_entry(b);
  int c = da.key.compare(db.key);
  if (c != 0) return c;
  uint64_t ta = (da.seq << 8) | static_cast<uint64_t>(da.type);
  uint64_t tb = (db.seq << 8) | static_cast<uint64_t>(db.type);
  return ta > tb ? -1 : (ta < tb ? 1 : 0);
}

MemTable::MemTable() : table_(KeyCompare{}, &arena_) {}

void MemTable::add(SequenceNumber seq, EntryType type, std::string_view key,
                   std::string_view value) {
  size_t len = varint_length(key.size()) + key.size() + 8 + varint_length(value.size()) + value.size();
  char* buf = arena_.allocate(len, 1);
  std::string enc;  // the entry's bytes, assembled with the shared coding helpers
  enc.reserve(len);
  put_varint32(&enc, static_cast<uint32_t>(key.size()));
  enc.append(key);
  put_fixed64(&enc, (seq << 8) | static_cast<uint64_t>(type));
  put_varint32(&enc, static_cast<uint32_t>(value.size()));
  enc.append(value);
  std::memcpy(buf, enc.data(), len);
  table_.insert(buf);
  entries_.fetch_add(1, std::memory_order_relaxed);
}

void MemTable::add_range_tombstone(SequenceNumber seq, std::string_view begin,
                                   std::string_view end) {
  std::unique_lock lock(tombstones_mu_);
  if (!tombstones_.empty() && seq < tombstones_.back().seq) tombstones_in_order_ = false;
  tombstones_.push_back({std::string(begin), std::string(end), seq});
  tombstone_count_.fetch_add(1, std::memory_order_relaxed);
  tombstone_bytes_.fetch_add(begin.size() + end.size() + 64, std::memory_order_relaxed);
}

void MemTable::get(std::string_view key, SequenceNumber snapshot, MemLookup* out) const {
  out->found = false;
  std::string target = lookup_key(key, snapshot);
  Table::Cursor c(&table_);
  c.seek(target.data());
  if (!c.valid()) return;
  Decoded d = decode_entry(c.entry());
  if (d.key != key) return;
  out->found = true;
  out->type = d.type;
  out->seq = d.seq;
  out->value.assign(d.type == EntryType::kPut ? decode_value(d.value_start) : std::string_view());
}

SequenceNumber MemTable::max_covering_tombstone(std::string_view key,
                                                SequenceNumber snapshot) const {
  if (tombstone_count_.load(std::memory_order_relaxed) == 0) return 0;
  return fragmented_tombstones(snapshot)->max_covering_seq(key);
}

std::shared_ptr<const FragmentedTombstones> MemTable::fragmented_tombstones(
    SequenceNumber snapshot) const {
  // Up to this many new tombstones are laid over the last cut one by one
  // (O(fragments) each) rather than cut again with the rest (O(n log n)).
  constexpr size_t kIncremental = 16;
  static const auto kNone = std::make_shared<const FragmentedTombstones>();
  if (tombstone_count_.load(std::memory_order_relaxed) == 0) return kNone;
  std::shared_ptr<const FragmentedTombstones> base;  // the cut to extend, if any
  std::vector<RangeTombstone> todo;  // what to cut, or to lay over base
  size_t n = 0;
  {
    std::shared_lock lock(tombstones_mu_);
    if (!tombstones_in_order_) {  // no prefix to cache: cut the ones visible
      for (const RangeTombstone& t : tombstones_)
        if (t.seq <= snapshot) todo.push_back(t);
      return std::make_shared<const FragmentedTombstones>(todo);
    }
    n = tombstones_.size();
    while (n > 0 && tombstones_[n - 1].seq > snapshot) --n;
    size_t from = 0;
    {
      std::lock_guard g(cut_mu_);
      if (cut_ && cut_count_ == n) return cut_;
      if (cut_ && cut_count_ < n && n - cut_count_ <= kIncremental) {
        base = cut_;
        from = cut_count_;
      }
    }
    todo.assign(tombstones_.begin() + static_cast<long>(from),
                tombstones_.begin() + static_cast<long>(n));
  }
  std::shared_ptr<const FragmentedTombstones> cut;
  if (base) {
    FragmentedTombstones f = base->with(todo[0]);
    for (size_t i = 1; i < todo.size(); ++i) f = f.with(todo[i]);
    cut = std::make_shared<const FragmentedTombstones>(std::move(f));
  } else {
    cut = std::make_shared<const FragmentedTombstones>(todo);
  }
  std::lock_guard g(cut_mu_);
  if (!cut_ || n >= cut_count_) {  // an older snapshot's cut does not replace a newer one
    cut_ = cut;
    cut_count_ = n;
  }
  return cut;
}

size_t MemTable::memory_usage() const {
  return arena_.memory_usage() + tombstone_bytes_.load(std::memory_order_relaxed);
}

// Resolves the skip list's versions to the newest one <= snapshot per key.
class MemTableIterator final : public InternalIterator {
 public:
  MemTableIterator(const MemTable* mem, SequenceNumber snapshot)
      : mem_(mem), cursor_(&mem->table_), snapshot_(snapshot) {}

  bool valid() const override { return cursor_.valid(); }
  void seek_to_first() override {
    cursor_.seek_to_first();
    resolve_forward();
  }
  void seek_to_last() override {
    cursor_.seek_to_last();
    resolve_backward();
  }
  void seek(std::string_view target) override {
    std::string k = lookup_key(target, snapshot_);
    cursor_.seek(k.data());
    resolve_forward();
  }
  void seek_for_prev(std::string_view target) override {
    // Sorts after every version of target: seq 0 with the smallest type.
    std::string k = lookup_key(target, 0);
    k[k.size() - 8] = 0;  // tag 0 sorts after every real version of target
    cursor_.seek_before(k.data());
    resolve_backward();
  }
  void next() override {
    std::string_view key = current_.key;
    do {
      cursor_.next();
    } while (cursor_.valid() && decode_entry(cursor_.entry()).key == key);
    resolve_forward();
  }
  void prev() override {
    std::string k = lookup_key(current_.key, kMaxSequence);
    cursor_.seek_before(k.data());
    resolve_backward();
  }
  std::string_view key() const override { return current_.key; }
  std::string_view value() const override {
    return current_.type == EntryType::kPut ? decode_value(current_.value_start) : std::string_view();
  }
  EntryType type() const override { return current_.type; }
  SequenceNumber seq() const override { return current_.seq; }
  Status status() const override { return Status::OK(); }

 private:
  // From the cursor's position forward: the first key with a version <= snapshot.
  void resolve_forward() {
    while (cursor_.valid()) {
      Decoded d = decode_entry(cursor_.entry());
      if (d.seq <= snapshot_) {
        current_ = d;
        return;
      }
      std::string k = lookup_key(d.key, snapshot_);
      cursor_.seek(k.data());  // the newest version <= snapshot, or the next key
      if (cursor_.valid() && decode_entry(cursor_.entry()).key == d.key) {
        current_ = decode_entry(cursor_.entry());
        return;
      }
    }
  }
  // The cursor sits on some version of a key; back off to the nearest key at
  // or before it that has a version <= snapshot, and take that version.
  void resolve_backward() {
    while (cursor_.valid()) {
      Decoded d = decode_entry(cursor_.entry());
      std::string k = lookup_key(d.key, snapshot_);
      MemTable::Table::Cursor probe(&mem_->table_);
      probe.seek(k.data());
      if (probe.valid() && decode_entry(probe.entry()).key == d.key) {
        cursor_ = probe;
        current_ = decode_entry(cursor_.entry());
        return;
      }
      std::string before = lookup_key(d.key, kMaxSequence);
      cursor_.seek_before(before.data());
    }
  }

  const MemTable* mem_;
  MemTable::Table::Cursor cursor_;
  SequenceNumber snapshot_;
  Decoded current_{};
};

std::unique_ptr<InternalIterator> MemTable::new_iterator(SequenceNumber snapshot) const {
  return std::make_unique<MemTableIterator>(this, snapshot);
}

}  // namespace lsm4kv::engine
