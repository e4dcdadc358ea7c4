// Tests of the controller (tuner/controller.h) on a real engine: a phased
// workload — writes, then lookups, then writes — moves the engine's shape
// toward tiering, back to leveling and toward tiering again, through
// reshape(); pinned and disabled controllers leave the shape alone; many
// threads may observe at once. Small write buffers keep it to seconds.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/db.h"
#include "test/engine/test_util.h"
#include "tuner/controller.h"

using namespace lsm4kv;
using lsm4kv::engine::Shape;
using tuner::Controller;
using tuner::Decision;
using tuner::TunerOptions;

namespace {

constexpr size_t kWriteBuffer = 32 << 10;

// A store-like key: 2-byte namespace + two 8-byte fingerprints.
std::string key_of(uint64_t i) {
  auto mix = [](uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
  };
  std::string k = "\x00\x01";
  uint64_t a = mix(i / 8), b = mix(i + 1);
  char buf[16];
  for (int j = 0; j < 8; j++) buf[j] = char(a >> (56 - 8 * j));
  for (int j = 0; j < 8; j++) buf[8 + j] = char(b >> (56 - 8 * j));
  return k + std::string(buf, 16);
}

struct Fixture {
  test::TempDir dir{"tuner_controller"};
  std::unique_ptr<engine::DB> db;
  uint64_t next_key = 0;

  explicit Fixture(const Shape& initial = {10, {1}}) {
    engine::Options o;
    o.write_buffer_size = kWriteBuffer;
    o.sync_mode = engine::SyncMode::kNone;
    o.shape = initial;
    o.block_cache_bytes = 1 << 20;
    REQUIRE(engine::DB::open(o, dir.path(), &db).ok());
  }

  // n entries in batches of 64, observing after each batch.
  void write(uint64_t n, Controller* c) {
    for (uint64_t done = 0; done < n; done += 64) {
      engine::WriteBatch batch;
      for (uint64_t i = 0; i < 64; i++) batch.put(key_of(next_key++), "location-of-a-page");
      REQUIRE(db->write({}, &batch).ok());
      if (c) c->observe();
    }
  }

  // n requests: one seek_for_prev and a multi-get of 8 stored keys each.
  void lookup(uint64_t n, Controller* c) {
    std::mt19937_64 rng(n);
    for (uint64_t q = 0; q < n; q++) {
      auto it = db->new_iterator({});
      it->seek_for_prev(key_of(rng() % next_key));
      std::vector<std::string> keys;
      for (int j = 0; j < 8; j++) keys.push_back(key_of(rng() % next_key));
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      std::vector<std::string_view> views(keys.begin(), keys.end());
      std::vector<std::string> values;
      std::vector<Status> statuses;
      REQUIRE(db->multi_get({}, views, &values, &statuses).ok());
      if (c) c->observe();
    }
  }
};

TunerOptions small_options() {
  TunerOptions t;
  t.window_ops = 2000;
  t.tree.write_buffer_bytes = kWriteBuffer;
  t.search = {.min_size_ratio = 4, .max_size_ratio = 8};
  return t;
}

bool leveling(const Shape& s) {
  for (int level = 1; level <= 8; level++)
    if (s.runs_at(level) != 1) return false;
  return true;
}

int reshapes(const std::vector<Decision>& h) {
  int n = 0;
  for (const Decision& d : h) n += d.outcome == Decision::Outcome::kReshaped;
  return n;
}

}  // namespace

