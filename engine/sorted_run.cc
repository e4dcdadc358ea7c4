#include "engine/sorted_run.h"

#include <optional>

namespace lsm4kv::engine {

namespace {

std::string offset_str(uint64_t offset) { return " at offset " + std::to_string(offset); }

}  // namespace

// ---- Opening ----

Status SortedRun::open(FileSystem* fs, const std::string& path, uint64_t file_number,
                       BlockCache* cache, EngineCounters* counters,
                       std::shared_ptr<SortedRun>* out) {
  std::shared_ptr<SortedRun> run(new SortedRun());
  run->path_ = path;
  run->file_number_ = file_number;
  run->cache_ = cache;
  run->counters_ = counters;
  LSM4KV_RETURN_IF_ERROR(fs->new_random_access(path, &run->file_));
  run->file_size_ = run->file_->size();
  if (run->file_size_ < kFooterSize) {
    return Status::corruption(path + ": file too short for a sorted run (" +
                              std::to_string(run->file_size_) + " bytes)");
  }
  uint64_t footer_offset = run->file_size_ - kFooterSize;
  char buf[kFooterSize];
  size_t got = 0;
  Status s = run->file_->read(footer_offset, kFooterSize, buf, &got);
  if (!s.ok()) return Status::io_error(path + ": reading footer: " + s.message());
  if (got != kFooterSize) return Status::corruption(path + ": truncated footer");
  s = Footer::decode_from(std::string_view(buf, kFooterSize), footer_offset, &run->footer_);
  if (!s.ok()) return run->annotate(s, footer_offset);
  LSM4KV_RETURN_IF_ERROR(run->load_tail(run->footer_));
  *out = std::move(run);
  return Status::OK();
}

// Reads the four tail blocks (contiguous, so in one read) and cross-checks
// what they say about each other.
Status SortedRun::load_tail(const Footer& footer) {
  BlockHandle tail{footer.range_del.offset,
                   footer.properties.end_with_trailer() - footer.range_del.offset};
  std::string buf(tail.size, '\0');
  size_t got = 0;
  Status s = file_->read(tail.offset, tail.size, buf.data(), &got);
  if (!s.ok()) return Status::io_error(path_ + ": reading tail blocks: " + s.message());
  if (got != tail.size) return annotate(Status::corruption("truncated tail blocks"), tail.offset);
  struct Part {
    BlockHandle handle;
    Status (*decode)(SortedRun*, std::string_view);
  };
  // Properties first: the other blocks are checked against them below.
  const Part parts[] = {
      {footer.properties,
       [](SortedRun* r, std::string_view in) { return RunProperties::decode_from(in, &r->props_); }},
      {footer.range_del,
       [](SortedRun* r, std::string_view in) {
         return FragmentedTombstones::decode_from(in, &r->tombstones_);
       }},
      {footer.filter,
       [](SortedRun* r, std::string_view in) { return BloomFilter::decode_from(in, &r->bloom_); }},
      {footer.index,
       [](SortedRun* r, std::string_view in) {
         return FencePointers::decode_from(in, r->footer_.range_del.offset, &r->fences_);
       }},
  };
  for (const Part& part : parts) {
    const char* p = buf.data() + (part.handle.offset - tail.offset);
    s = check_block_trailer(p, part.handle.size, "tail block");
    if (s.ok()) s = part.decode(this, std::string_view(p, part.handle.size));
    if (!s.ok()) return annotate(s, part.handle.offset);
  }
  size_t n = fences_.size();
  bool consistent =
      n == props_.data_blocks && props_.data_bytes == footer.range_del.offset &&
      props_.tombstone_fragments == tombstones_.size() && (n == 0) == (props_.entries == 0) &&
      (n == 0 || (fences_.first(0) == props_.smallest && fences_.last(n - 1) == props_.largest));
  if (!consistent) {
    return annotate(Status::corruption("properties disagree with the index"),
                    footer.properties.offset);
  }
  return Status::OK();
}

Status SortedRun::annotate(const Status& s, uint64_t offset) const {
  if (s.ok()) return s;
  std::string msg = path_ + ": " + s.message() + offset_str(offset);
  return s.is_corruption() ? Status::corruption(msg) : Status::io_error(msg);
}

// ---- Reading blocks ----

Status SortedRun::read_raw(BlockHandle handle, std::string* buf) const {
  size_t n = handle.size + kBlockTrailerSize;
  buf->resize(n);
  size_t got = 0;
  Status s = file_->read(handle.offset, n, buf->data(), &got);
  if (!s.ok()) return annotate(Status::io_error("reading block: " + s.message()), handle.offset);
  if (got != n) return annotate(Status::corruption("truncated block"), handle.offset);
  return annotate(check_block_trailer(buf->data(), handle.size, "block"), handle.offset);
}

Status SortedRun::read_block(size_t index, const ReadOptions& ro,
                             std::shared_ptr<const Block>* out) const {
  BlockHandle h = fences_.handle(index);
  if (cache_ != nullptr) {
    std::shared_ptr<const Block> cached = cache_->lookup(file_number_, h.offset);
    if (cached != nullptr) {
      count(&EngineCounters::block_cache_hits);
      if (ro.verify_cached && cached->raw().size() == h.size + kBlockTrailerSize) {
        LSM4KV_RETURN_IF_ERROR(annotate(
            check_block_trailer(cached->raw().data(), h.size, "cached block"), h.offset));
      }
      *out = std::move(cached);
      return Status::OK();
    }
  }
  std::string buf;
  LSM4KV_RETURN_IF_ERROR(read_raw(h, &buf));
  count(&EngineCounters::blocks_read);
  count(&EngineCounters::block_bytes_read, buf.size());
  LSM4KV_RETURN_IF_ERROR(annotate(Block::open(std::move(buf), h.size, out), h.offset));
  if (cache_ != nullptr && ro.fill_cache) {
    cache_->insert(file_number_, h.offset, *out, (*out)->charge());
  }
  return Status::OK();
}

// ---- Point lookups ----

Status SortedRun::get(std::string_view key, const ReadOptions& ro, RunLookup* out) const {
  return get(key, BloomFilter::hash(key), ro, out);
}

Status SortedRun::get(std::string_view key, uint64_t key_hash, const ReadOptions& ro,
                      RunLookup* out) const {
  *out = RunLookup();
  if (bloom_.empty()) return search(key, ro, out);
  count(&EngineCounters::bloom_checked);
  if (!bloom_.may_contain_hash(key_hash)) {
    count(&EngineCounters::bloom_negatives);
    return Status::OK();
  }
  Status s = search(key, ro, out);
  if (s.ok() && !out->found) count(&EngineCounters::bloom_false_positives);
  return s;
}

Status SortedRun::get_unfiltered(std::string_view key, const ReadOptions& ro,
                                 RunLookup* out) const {
  *out = RunLookup();
  return search(key, ro, out);
}

Status SortedRun::search(std::string_view key, const ReadOptions& ro, RunLookup* out) const {
  size_t i = fences_.lower_bound(key);
  // Between two blocks, or outside the run: no block holds the key.
  if (i == fences_.size() || key < fences_.first(i)) return Status::OK();
  count(&EngineCounters::runs_probed);
  std::shared_ptr<const Block> block;
  LSM4KV_RETURN_IF_ERROR(read_block(i, ro, &block));
  BlockIter it(block.get());
  it.seek(key);
  if (!it.status().ok()) return annotate(it.status(), fences_.handle(i).offset);
  if (it.valid() && it.key() == key) {
    out->found = true;
    out->type = it.type();
    out->seq = it.seq();
    out->value.assign(it.value().data(), it.value().size());
  }
  return Status::OK();
}

// ---- Iterator ----

namespace {

// Walks the data blocks in fence order, one BlockIter at a time.
class RunIterator final : public InternalIterator {
 public:
  RunIterator(std::shared_ptr<const SortedRun> run, const ReadOptions& ro)
      : run_(std::move(run)), ro_(ro) {}

