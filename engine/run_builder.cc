#include "engine/run_builder.h"

#include <algorithm>

namespace lsm4kv::engine {

RunBuilder::RunBuilder(const RunBuildOptions& options, std::unique_ptr<WritableFile> file)
    : options_(options),
      file_(std::move(file)),
      block_(options.restart_interval),
      bloom_(options.bloom_bits_per_key) {
  props_.bloom_bits_per_key = std::max(0.0, options.bloom_bits_per_key);
  props_.restart_interval = static_cast<uint32_t>(std::max(options.restart_interval, 1));
  props_.block_size = options.block_size;
  if (file_->size() != 0) status_ = Status::invalid_argument("run builder: file not empty");
}

void RunBuilder::note_seq(SequenceNumber seq) {
  props_.min_seq = seen_seq_ ? std::min(props_.min_seq, seq) : seq;
  props_.max_seq = seen_seq_ ? std::max(props_.max_seq, seq) : seq;
  seen_seq_ = true;
}

Status RunBuilder::add(std::string_view key, EntryType type, SequenceNumber seq,
                       std::string_view value) {
  if (!status_.ok()) return status_;
  if (finished_) return Status::invalid_argument("run builder: add after finish");
  if (props_.entries > 0 && !(std::string_view(last_key_) < key)) {
    return Status::invalid_argument("run builder: keys not strictly increasing");
  }
  if (seq > kMaxSequence) return Status::invalid_argument("run builder: sequence too large");
  if (type == EntryType::kDelete) value = {};
  block_.add(key, type, seq, value);
  bloom_.add_key(key);
  if (props_.entries == 0) props_.smallest.assign(key.data(), key.size());
  last_key_.assign(key.data(), key.size());
  props_.entries++;
  props_.raw_key_bytes += key.size();
  props_.raw_value_bytes += value.size();
  note_seq(seq);
  if (block_.size_estimate() >= options_.block_size) status_ = flush_block();
  return status_;
}

void RunBuilder::set_range_tombstones(FragmentedTombstones t) { tombstones_ = std::move(t); }

Status RunBuilder::write_block(std::string contents, BlockHandle* handle) {
  handle->offset = offset_;
  handle->size = contents.size();
  append_block_trailer(&contents);
  Status s = file_->append(contents);
  if (s.ok()) offset_ += contents.size();
  return s;
}

Status RunBuilder::flush_block() {
  if (block_.empty()) return Status::OK();
  std::string first(block_.first_key()), last(block_.last_key());
  BlockHandle handle;
  Status s = write_block(std::string(block_.finish()), &handle);
  if (!s.ok()) return s;
  index_.add(first, last, handle);
  props_.data_blocks++;
  props_.data_bytes += handle.size + kBlockTrailerSize;
  block_.reset();
  return Status::OK();
}

Status RunBuilder::finish(RunMeta* meta) {
  if (!status_.ok()) return status_;
  if (finished_) return Status::invalid_argument("run builder: finish called twice");
  finished_ = true;
  Footer footer;
  status_ = flush_block();
  for (const RangeTombstone& t : tombstones_.fragments()) note_seq(t.seq);
  props_.tombstone_fragments = tombstones_.size();
  props_.largest = props_.entries > 0 ? last_key_ : std::string();
  std::string range_del, filter, props;
  tombstones_.encode_to(&range_del);
  bloom_.finish(&filter);
  props_.encode_to(&props);
  if (status_.ok()) status_ = write_block(std::move(range_del), &footer.range_del);
  if (status_.ok()) status_ = write_block(std::move(filter), &footer.filter);
  if (status_.ok()) status_ = write_block(index_.finish(), &footer.index);
  if (status_.ok()) status_ = write_block(std::move(props), &footer.properties);
  std::string tail;
  footer.encode_to(&tail);
  if (status_.ok()) status_ = file_->append(tail);
  if (status_.ok()) offset_ += tail.size();
  if (status_.ok()) status_ = file_->sync();
  Status closed = file_->close();
  if (status_.ok()) status_ = closed;
  if (!status_.ok()) return status_;
  meta->file_size = offset_;
  meta->entries = props_.entries;
  meta->tombstone_fragments = props_.tombstone_fragments;
  meta->smallest = props_.smallest;
  meta->largest = props_.largest;
  meta->min_seq = props_.min_seq;
  meta->max_seq = props_.max_seq;
  return Status::OK();
}

uint64_t RunBuilder::estimated_file_size() const {
  uint64_t pending = block_.empty() ? 0 : block_.size_estimate() + kBlockTrailerSize;
  return offset_ + pending + index_.size_estimate() + bloom_.size_estimate() +
         props_.smallest.size() + last_key_.size() + 4 * kBlockTrailerSize + 64 + kFooterSize;
}

}  // namespace lsm4kv::engine