TEST_CASE("controller: a phased workload moves the shape to tiering, leveling and back") {
  Fixture f;
  Controller c(f.db.get(), small_options());
  CHECK(c.history().empty());

  f.write(20000, &c);  // cache population: all writes
  Shape after_writes = c.current();
  INFO("after writes: T=" << after_writes.size_ratio << " K1=" << after_writes.runs_at(1));
  CHECK(after_writes.runs_at(1) > 1);
  CHECK(after_writes == f.db->shape());
  REQUIRE(reshapes(c.history()) >= 1);
  const Decision first = c.history().front();
  CHECK(first.outcome == Decision::Outcome::kReshaped);
  CHECK(first.old_shape == Shape{10, {1}});
  CHECK(first.mix.writes == Approx(1));
  CHECK(first.predicted_gain > 0);
  CHECK(first.new_cost < first.old_cost);

  f.lookup(1500, &c);  // cache serving: seeks and hits
  CHECK(leveling(c.current()));
  CHECK(c.window_mix().writes == Approx(0).margin(1e-9));
  CHECK(c.window_mix().point_hits > 0.5);
  std::vector<Decision> h = c.history();
  auto back = std::find_if(h.rbegin(), h.rend(), [](const Decision& d) {
    return d.outcome == Decision::Outcome::kReshaped;
  });
  REQUIRE(back != h.rend());
  CHECK(leveling(back->new_shape));
  CHECK(back->mix.writes < 0.9);  // reacts as soon as the window moved enough
  // The engine honours the smaller K lazily: the next compactions merge.
  REQUIRE(f.db->wait_for_compactions().ok());

  f.write(20000, &c);  // population again
  CHECK(c.current().runs_at(1) > 1);
  int n = reshapes(c.history());
  CHECK(n >= 3);
  CHECK(c.decisions() >= uint64_t(n));
  // Everything the engine holds is still there.
  std::string v;
  CHECK(f.db->get({}, key_of(0), &v).ok());
  CHECK(f.db->get({}, key_of(f.next_key - 1), &v).ok());
}

TEST_CASE("controller: a steady mix does not flap") {
  Fixture f;
  Controller c(f.db.get(), small_options());
  f.write(20000, &c);
  int before = reshapes(c.history());
  f.write(20000, &c);  // same mix, tree grew: may re-optimize, not oscillate
  CHECK(reshapes(c.history()) <= before + 1);
  for (const Decision& d : c.history())
    if (d.outcome == Decision::Outcome::kReshaped) CHECK(d.new_shape.runs_at(1) > 1);
}

TEST_CASE("controller: pinned and disabled controllers leave the shape alone") {
  SECTION("pinned") {
    Fixture f;
    TunerOptions t = small_options();
    t.pinned = Shape{6, {2, 1}};
    Controller c(f.db.get(), t);
    CHECK(f.db->shape() == *t.pinned);
    REQUIRE(c.history().size() == 1);
    CHECK(c.history()[0].outcome == Decision::Outcome::kPinned);
    f.write(10000, &c);
    f.lookup(500, &c);
    CHECK(f.db->shape() == *t.pinned);
    CHECK(c.history().size() == 1);
  }
  SECTION("disabled") {
    Fixture f;
    TunerOptions t = small_options();
    t.enabled = false;
    Controller c(f.db.get(), t);
    f.write(10000, &c);
    CHECK(f.db->shape() == Shape{10, {1}});
    CHECK(c.history().empty());
  }
}

TEST_CASE("controller: the history is bounded, oldest dropped") {
  Fixture f;
  TunerOptions t = small_options();
  t.history = 2;
  t.window_ops = 400;
  t.min_gain = 0;
  Controller c(f.db.get(), t);
  for (int round = 0; round < 3; round++) {
    f.write(2000, &c);
    f.lookup(100, &c);
  }
  CHECK(c.decisions() > 2);
  CHECK(c.history().size() == 2);
}

TEST_CASE("controller: many threads observe at once; a background thread can too") {
  Fixture f;
  TunerOptions t = small_options();
  t.observe_interval = std::chrono::milliseconds(1);
  Controller c(f.db.get(), t);
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; th++) {
    threads.emplace_back([&, th] {
      for (int b = 0; b < 60; b++) {
        engine::WriteBatch batch;
        for (int i = 0; i < 64; i++)
          batch.put(key_of(1'000'000ULL * (th + 1) + b * 64 + i), "v");
        REQUIRE(f.db->write({}, &batch).ok());
        c.observe();
        (void)c.history();
        (void)c.window_mix();
      }
    });
  }
  for (auto& th : threads) th.join();
  c.observe();
  CHECK(c.decisions() >= 1);
  CHECK(c.current().runs_at(1) > 1);
}
