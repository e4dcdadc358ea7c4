// tombstone_bench: the cost of the memtable's range tombstones to readers.
//
// The KV cache store evicts a prefix subtree with one range deletion, and
// probes with a seek_for_prev and gets with point lookups, so a memtable
// holding many evictions is on every request's path. Per point (a number R of
// range deletions in the memtable) this loads --keys keys shaped like the
// store's (a 10-byte root, then 8 bytes per page), deletes R of the root
// subtrees, then times, single-threaded and interleaved with writes as the
// store interleaves puts:
//   seek   new_iterator + seek_for_prev (the store's probe)
//   get    a point lookup of a live key
// and, every 16 reads, a put and a delete_range (an eviction), so that the
// memtable's tombstone set keeps changing between reads (each point ends
// with ops / 16 more range deletions than its label).
//
// Everything lives in a memtable sized so that nothing is flushed; the
// directory (--dir) is removed at the end.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "engine/db.h"

using namespace lsm4kv;
using lsm4kv::bench::die;
using Clock = std::chrono::steady_clock;

namespace {

void put_be64(std::string* k, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) k->push_back(static_cast<char>(v >> shift));
}

std::string root_key(uint64_t root) {
  std::string k(2, '\0');  // namespace 0
  put_be64(&k, root * 0x9e3779b97f4a7c15ull);
  return k;
}

std::string page_key(uint64_t root, uint64_t depth) {
  std::string k = root_key(root);
  for (uint64_t d = 1; d <= depth; ++d) put_be64(&k, d * 1315423911ull + root);
  return k;
}

std::string successor(std::string k) {
  while (!k.empty() && static_cast<unsigned char>(k.back()) == 0xff) k.pop_back();
  if (!k.empty()) k.back() = static_cast<char>(static_cast<unsigned char>(k.back()) + 1);
  return k;
}

double micros_since(Clock::time_point t) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "bench-data/tombstones";
  uint64_t roots = 20000, depth = 8;
  std::vector<uint64_t> deletes = {0, 100, 1000, 10000};
  int ops = 20000;
  CLI::App app{"reads against range tombstones in the memtable"};
  app.add_option("--dir", dir, "working directory (removed at the end)")->capture_default_str();
  app.add_option("--roots", roots, "prefix subtrees loaded")->capture_default_str();
  app.add_option("--depth", depth, "pages per subtree")->capture_default_str();
  app.add_option("--deletes", deletes, "range deletions in the memtable, one point each");
  app.add_option("--ops", ops, "timed reads of each kind per point")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::printf("| range deletions in memtable | seek_for_prev p50 us | mean us | get p50 us | mean us |\n"
              "|---|---|---|---|---|\n");
  for (uint64_t r : deletes) {
    if (r >= roots) continue;
    std::filesystem::remove_all(dir);
    engine::Options o;
    o.write_buffer_size = size_t{1} << 30;  // nothing is flushed
    o.sync_mode = engine::SyncMode::kNone;
    std::unique_ptr<engine::DB> db;
    die(engine::DB::open(o, dir, &db), "open");
    std::string value(16, 'v');
    for (uint64_t root = 0; root < roots; ++root)
      for (uint64_t d = 0; d < depth; ++d) die(db->put({}, page_key(root, d), value), "put");
    // Evict r subtrees.
    for (uint64_t root = 0; root < r; ++root)
      die(db->delete_range({}, root_key(root), successor(root_key(root))), "delete_range");
    std::mt19937_64 rng(r + 1);
    std::vector<double> seek_us, get_us;
    uint64_t next_root = roots;
    std::string out;
    for (int i = 0; i < ops; ++i) {
      uint64_t root = r + rng() % (roots - r);
      std::string probe = page_key(root, depth + 1);  // one page past the cached prefix
      auto t = Clock::now();
      auto it = db->new_iterator({});
      it->seek_for_prev(probe);
      bool hit = it->valid() && it->key().substr(0, 10) == root_key(root);
      seek_us.push_back(micros_since(t));
      if (!hit) std::fprintf(stderr, "probe missed its subtree\n"), std::exit(1);
      t = Clock::now();
      die(db->get({}, page_key(root, rng() % depth), &out), "get");
      get_us.push_back(micros_since(t));
      if (i % 16 == 0) {  // a put and an eviction: the tombstone set changes
        die(db->put({}, page_key(next_root++, 0), value), "put");
        die(db->delete_range({}, root_key(next_root + roots), successor(root_key(next_root + roots))),
            "delete_range");
      }
    }
    double seek_mean = 0, get_mean = 0;
    for (double x : seek_us) seek_mean += x / seek_us.size();
    for (double x : get_us) get_mean += x / get_us.size();
    std::printf("| %llu | %.2f | %.2f | %.2f | %.2f |\n", static_cast<unsigned long long>(r),
                median(seek_us), seek_mean, median(get_us), get_mean);
    std::fflush(stdout);
    db.reset();
  }
  std::filesystem::remove_all(dir);
  return 0;
}