  bool valid() const override { return status_.ok() && iter_ && iter_->valid(); }
  void seek_to_first() override {
    if (start() && load(0)) iter_->seek_to_first();
    skip_forward();
  }
  void seek_to_last() override {
    size_t n = run_->num_blocks();
    if (start() && n > 0 && load(n - 1)) iter_->seek_to_last();
    skip_backward();
  }
  void seek(std::string_view target) override {
    if (start() && load(run_->fences().lower_bound(target))) iter_->seek(target);
    skip_forward();
  }
  void seek_for_prev(std::string_view target) override {
    if (start() && load(run_->fences().last_starting_at_or_before(target))) {
      iter_->seek_for_prev(target);
    }
    skip_backward();
  }
  void next() override {
    if (!valid()) return;
    iter_->next();
    skip_forward();
  }
  void prev() override {
    if (!valid()) return;
    iter_->prev();
    skip_backward();
  }
  std::string_view key() const override { return iter_->key(); }
  std::string_view value() const override { return iter_->value(); }
  EntryType type() const override { return iter_->type(); }
  SequenceNumber seq() const override { return iter_->seq(); }
  Status status() const override { return status_; }

 private:
  // Every positioning starts afresh, forgetting an earlier error.
  bool start() {
    status_ = Status::OK();
    iter_.reset();
    return true;
  }
  // Positions on block i (unpositioned); false (invalid) when i is past the
  // end or the block cannot be read.
  bool load(size_t i) {
    iter_.reset();
    if (i >= run_->num_blocks()) return false;
    if (block_ == nullptr || index_ != i) {
      block_.reset();
      Status s = run_->read_block(i, ro_, &block_);
      if (!s.ok()) {
        status_ = s;
        return false;
      }
      index_ = i;
    }
    iter_.emplace(block_.get());
    return true;
  }
  // After a move inside the block: on to the next (previous) block when the
  // move left it. Blocks are never empty, but an empty one is skipped.
  void skip_forward() {
    while (iter_ && !iter_->valid() && check_block()) {
      if (!load(index_ + 1)) return;
      iter_->seek_to_first();
    }
    check_block();
  }
  void skip_backward() {
    while (iter_ && !iter_->valid() && check_block()) {
      if (index_ == 0 || !load(index_ - 1)) return iter_.reset();
      iter_->seek_to_last();
    }
    check_block();
  }
  // False (and status_ set) when the block iterator met a malformed entry.
  bool check_block() {
    if (!iter_ || iter_->status().ok()) return true;
    status_ = run_->annotate(iter_->status(), run_->fences().handle(index_).offset);
    iter_.reset();
    return false;
  }

