// Region eviction (kv_store.h, Capacity): the oldest segment goes whole; its
// pages read since written (region_keep_reads times) are copied forward, the
// others leave with every page below them, and the key set stays
// prefix-closed. With two FIFOs (region_small_share), new pages' regions go
// first, and a page evicted unread from them comes back to the main FIFO.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "kvcache_api/kv_store.h"
#include "kvcache_api/test_hooks.h"
#include "tensorlog/tensor_log.h"
#include "test/engine/test_util.h"
#include "test/support/kv_data.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

constexpr uint32_t P = 16;
const KvLayout kLayout{2, 2, 64, DType::kF16};  // 16 KiB pages: about 3 records a segment
constexpr uint64_t kCapacity = 1 << 20;
constexpr uint64_t kSegmentBytes = 64 << 10;  // a segment: the files may pass the capacity by one

StoreOptions options(const std::string& dir, uint32_t keep_reads, double room = 0.05,
                     double small_share = StoreOptions{}.region_small_share) {
  StoreOptions o;
  o.region_small_share = small_share;
  o.maintenance_room = room;
  o.dir = dir;
  o.page_tokens = P;
  o.sync = SyncMode::kNone;
  o.capacity_bytes = kCapacity;
  o.segment_bytes = kSegmentBytes;
  o.index_write_buffer = 64 << 10;
  o.eviction = EvictionPolicy::kRegion;
  o.region_keep_reads = keep_reads;
  return o;
}

std::vector<Token> tokens(Token first, size_t pages) {
  std::vector<Token> t(pages * P);
  for (size_t i = 0; i < t.size(); i++) t[i] = first + static_cast<Token>(i);
  return t;
}

class Region {
 public:
  Region(const std::string& dir, uint32_t keep_reads, double room = 0.05,
         double small_share = StoreOptions{}.region_small_share) {
    REQUIRE(KvStore::open(options(dir, keep_reads, room, small_share), &store_).ok());
    REQUIRE(store_->register_namespace("r", kLayout, &ns_).ok());
  }
  void put(const std::vector<Token>& t) {
    auto kv = test::kv_of(t, t.size(), kLayout.bytes_per_token());
    Status s = store_->put_batch(ns_, t, KvBuffer::host(kv.data(), kv.size()));
    INFO(s.to_string());
    REQUIRE(s.ok());
  }
  size_t cached(const std::vector<Token>& t) {
    size_t n = 0;
    REQUIRE(store_->probe(ns_, t, &n).ok());
    return n;
  }
  // Reads the cached prefix back; it must be exactly what was put. The
  // background may evict it between the probe and the get: then the get is
  // a clean miss (NotFound) and the prefix is shorter now.
  void read(const std::vector<Token>& t) {
    for (;;) {
      const size_t n = cached(t);
      if (n == 0) return;
      std::vector<char> got(n * kLayout.bytes_per_token());
      Status s = store_->get_batch(ns_, t, n, KvBuffer::host(got.data(), got.size()));
      INFO(s.to_string());
      if (s.is_not_found()) {
        REQUIRE(cached(t) < n);
        continue;
      }
      REQUIRE(s.ok());
      REQUIRE(got == test::kv_of(t, n, kLayout.bytes_per_token()));
      return;
    }
  }
  // check_invariants, its error in the failure's message.
  void require_invariants() {
    Status inv = store_->check_invariants();
    INFO(inv.to_string());
    REQUIRE(inv.ok());
  }
  KvStore* operator->() { return store_.get(); }

 private:
  std::unique_ptr<KvStore> store_;
  NamespaceId ns_ = 0;
};

// The segment files in the store's tensor directory.
uint64_t segment_files(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir + "/tensors")) {
    const std::string name = f.path().filename().string();
    n += name.starts_with("seg-") && name.ends_with(".tlog");
  }
  return n;
}

}  // namespace

