// reopen_bench: how long an existing store takes to open, and how long
// until its state is loaded in the background (stats() waits for it).
// Opens DIR read-write --runs times (scale_bench --keep leaves one):
//   ./build/bench/scale/reopen_bench --dir bench-data/scale-5m --runs 3
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "kvcache_api/kv_store.h"
#include "kvcache_api/store_admin.h"

using namespace lsm4kv::kvcache;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app("reopen_bench: open time of an existing store");
  std::string dir;
  int runs = 3;
  app.add_option("--dir", dir, "an existing store")->required();
  app.add_option("--runs", runs, "opens")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  for (int i = 0; i < runs; i++) {
    StoreOptions o;
    o.dir = dir;
    std::unique_ptr<KvStore> store;
    const auto t0 = Clock::now();
    lsm4kv::Status s = admin::open_existing(o, &store);
    const double open_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!s.ok()) return std::fprintf(stderr, "open: %s\n", s.to_string().c_str()), 1;
    StoreStats st;
    s = store->stats(&st);
    const double loaded_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!s.ok()) return std::fprintf(stderr, "stats: %s\n", s.to_string().c_str()), 1;
    std::printf("open %.3f s, state loaded after %.3f s; %llu stored bytes, memory %llu B\n", open_s, loaded_s,
                static_cast<unsigned long long>(st.stored_bytes), static_cast<unsigned long long>(st.memory.total()));
    std::printf("RESULT open_s=%.4f loaded_s=%.4f\n", open_s, loaded_s);
    if (!store->close().ok()) return 1;
  }
  return 0;
}
