// Model-based randomized test: one random history of puts, deletes, range
// deletes, batches, gets, multi-gets, seeks and two-way iteration, checked
// step by step against std::map, while the DB reopens at random and is
// reshaped between leveling, tiering and mixed K with a tiny write buffer (so
// hundreds of flushes and compactions happen). Any disagreement fails with
// the seed; rerun with LSM4KV_SEED=<seed> (and LSM4KV_MODEL_OPS=<n>).
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "engine/db.h"
#include "test/engine/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::engine;

namespace {

using Model = std::map<std::string, std::string>;

// Keys shaped like the store's: a 2-byte namespace then 8-byte "fingerprints"
// drawn from a small alphabet, so that prefixes are shared and keys collide.
std::string random_key(std::mt19937_64& rng) {
  std::string k = "n";
  k.push_back(static_cast<char>('0' + rng() % 2));
  int depth = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < depth; i++) {
    uint64_t fp = rng() % 6;
    k.append(7, static_cast<char>('a' + fp));
    k.push_back(static_cast<char>('a' + rng() % 4));
  }
  return k;
}

Shape random_shape(std::mt19937_64& rng) {
  Shape s;
  s.size_ratio = 2 + static_cast<int>(rng() % 9);
  switch (rng() % 3) {
    case 0: s.runs_per_level = {1}; break;                                  // leveling
    case 1: s.runs_per_level = {std::max(1, s.size_ratio - 1)}; break;      // tiering
    default:                                                                 // mixed
      s.runs_per_level = {1 + static_cast<int>(rng() % s.size_ratio),
                          1 + static_cast<int>(rng() % s.size_ratio), 1};
  }
  return s;
}

class Checker {
 public:
  Checker(uint64_t seed) : seed_(seed) {}
  void fail(const std::string& what) {
    FAIL("seed " << seed_ << " op " << op_ << ": " << what);
  }
  uint64_t seed_;
  uint64_t op_ = 0;
};

}  // namespace