TEST_CASE("region eviction keeps the pages read since written and evicts the rest with what is below them",
          "[kvcache][capacity][region]") {
  const uint32_t keep_reads = GENERATE(0u, 1u, 2u);
  const double small_share = GENERATE(0.0, 0.25);  // one FIFO, two
  INFO("region_keep_reads " << keep_reads << ", region_small_share " << small_share);
  test::TempDir dir("lsm4kv_region");
  Region store(dir.path(), keep_reads, 0.05, small_share);
  const auto hot = tokens(1, 2);
  const auto parent = tokens(100000, 1);
  auto child = parent;
  for (Token x : tokens(200000, 1)) child.push_back(x);
  const auto first_cold = tokens(300000, 1);
  store.put(hot);
  store.put(parent);
  store.put(first_cold);
  store.put(child);  // its second page lands in a younger segment than the parent's
  REQUIRE(store.cached(child) == 2 * P);
  for (Token i = 0; store->stats().bytes_put < 4 * kCapacity; i++) {
    store.put(tokens(400000 + i * 1000, 1));
    // The hot prompt is read twice every four puts (more than any FIFO's
    // keep_reads per pass); the others never.
    if (i % 4 == 0) {
      store.read(hot);
      store.read(hot);
    }
    if (i % 8 == 7) store.require_invariants();
  }
  const StoreStats st = store->stats();
  INFO("evicted " << st.pages_evicted << " pages, copied " << st.gc_bytes_copied << " bytes");
  CHECK(st.pages_evicted > 0);
  CHECK(st.tensor_file_bytes <= kCapacity + kSegmentBytes);
  // Never read: gone, the child's page (in a younger segment) with its parent.
  CHECK(store.cached(first_cold) == 0);
  CHECK(store.cached(parent) == 0);
  CHECK(store.cached(child) == 0);
  if (keep_reads == 0) {
    // Plain FIFO: nothing is copied, the hot prompt went in its turn.
    CHECK(st.gc_bytes_copied == 0);
    CHECK(store.cached(hot) == 0);
  } else {
    CHECK(st.gc_bytes_copied > 0);
    CHECK(store.cached(hot) == hot.size());
    store.read(hot);
  }
  store.require_invariants();
}

TEST_CASE("a reopened store finds its regions' pages in the lists its loader builds", "[kvcache][capacity][region]") {
  // Prompts of 20 pages span three key windows (8 pages each): the loader
  // lists the deeper windows' pages once it has resolved their roots. Every
  // round after the reopen takes its region's pages from those lists; a page
  // missing from them would fail check_invariants, and a wrong root would
  // leave the LRU's bytes off the index's.
  // One FIFO, so that every region goes in its turn (with two, the main
  // FIFO's regions go only once it is over its share).
  test::TempDir dir("lsm4kv_region_reopen");
  const auto deep_a = tokens(1, 20), deep_b = tokens(500000, 20);
  {
    Region store(dir.path(), 1, 0.05, 0.0);
    store.put(deep_a);
    store.put(deep_b);
    store.read(deep_b);  // read: the first pass keeps it
    REQUIRE(store.cached(deep_a) == deep_a.size());
  }
  Region store(dir.path(), 1, 0.05, 0.0);
  REQUIRE(store.cached(deep_b) == deep_b.size());
  store.require_invariants();
  for (Token i = 0; store->stats().bytes_put < 3 * kCapacity; i++) {
    store.put(tokens(900000 + i * 1000, 2));
    if (i % 8 == 7) store.require_invariants();
  }
  CHECK(store->stats().pages_evicted >= deep_a.size() / P);
  CHECK(store.cached(deep_a) == 0);
  store.require_invariants();
}

TEST_CASE("region eviction never takes the prefixes a put extends", "[kvcache][capacity][region]") {
  test::TempDir dir("lsm4kv_region_paths");
  // Room 0: only the puts' own rounds evict. With a background, its round
  // may rightly evict the unread system prompt (and the prompt just put
  // below it) between a put and the probe; its own protection of what puts
  // extend is the next test's.
  Region store(dir.path(), 1, 0.0);
  // One system prompt that every request extends and nobody reads: without
  // the put's protection, its region would take it and orphan the put.
  const auto system = tokens(7, 1);
  for (Token i = 0; store->stats().bytes_put < 3 * kCapacity; i++) {
    auto t = system;
    for (Token x : tokens(50000 + i * 100, 1)) t.push_back(x);
    store.put(t);
    REQUIRE(store.cached(t) == t.size());
  }
  CHECK(store->stats().pages_evicted > 0);
  store.require_invariants();
}