  std::shared_ptr<const SortedRun> run_;
  ReadOptions ro_;
  std::shared_ptr<const Block> block_;
  size_t index_ = 0;                // of block_
  std::optional<BlockIter> iter_;   // over block_ when positioned
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> SortedRun::new_iterator(const ReadOptions& ro) const {
  return std::make_unique<RunIterator>(shared_from_this(), ro);
}

// ---- Verification ----

Status SortedRun::verify_data_block(size_t index, std::string* prev_key, uint64_t* count) const {
  BlockHandle h = fences_.handle(index);
  std::string buf;
  LSM4KV_RETURN_IF_ERROR(read_raw(h, &buf));
  std::shared_ptr<const Block> block;
  LSM4KV_RETURN_IF_ERROR(annotate(Block::open(std::move(buf), h.size, &block), h.offset));
  BlockIter it(block.get());
  bool first = true;
  for (it.seek_to_first(); it.valid(); it.next()) {
    if (first && it.key() != fences_.first(index)) {
      return annotate(Status::corruption("first key differs from its fence"), h.offset);
    }
    if (*count > 0 && !(std::string_view(*prev_key) < it.key())) {
      return annotate(Status::corruption("keys out of order"), h.offset);
    }
    prev_key->assign(it.key().data(), it.key().size());
    first = false;
    (*count)++;
  }
  LSM4KV_RETURN_IF_ERROR(annotate(it.status(), h.offset));
  if (first || *prev_key != fences_.last(index)) {
    return annotate(Status::corruption("last key differs from its fence"), h.offset);
  }
  return Status::OK();
}

Status SortedRun::verify() const {
  std::string buf;
  for (BlockHandle h : {footer_.range_del, footer_.filter, footer_.index, footer_.properties}) {
    LSM4KV_RETURN_IF_ERROR(read_raw(h, &buf));
  }
  std::string prev_key;
  uint64_t n = 0;
  for (size_t i = 0; i < fences_.size(); i++) {
    LSM4KV_RETURN_IF_ERROR(verify_data_block(i, &prev_key, &n));
  }
  if (n != props_.entries) {
    return Status::corruption(path_ + ": holds " + std::to_string(n) + " entries, properties say " +
                              std::to_string(props_.entries));
  }
  return Status::OK();
}

}  // namespace lsm4kv::engine