TEST_CASE("DB agrees with std::map over a long random history", "[engine][model]") {
  const uint64_t seed = test::test_seed();
  const uint64_t ops = test::env_or("LSM4KV_MODEL_OPS", 1000000);
  INFO("seed " << seed << " (rerun with LSM4KV_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  test::TempDir dir("lsm4kv_model");
  Options opt;
  opt.write_buffer_size = 32 << 10;
  opt.block_size = 512;
  opt.block_cache_bytes = 256 << 10;
  opt.sync_mode = SyncMode::kNone;
  opt.shape = random_shape(rng);
  std::unique_ptr<DB> db;
  REQUIRE(DB::open(opt, dir.path(), &db).ok());
  Model model;
  Checker c(seed);
  uint64_t reopens = 0, reshapes = 0, flushes = 0, compactions = 0;

  auto check_get = [&](const std::string& k) {
    std::string v;
    Status s = db->get({}, k, &v);
    auto it = model.find(k);
    if (it == model.end()) {
      if (!s.is_not_found()) c.fail("get " + k + ": expected NotFound, got " + s.to_string() + " " + v);
    } else if (!s.ok() || v != it->second) {
      c.fail("get " + k + ": expected " + it->second + ", got " + s.to_string() + " " + v);
    }
  };
  auto check_iter_at = [&](Iterator* it, Model::const_iterator m, const std::string& what) {
    if (m == model.end()) {
      if (it->valid()) c.fail(what + ": expected end, got " + std::string(it->key()));
      if (!it->status().ok()) c.fail(what + ": " + it->status().to_string());
      return false;
    }
    if (!it->valid()) c.fail(what + ": expected " + m->first + ", got end " + it->status().to_string());
    if (it->key() != m->first || it->value() != m->second)
      c.fail(what + ": expected " + m->first + "=" + m->second + ", got " + std::string(it->key()) +
             "=" + std::string(it->value()));
    return true;
  };

  for (c.op_ = 0; c.op_ < ops; c.op_++) {
    uint64_t dice = rng() % 1000;
    if (dice < 350) {  // put
      std::string k = random_key(rng), v = "v" + std::to_string(rng() % 1000000);
      REQUIRE(db->put({}, k, v).ok());
      model[k] = v;
    } else if (dice < 420) {  // delete
      std::string k = random_key(rng);
      REQUIRE(db->delete_key({}, k).ok());
      model.erase(k);
    } else if (dice < 430) {  // delete_range: a whole subtree or an arbitrary range
      std::string b = random_key(rng), e;
      if (rng() % 2) {
        e = b;
        e.back()++;  // every extension of b (a prefix subtree)
      } else {
        e = random_key(rng);
        if (e < b) std::swap(b, e);
      }
      REQUIRE(db->delete_range({}, b, e).ok());
      model.erase(model.lower_bound(b), model.lower_bound(e));
    } else if (dice < 460) {  // atomic batch
      WriteBatch batch;
      int n = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < n; i++) {
        std::string k = random_key(rng);
        if (rng() % 4) {
          std::string v = "b" + std::to_string(rng() % 1000000);
          batch.put(k, v);
          model[k] = v;
        } else {
          batch.delete_key(k);
          model.erase(k);
        }
      }
      REQUIRE(db->write({}, &batch).ok());
    } else if (dice < 700) {  // get
      check_get(random_key(rng));
    } else if (dice < 730) {  // sorted multi-get
      std::vector<std::string> keys;
      for (int i = 0; i < 8; i++) keys.push_back(random_key(rng));
      std::sort(keys.begin(), keys.end());
      std::vector<std::string_view> views(keys.begin(), keys.end());
      std::vector<std::string> values;
      std::vector<Status> statuses;
      REQUIRE(db->multi_get({}, views, &values, &statuses).ok());
      for (size_t i = 0; i < keys.size(); i++) {
        auto it = model.find(keys[i]);
        bool ok = it == model.end() ? statuses[i].is_not_found()
                                    : statuses[i].ok() && values[i] == it->second;
        if (!ok) c.fail("multi_get " + keys[i] + ": " + statuses[i].to_string());
      }
    } else if (dice < 960) {  // seek or seek_for_prev, then walk both ways
      auto it = db->new_iterator({});
      std::string t = random_key(rng);
      Model::const_iterator m;
      if (rng() % 2) {
        it->seek(t);
        m = model.lower_bound(t);
      } else {
        it->seek_for_prev(t);
        m = model.upper_bound(t);
        m = m == model.begin() ? model.end() : std::prev(m);
      }
      if (!check_iter_at(it.get(), m, "seek " + t)) continue;
      int steps = static_cast<int>(rng() % 6);
      for (int i = 0; i < steps && m != model.end(); i++) {
        if (rng() % 2) {
          it->next();
          ++m;
        } else {
          it->prev();
          m = m == model.begin() ? model.end() : std::prev(m);
        }
        if (!check_iter_at(it.get(), m, "step after seek " + t)) break;
      }
    } else if (dice < 962) {  // full scans, forward and backward
      auto it = db->new_iterator({});
      auto m = model.cbegin();
      for (it->seek_to_first(); m != model.end(); ++m, it->next())
        if (!check_iter_at(it.get(), m, "forward scan")) break;
      check_iter_at(it.get(), model.end(), "forward scan end");
      auto r = model.crbegin();
      for (it->seek_to_last(); r != model.crend(); ++r, it->prev())
        if (!check_iter_at(it.get(), std::next(r).base(), "backward scan")) break;
      if (it->valid()) c.fail("backward scan: expected end");
    } else if (dice < 963 && rng() % 4 == 0) {  // reopen (1 in 4000 ops)
      flushes += db->properties().flushes;
      compactions += db->properties().compactions;
      REQUIRE(db->close().ok());
      db.reset();
      Status s = DB::open(opt, dir.path(), &db);
      if (!s.ok()) c.fail("reopen: " + s.to_string());
      reopens++;
    } else if (dice < 965) {  // reshape
      REQUIRE(db->reshape(random_shape(rng)).ok());
      reshapes++;
    } else if (dice < 969) {
      REQUIRE(db->compact_all().ok());
    } else if (dice < 971) {
      REQUIRE(db->flush().ok());
    } else {
      check_get(model.empty() ? random_key(rng) : model.begin()->first);
    }
  }
  REQUIRE(db->wait_for_compactions().ok());
  flushes += db->properties().flushes;
  compactions += db->properties().compactions;
  INFO("flushes " << flushes << " compactions " << compactions << " reopens " << reopens
                  << " reshapes " << reshapes);
  // Counted per session; each reopen also flushes the recovered memtable.
  CHECK(flushes + reopens >= (ops >= 1000000 ? 100u : 1u));
  CHECK(compactions >= (ops >= 1000000 ? 100u : 1u));
  REQUIRE(db->verify().ok());
}