TEST_CASE("the background keeps the prefixes that puts extend while it walks the index",
          "[kvcache][capacity][region]") {
  test::TempDir dir("lsm4kv_region_walk");
  // A room of 0.3: the put made inside the walk fits without a round of
  // its own (which would take the region first, and the walk would be
  // dropped instead of chosen from).
  Region store(dir.path(), 1, 0.3);
  const auto first = tokens(1, 1);  // in the oldest segment, never read: the first round's to evict
  auto extended = first;
  for (Token x : tokens(90000, 1)) extended.push_back(x);
  store.put(first);
  std::mutex mu;
  std::condition_variable cv;
  bool fired = false;
  testing::set_region_walk_hook(store.operator->(), [&](testing::RegionPoint at) {
    if (at != testing::RegionPoint::kWalked) return;
    {
      std::lock_guard l(mu);
      if (fired) return;
    }
    store.put(extended);  // after the walk, before the choice: the walk never saw it
    std::lock_guard l(mu);
    fired = true;
    cv.notify_all();
  });
  // Past the background's high mark (0.85 of the capacity), short of what
  // would make a put take a region itself; then the background walks, however
  // long it takes to get there (no put races it for the region).
  for (Token i = 0; store->stats().tensor_file_bytes <= kCapacity * 9 / 10; i++) {
    {
      std::lock_guard l(mu);
      if (fired) break;
    }
    store.put(tokens(100000 + i * 1000, 1));
  }
  {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return fired; });
  }
  testing::set_region_walk_hook(store.operator->(), {});
  REQUIRE(store->evict_to(kCapacity).ok());  // after the background's round (it takes the same locks)
  // Without the put's prefix kept, the round would have evicted `first` and
  // left the page put below it unreachable, still counted.
  CHECK(store.cached(extended) == extended.size());
  store.read(extended);
  store.require_invariants();
}

TEST_CASE("two FIFOs: a page evicted unread from the small FIFO is put back to the main FIFO",
          "[kvcache][capacity][region]") {
  test::TempDir dir("lsm4kv_region_ghost");
  Region store(dir.path(), 1, /*room=*/0, /*small_share=*/0.25);  // room 0: each put makes its own room
  const auto first = tokens(1, 1);
  auto longer = first;
  for (Token x : tokens(70000, 1)) longer.push_back(x);
  store.put(first);
  for (Token i = 0; store.cached(first) > 0; i++) store.put(tokens(100000 + i * 1000, 1));
  REQUIRE(store->stats().pages_readmitted == 0);
  // One put of a remembered page and a new one: the two go to different
  // segments (heads) and come back in order.
  store.put(longer);
  CHECK(store->stats().pages_readmitted == 1);
  REQUIRE(store.cached(longer) == longer.size());
  store.read(longer);
  // In the main FIFO now, it outlives the new pages put after it: the small
  // FIFO's regions go while it is over its share, and the new pages keep it
  // over.
  const auto later = tokens(300000, 1);
  store.put(later);
  for (Token i = 0; store->stats().bytes_put < 4 * kCapacity; i++) store.put(tokens(400000 + i * 1000, 1));
  CHECK(store.cached(later) == 0);
  CHECK(store.cached(first) == first.size());
  store.read(first);
  store.require_invariants();
}

TEST_CASE("two FIFOs: pages that go with an ancestor from another small segment are remembered too",
          "[kvcache][capacity][region]") {
  test::TempDir dir("lsm4kv_region_ghost_below");
  Region store(dir.path(), 1, /*room=*/0, /*small_share=*/0.25);
  const auto parent = tokens(1, 1);
  auto child = parent;
  for (Token x : tokens(70000, 1)) child.push_back(x);
  store.put(parent);
  // Four records do not fit a 64 KiB segment: the child's page lands in a
  // younger segment than its parent's.
  store.put(tokens(50000, 3));
  store.put(child);
  REQUIRE(store.cached(child) == child.size());
  for (Token i = 0; store.cached(parent) > 0; i++) store.put(tokens(100000 + i * 1000, 1));
  // The parent's region took the child's page with it, unread: both come
  // back to the main FIFO, not only the part that shared the parent's region.
  REQUIRE(store->stats().pages_readmitted == 0);
  store.put(child);
  CHECK(store->stats().pages_readmitted == 2);
  REQUIRE(store.cached(child) == child.size());
  store.read(child);
  store.require_invariants();
}

