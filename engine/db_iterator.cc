// The user-facing iterator: a merged view of the memtables and runs of one
// read snapshot, showing each key's newest version unless it is a delete or
// hidden by a newer range tombstone.
#include "engine/db_impl.h"
#include "engine/merging_iterator.h"

namespace lsm4kv::engine {

class DBIterator final : public Iterator {
 public:
  DBIterator(ReadState st, const ReadOptions& ro, EngineCounters* counters)
      : st_(std::move(st)), counters_(counters) {
    std::vector<std::unique_ptr<InternalIterator>> children;
    for (const MemTable* m : {st_.mem.get(), st_.imm.get()}) {
      if (m == nullptr) continue;
      children.push_back(m->new_iterator(st_.snapshot));
      auto t = m->fragmented_tombstones(st_.snapshot);
      if (!t->empty()) mem_tombstones_.push_back(std::move(t));
    }
    st_.version->for_each_run([&](int, const auto& r) { children.push_back(r->new_iterator(ro)); });
    merged_ = new_merging_iterator(std::move(children));
  }

  bool valid() const override { return merged_->valid(); }
  void seek_to_first() override {
    count_seek();
    merged_->seek_to_first();
    skip_forward();
  }
  void seek_to_last() override {
    count_seek();
    merged_->seek_to_last();
    skip_backward();
  }
  void seek(std::string_view target) override {
    count_seek();
    merged_->seek(target);
    skip_forward();
  }
  void seek_for_prev(std::string_view target) override {
    count_seek();
    merged_->seek_for_prev(target);
    skip_backward();
  }
  void next() override {
    merged_->next();
    skip_forward();
  }
  void prev() override {
    merged_->prev();
    skip_backward();
  }
  std::string_view key() const override { return merged_->key(); }
  std::string_view value() const override { return merged_->value(); }
  Status status() const override { return merged_->status(); }

 private:
  bool visible() const {
    if (merged_->type() != EntryType::kPut) return false;
    std::string_view k = merged_->key();
    SequenceNumber t = st_.run_tombstones->max_covering_seq(k);
    for (const auto& m : mem_tombstones_) t = std::max(t, m->max_covering_seq(k));
    return t <= merged_->seq();  // hidden only by a strictly newer tombstone
  }
  void skip_forward() {
    while (merged_->valid() && !visible()) merged_->next();
  }
  void skip_backward() {
    while (merged_->valid() && !visible()) merged_->prev();
  }
  void count_seek() { counters_->seeks.fetch_add(1, std::memory_order_relaxed); }

  ReadState st_;
  EngineCounters* counters_;
  // The memtables' tombstones (cut and shared by the memtables), not empty.
  std::vector<std::shared_ptr<const FragmentedTombstones>> mem_tombstones_;
  std::unique_ptr<InternalIterator> merged_;
};

std::unique_ptr<Iterator> DBImpl::new_iterator(const ReadOptions& ro) {
  return std::make_unique<DBIterator>(read_state(), ro, &counters_);
}

}  // namespace lsm4kv::engine
