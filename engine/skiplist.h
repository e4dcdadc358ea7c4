// SkipList: the ordered index of the memtable. One writer inserts while any
// number of readers search and iterate without locks (as in LevelDB): nodes
// are never removed or modified after insertion, and a node's next pointers
// are published with release stores, read with acquire loads.
//
// Entries are pointers to bytes owned by the caller's Arena; Compare is a
// functor int(const char* a, const char* b).
//
// Thread-safety: insert() requires external synchronization (one writer at
// a time); readers need none, as long as the SkipList outlives them.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <random>
#include <vector>

namespace lsm4kv::engine {

// Bump allocator for memtable entries and skip-list nodes. Memory is freed
// all at once when the Arena is destroyed.
class Arena {
 public:
  char* allocate(size_t bytes, size_t align = alignof(std::max_align_t)) {
    size_t pad = (align - reinterpret_cast<uintptr_t>(ptr_) % align) % align;
    if (pad + bytes > left_) {
      size_t size = bytes + align > kBlockSize / 4 ? bytes + align : kBlockSize;
      blocks_.emplace_back(new char[size]);
      ptr_ = blocks_.back().get();
      left_ = size;
      pad = (align - reinterpret_cast<uintptr_t>(ptr_) % align) % align;
    }
    usage_.fetch_add(pad + bytes, std::memory_order_relaxed);
    char* out = ptr_ + pad;
    ptr_ += pad + bytes;
    left_ -= pad + bytes;
    return out;
  }
  // Bytes handed out (the unused tail of the current block is not counted,
  // so that a small write buffer is not "full" after its first entry).
  size_t memory_usage() const { return usage_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kBlockSize = 64 << 10;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* ptr_ = nullptr;
  size_t left_ = 0;
  std::atomic<size_t> usage_{0};
};

template <typename Compare>
class SkipList {
  struct Node;

 public:
  SkipList(Compare cmp, Arena* arena) : cmp_(cmp), arena_(arena), head_(new_node(nullptr, kMaxHeight)) {}

  // REQUIRES: no entry comparing equal is in the list; external sync.
  void insert(const char* entry) {
    Node* prev[kMaxHeight];
    Node* x = find_greater_or_equal(entry, prev);
    assert(x == nullptr || cmp_(entry, x->entry) != 0);
    (void)x;
    int height = random_height();
    int cur = max_height_.load(std::memory_order_relaxed);
    if (height > cur) {
      for (int i = cur; i < height; i++) prev[i] = head_;
      max_height_.store(height, std::memory_order_relaxed);
    }
    Node* n = new_node(entry, height);
    for (int i = 0; i < height; i++) {
      n->set_next_relaxed(i, prev[i]->next_relaxed(i));
      prev[i]->set_next(i, n);
    }
  }

  // Cursor over the list; valid while the list lives.
  class Cursor {
   public:
    explicit Cursor(const SkipList* list) : list_(list) {}
    bool valid() const { return node_ != nullptr; }
    const char* entry() const { return node_->entry; }
    void next() { node_ = node_->next(0); }
    void prev() {
      node_ = list_->find_less_than(node_->entry);
      if (node_ == list_->head_) node_ = nullptr;
    }
    void seek(const char* target) { node_ = list_->find_greater_or_equal(target, nullptr); }
    // Last entry < target.
    void seek_before(const char* target) {
      node_ = list_->find_less_than(target);
      if (node_ == list_->head_) node_ = nullptr;
    }
    void seek_to_first() { node_ = list_->head_->next(0); }
    void seek_to_last() {
      node_ = list_->find_last();
      if (node_ == list_->head_) node_ = nullptr;
    }

   private:
    const SkipList* list_;
    Node* node_ = nullptr;
  };

 private:
  static constexpr int kMaxHeight = 12;

  struct Node {
    const char* entry;
    std::atomic<Node*> next_[1];  // over-allocated to the node's height
    Node* next(int i) const { return next_[i].load(std::memory_order_acquire); }
    void set_next(int i, Node* n) { next_[i].store(n, std::memory_order_release); }
    Node* next_relaxed(int i) const { return next_[i].load(std::memory_order_relaxed); }
    void set_next_relaxed(int i, Node* n) { next_[i].store(n, std::memory_order_relaxed); }
  };

  Node* new_node(const char* entry, int height) {
    char* mem = arena_->allocate(sizeof(Node) + sizeof(std::atomic<Node*>) * (height - 1),
                                 alignof(Node));
    Node* n = new (mem) Node{entry, {}};
    for (int i = 1; i < height; i++) new (&n->next_[i]) std::atomic<Node*>(nullptr);
    n->next_[0].store(nullptr, std::memory_order_relaxed);
    return n;
  }

  int random_height() {
    int h = 1;
    while (h < kMaxHeight && (rng_() & 3) == 0) h++;
    return h;
  }

  Node* find_greater_or_equal(const char* key, Node** prev) const {
    Node* x = head_;
    int level = max_height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      Node* next = x->next(level);
      if (next != nullptr && cmp_(next->entry, key) < 0) {
        x = next;
      } else {
        if (prev != nullptr) prev[level] = x;
        if (level == 0) return next;
        level--;
      }
    }
  }

  Node* find_less_than(const char* key) const {
    Node* x = head_;
    int level = max_height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      Node* next = x->next(level);
      if (next != nullptr && cmp_(next->entry, key) < 0) {
        x = next;
      } else {
        if (level == 0) return x;
        level--;
      }
    }
  }

  Node* find_last() const {
    Node* x = head_;
    int level = max_height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      Node* next = x->next(level);
      if (next != nullptr) {
        x = next;
      } else {
        if (level == 0) return x;
        level--;
      }
    }
  }

  Compare cmp_;
  Arena* arena_;
  Node* head_;
  std::atomic<int> max_height_{1};
  std::minstd_rand rng_{0xdecafbad};
};

}  // namespace lsm4kv::engine