namespace {

// Counts the background's preparations that move pages (RegionPoint::
// kPrepared: the move copied, not applied; at_prepared runs there first)
// and, with hold, holds them there until release().
class PreparationHold {
 public:
  explicit PreparationHold(Region* store, bool hold = true, std::function<void()> at_prepared = {})
      : store_(store), released_(!hold) {
    testing::set_region_walk_hook(store->operator->(), [this, at_prepared](testing::RegionPoint at) {
      if (at != testing::RegionPoint::kPrepared) return;
      if (at_prepared) at_prepared();
      std::unique_lock l(mu_);
      prepared_++;
      cv_.notify_all();
      cv_.wait(l, [&] { return released_; });
    });
  }
  ~PreparationHold() { testing::set_region_walk_hook(store_->operator->(), {}); }
  void wait_held() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return prepared_ > 0; });
  }
  // Whether one came; the minute is a guard against a hang, not a speed check.
  bool wait_prepared() {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, std::chrono::minutes(1), [&] { return prepared_ > 0; });
  }
  void release() {
    std::lock_guard l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  Region* store_;
  std::mutex mu_;
  std::condition_variable cv_;
  int prepared_ = 0;
  bool released_;
};

// One FIFO: the region that goes next is the oldest segment. A room of 0.3:
// the background prepares it from 0.7 of the capacity less two segments, and
// evicts past 0.85. Puts one-page prompts until past the preparation's mark,
// short of the eviction's.
void fill_to_preparation(Region* store) {
  const uint64_t prepare_mark = kCapacity * 7 / 10 - 2 * kSegmentBytes;
  for (Token i = 0; (*store)->stats().tensor_file_bytes <= prepare_mark; i++) store->put(tokens(100000 + i * 1000, 1));
  REQUIRE((*store)->stats().tensor_file_bytes <= kCapacity * 7 / 10);
}

uint64_t live_records_in(tensorlog::TensorLog* log, uint64_t segment) {
  for (const tensorlog::SegmentInfo& s : log->segments())
    if (s.id == segment) return s.live_records;
  return 0;
}

// The oldest segment (the next region) as its first preparation found it:
// its live records and the pages evicted so far, taken while the move is
// held; the move is applied when prepare_oldest returns.
struct FirstPreparation {
  uint64_t victim = 0, live_before = 0, evicted_before = 0;
};

FirstPreparation prepare_oldest(Region* store) {
  tensorlog::TensorLog* log = testing::log_of(store->operator->());
  FirstPreparation p;
  PreparationHold hold(store);
  // The background prepares, however long it takes to get there.
  fill_to_preparation(store);
  hold.wait_held();
  p.victim = log->oldest_collectable_segment();
  p.live_before = live_records_in(log, p.victim);
  p.evicted_before = (*store)->stats().pages_evicted;
  hold.release();
  while (live_records_in(log, p.victim) == p.live_before) std::this_thread::yield();
  return p;
}

}  // namespace

TEST_CASE("the background moves the next region's read pages out of it before the region goes",
          "[kvcache][capacity][region]") {
  test::TempDir dir("lsm4kv_region_prepare");
  Region store(dir.path(), 1, 0.3, 0.0);
  const auto hot = tokens(1, 1), cold = tokens(5000, 1);
  store.put(hot);
  store.put(cold);
  store.read(hot);  // read once: its region keeps it
  tensorlog::TensorLog* log = testing::log_of(store.operator->());
  const FirstPreparation prep = prepare_oldest(&store);
  // Applied: the hot page left the region; nothing was evicted for it.
  CHECK(live_records_in(log, prep.victim) == prep.live_before - 1);
  CHECK(store->stats().pages_evicted == prep.evicted_before);
  REQUIRE(store.cached(hot) == hot.size());
  store.read(hot);
  store.require_invariants();  // the moved page is listed in its new segment
  // The region goes: the unread page with it, the moved one stays.
  auto victim_stays = [&] {
    for (const tensorlog::SegmentInfo& s : log->segments())
      if (s.id == prep.victim) return true;
    return false;
  };
  for (Token i = 0; victim_stays(); i++) {
    REQUIRE(i < 1000);
    store.put(tokens(500000 + i * 1000, 1));
  }
  CHECK(store.cached(cold) == 0);
  CHECK(store.cached(hot) == hot.size());
  store.read(hot);
  store.require_invariants();
}

