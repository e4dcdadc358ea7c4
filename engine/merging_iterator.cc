#include "engine/merging_iterator.h"

#include <string>

namespace lsm4kv::engine {
namespace {

class MergingIterator final : public InternalIterator {
 public:
  explicit MergingIterator(std::vector<std::unique_ptr<InternalIterator>> children)
      : children_(std::move(children)) {}

  bool valid() const override { return current_ != nullptr && status_.ok(); }
  void seek_to_first() override {
    for (auto& c : children_) c->seek_to_first();
    pick_smallest();
  }
  void seek_to_last() override {
    for (auto& c : children_) c->seek_to_last();
    pick_largest();
  }
  void seek(std::string_view target) override {
    for (auto& c : children_) c->seek(target);
    pick_smallest();
  }
  void seek_for_prev(std::string_view target) override {
    for (auto& c : children_) c->seek_for_prev(target);
    pick_largest();
  }
  void next() override {
    std::string cur(current_->key());
    if (!forward_) {
      for (auto& c : children_)
        if (!(c->valid() && c->key() == cur)) {
          c->seek(cur);
          if (c->valid() && c->key() == cur) c->next();
        }
    }
    for (auto& c : children_)
      if (c->valid() && c->key() == cur) c->next();
    pick_smallest();
  }
  void prev() override {
    std::string cur(current_->key());
    if (forward_) {
      for (auto& c : children_)
        if (!(c->valid() && c->key() == cur)) {
          c->seek_for_prev(cur);
          if (c->valid() && c->key() == cur) c->prev();
        }
    }
    for (auto& c : children_)
      if (c->valid() && c->key() == cur) c->prev();
    pick_largest();
  }
  std::string_view key() const override { return current_->key(); }
  std::string_view value() const override { return current_->value(); }
  EntryType type() const override { return current_->type(); }
  SequenceNumber seq() const override { return current_->seq(); }
  Status status() const override { return status_; }

 private:
  // Ties go to the earlier (newer) child: strict comparisons keep the first.
  void pick_smallest() {
    forward_ = true;
    current_ = nullptr;
    for (auto& c : children_) {
      if (!check(c.get())) return;
      if (c->valid() && (current_ == nullptr || c->key() < current_->key())) current_ = c.get();
    }
  }
  void pick_largest() {
    forward_ = false;
    current_ = nullptr;
    for (auto& c : children_) {
      if (!check(c.get())) return;
      if (c->valid() && (current_ == nullptr || c->key() > current_->key())) current_ = c.get();
    }
  }
  bool check(InternalIterator* c) {
    Status s = c->status();
    if (s.ok()) return true;
    status_ = s;
    current_ = nullptr;
    return false;
  }

  std::vector<std::unique_ptr<InternalIterator>> children_;
  InternalIterator* current_ = nullptr;
  bool forward_ = true;
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> new_merging_iterator(
    std::vector<std::unique_ptr<InternalIterator>> children_newest_first) {
  return std::make_unique<MergingIterator>(std::move(children_newest_first));
}

}  // namespace lsm4kv::engine
