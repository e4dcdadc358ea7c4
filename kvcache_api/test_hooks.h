// Test hooks, outside the public header. The store's key functions: tests
// that need collisions (of page fingerprints, or of the chained digest) set
// them; a store captures the hooks set when it is opened. Never set in
// production code.
//
// Thread-safety: set before opening the stores that should see them; a store
// keeps a copy.
#pragma once

#include <functional>
#include <span>
#include <string_view>

#include "kvcache_api/prefix_key.h"

namespace lsm4kv::engine { class DB; }
namespace lsm4kv::tensorlog { class TensorLog; }

namespace lsm4kv::kvcache {
class KvStore;
}

namespace lsm4kv::kvcache::testing {

// The store's index and tensor log, for tests that damage or inspect them
// directly (store_admin.cc). Null after close().
engine::DB* index_of(KvStore* store);
tensorlog::TensorLog* log_of(KvStore* store);

// Where the store's background thread calls the region hook in a round of
// region eviction (kv_store_region.cc), with neither write_mu_ nor
// collect_mu_ held: tests put in those windows.
enum class RegionPoint {
  kWalked,  // after the walk of the region's pages, before the choice of what goes
  kCopied,  // after the copy of what stays, before the index update
  kPrepared,  // after a preparation moved the next region's kept pages, before the index update
};
// Empty: none.
void set_region_walk_hook(KvStore* store, std::function<void(RegionPoint)> hook);

struct KeyHooks {
  // Replaces XXH3-64 of a page's tokens in index keys.
  Fingerprinter fingerprint;
  // Replaces the chained digest d_i = H(d_{i-1} ‖ tokens) everywhere (keys,
  // tags, rebuild).
  std::function<Digest(const Digest& parent, std::string_view page_token_bytes)> chain;
};

// Empty hooks = none. Returns the previous ones.
KeyHooks set_key_hooks(KeyHooks hooks);
const KeyHooks& key_hooks();

// Sets hooks for one scope.
class ScopedKeyHooks {
 public:
  explicit ScopedKeyHooks(KeyHooks h) : previous_(set_key_hooks(std::move(h))) {}
  ~ScopedKeyHooks() { set_key_hooks(std::move(previous_)); }

 private:
  KeyHooks previous_;
};

}  // namespace lsm4kv::kvcache::testing