TEST_CASE("a page read in the prepared region is moved out by the next preparation, not copied by its round",
          "[kvcache][capacity][region]") {
  test::TempDir dir("lsm4kv_region_reprepare");
  Region store(dir.path(), 1, 0.3, 0.0);
  const auto prompt = tokens(1, 2), first = tokens(1, 1);
  store.put(prompt);  // both pages in the first segment
  store.read(first);
  tensorlog::TensorLog* log = testing::log_of(store.operator->());
  const FirstPreparation prep = prepare_oldest(&store);
  REQUIRE(live_records_in(log, prep.victim) == prep.live_before - 1);  // the first page moved
  const uint64_t evicted_before = store->stats().pages_evicted;
  PreparationHold again(&store, /*hold=*/false);
  store.read(prompt);  // its second page, still in the prepared region, is read now
  // A put wakes the background (short of the eviction's mark): it prepares
  // the region again and moves the second page out, long before the round.
  store.put(tokens(900000, 1));
  REQUIRE(store->stats().tensor_file_bytes <= kCapacity * 85 / 100);
  REQUIRE(again.wait_prepared());
  while (live_records_in(log, prep.victim) == prep.live_before - 1) std::this_thread::yield();
  CHECK(live_records_in(log, prep.victim) == prep.live_before - 2);
  CHECK(store->stats().pages_evicted == evicted_before);
  REQUIRE(store.cached(prompt) == prompt.size());
  store.read(prompt);
  store.require_invariants();
}

// A preparation's move frees nothing until its region goes: its copies
// stay counted. So it moves only what fits below the high mark: the one
// segment of slack is left to the copies of the rounds (without a bound, a
// move near the capacity and a round's copy after it took the files past
// capacity + one segment in stress runs of the capacity test), and the room
// above the mark to the puts (bounded by the capacity only, moves filled it
// and the next put waited for the round).
TEST_CASE("a preparation moves no more than fits below the high mark", "[kvcache][capacity][region]") {
  test::TempDir dir("lsm4kv_region_prepare_bound");
  // One FIFO, room 0.02: the background prepares up to 0.98 of the
  // capacity and evicts past 0.99, the high mark.
  Region store(dir.path(), 1, 0.02, 0.0);
  tensorlog::TensorLog* log = testing::log_of(store.operator->());
  std::vector<std::vector<Token>> hot;
  for (Token i = 0; i < 4; i++) {  // the first segment's pages (3 fit in one): read later
    hot.push_back(tokens(1 + i * 1000, 1));
    store.put(hot.back());
  }
  const uint64_t page = log->usage().live_bytes / hot.size();
  // A segment's header and seal at 64 KiB segments.
  const uint64_t overhead = 3 * tensorlog::kAlign;
  // Up to where one page and the overhead of a segment still fit below the
  // high mark, but the first segment's three would not.
  const uint64_t high = kCapacity * 99 / 100;
  auto on_disk = [&] {  // what the bound counts: the files and any spare
    const tensorlog::LogUsage u = log->usage();
    return u.file_bytes + u.spare_bytes;
  };
  for (Token i = 0; on_disk() + 2 * page + overhead <= high; i++) store.put(tokens(100000 + i * 1000, 1));
  REQUIRE(on_disk() + 3 * page > high);
  std::atomic<uint64_t> after_move{0};  // the copies made, the move not applied
  {
    PreparationHold moves(&store, /*hold=*/false, [&] {
      const tensorlog::LogUsage u = log->usage();
      after_move = std::max<uint64_t>(after_move, u.file_bytes + u.spare_bytes);
    });
    // Now the first segment's pages would be kept: the background, on its
    // next look, prepares the region again.
    for (const auto& h : hot) store.read(h);
    REQUIRE(moves.wait_prepared());
  }
  CHECK(after_move <= high);
  for (const auto& h : hot) REQUIRE(store.cached(h) == h.size());
  store.require_invariants();
}

TEST_CASE("region options out of range are refused", "[kvcache][capacity][region]") {
  test::TempDir dir("lsm4kv_region_bad");
  std::unique_ptr<KvStore> store;
  REQUIRE(KvStore::open(options(dir.path(), 4), &store).is_invalid_argument());
  REQUIRE(store == nullptr);
  StoreOptions o = options(dir.path(), 1);
  o.region_main_keep_reads = 0;
  REQUIRE(KvStore::open(o, &store).is_invalid_argument());
  o.region_main_keep_reads = 4;
  REQUIRE(KvStore::open(o, &store).is_invalid_argument());
  o.region_main_keep_reads = 3;
  o.region_small_share = 1.0;
  REQUIRE(KvStore::open(o, &store).is_invalid_argument());
  REQUIRE(store == nullptr);
}

namespace {

// Holds the store's background at `point` of its first round there, until
// release() (or the hold's end: a failed REQUIRE must not leave the store's
// close waiting for it).
class BackgroundHold {
 public:
  BackgroundHold(KvStore* store, testing::RegionPoint point) : store_(store) {
    testing::set_region_walk_hook(store_, [this, point](testing::RegionPoint at) {
      if (at != point) return;
      std::unique_lock l(mu_);
      if (released_) return;
      held_ = true;
      cv_.notify_all();
      cv_.wait(l, [&] { return released_; });
    });
  }
  ~BackgroundHold() {
    release();
    testing::set_region_walk_hook(store_, {});
  }
  bool held() {
    std::lock_guard l(mu_);
    return held_;
  }
  void wait_held() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return held_; });
  }
  void release() {
    std::lock_guard l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  KvStore* const store_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false, released_ = false;
};

// Holds the store's background at `point` of its first round there, puts
// until a put has to make room, and checks that the region's file that put
// retired is left on disk (one file more than the log's segments, within the
// capacity) for the background, which deletes it once it goes on (waited for
// without timing). Then every prompt put reads back whole.
void check_put_leaves_file_to_background(const std::string& dir, testing::RegionPoint point) {
  Region store(dir, 1, 0.3);  // the background starts at 0.85 of the capacity
  BackgroundHold hold(store.operator->(), point);
  std::vector<std::vector<Token>> put;
  Token next = 0;
  while (!hold.held() && store->stats().tensor_file_bytes <= kCapacity * 9 / 10) {
    put.push_back(tokens(1000 + next++ * 100, 1));
    store.put(put.back());
  }
  hold.wait_held();
  const uint64_t stalls = store->stats().put_stalls;
  while (store->stats().put_stalls == stalls) {
    put.push_back(tokens(1000 + next++ * 100, 1));
    store.put(put.back());
    REQUIRE(next < 1000);
  }
  const StoreStats st = store->stats();
  // The live segments, the region's file, and a spare for reuse if one waits.
  CHECK(segment_files(dir) == st.tensor_segments + 1 + (st.tensor_spare_bytes > 0 ? 1 : 0));
  CHECK(st.tensor_file_bytes <= kCapacity);
  hold.release();
  // The background commits it: deleted, or kept as the spare.
  auto files_left = [&] {
    const StoreStats now = store->stats();
    return now.tensor_segments + (now.tensor_spare_bytes > 0 ? 1 : 0);
  };
  while (segment_files(dir) != files_left()) std::this_thread::yield();
  for (const auto& t : put) store.read(t);  // what is cached reads back whole
  store.require_invariants();
}

}  // namespace

TEST_CASE("a put that takes a region itself leaves the region's file to the background",
          "[kvcache][capacity][region]") {
  // The background is held in its first walk, so that the puts run out of
  // room and take regions themselves.
  test::TempDir dir("lsm4kv_region_retired");
  check_put_leaves_file_to_background(dir.path(), testing::RegionPoint::kWalked);
}

TEST_CASE("puts use a region's dead bytes while the background's collection of it is in flight",
          "[kvcache][capacity][region]") {
  // One FIFO that keeps nothing: a region's pages all go, its collection
  // copies none. The background is held after its first collection, before
  // it applies it. Until then the region's file is on disk but counted as
  // the slack: puts go on without a stall past the capacity, never past
  // the capacity and one segment (kv_store.h, Capacity).
  test::TempDir dir("lsm4kv_region_victim");
  Region store(dir.path(), 0, 0.3, 0.0);
  BackgroundHold hold(store.operator->(), testing::RegionPoint::kCopied);
  std::vector<std::vector<Token>> put;
  Token next = 0;
  // Past the background's high mark (0.85 of the capacity) the puts wait
  // for its first round: none of them makes room, so the region it takes
  // is a whole segment and no spare waits.
  while (store->stats().tensor_file_bytes <= kCapacity * 85 / 100) {
    put.push_back(tokens(1000 + next++ * 100, 1));
    store.put(put.back());
    REQUIRE(next < 1000);
  }
  hold.wait_held();
  uint64_t most_files = 0;
  const uint64_t stalls = store->stats().put_stalls;
  REQUIRE(stalls == 0);
  for (;;) {
    put.push_back(tokens(1000 + next++ * 100, 1));
    store.put(put.back());
    REQUIRE(next < 1000);
    const StoreStats st = store->stats();
    const uint64_t files = st.tensor_file_bytes + st.tensor_spare_bytes;  // a spare is on disk too
    CHECK(files <= kCapacity + kSegmentBytes);
    if (st.put_stalls != stalls) break;
    most_files = std::max(most_files, files);
  }
  CHECK(most_files > kCapacity);
  hold.release();
  for (const auto& t : put) store.read(t);
  store.require_invariants();
}

TEST_CASE("a put that finds the background's copy done applies it and leaves the region's file to the background",
          "[kvcache][capacity][region]") {
  // The background is held after its first copy, before it takes the locks
  // to apply it: the next put that needs room applies it (before, that put
  // deleted the region's file itself).
  test::TempDir dir("lsm4kv_region_applied");
  check_put_leaves_file_to_background(dir.path(), testing::RegionPoint::kCopied);
}

TEST_CASE("two FIFOs: below the marks the small FIFO's read pages move to the main FIFO ahead of the fill",
          "[kvcache][capacity][region]") {
  test::TempDir dir("lsm4kv_region_ahead");
  Region store(dir.path(), 1);  // small share 0.1: ~100 KiB of a 1 MiB capacity
  tensorlog::TensorLog* log = testing::log_of(store.operator->());
  const auto hot = tokens(1, 1), warm = tokens(500, 1);
  store.put(hot);
  store.put(warm);
  store.read(hot);  // read once: the small FIFO would promote it when its segment went
  const uint64_t first = log->segments().front().id;  // hot's and warm's
  for (Token i = 0; i < 12; i++) store.put(tokens(1000 + i * 1000, 1));  // past the share, far below the marks
  auto info = [&] {
    for (const tensorlog::SegmentInfo& s : log->segments())
      if (s.id == first) return s;
    return tensorlog::SegmentInfo{};
  };
  REQUIRE(info().sealed);
  REQUIRE(info().records > 1);
  // The background moves it, however long it takes to get there (a put
  // wakes it; so does its timed wait).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (info().live_records == info().records) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(info().live_records == info().records - 1);  // hot's only: the others were not read
  CHECK(store->stats().pages_evicted == 0);  // nothing goes below the marks
  CHECK(store.cached(hot) == hot.size());
  store.read(hot);
  store.require_invariants();  // the moved page is listed in its new segment
  // Read since that pass: the next pass, once the files have grown by a
  // 16th of the capacity, moves it too.
  store.read(warm);
  for (Token i = 0; info().live_records == info().records - 1; i++) {
    REQUIRE(std::chrono::steady_clock::now() < deadline + std::chrono::seconds(60));
    if (i < 8) store.put(tokens(100000 + i * 1000, 1));  // 128 KiB more: still far below the marks
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(info().live_records == info().records - 2);
  CHECK(store->stats().pages_evicted == 0);
  CHECK(store.cached(warm) == warm.size());
  store.read(warm);
  store.require_invariants();
}
