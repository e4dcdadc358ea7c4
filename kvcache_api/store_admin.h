// The admin surface of a store, for tools (kvtool) and monitoring: what the
// index and the tensor log hold, and their maintenance, through the store.
// No raw engine or log pointer leaves the store (a tool holding one could
// break the store's invariants); serving code needs none of this
// (kv_store.h). The store's own inspection calls (list_namespaces, tree,
// verify, verify_dir, the stats file) are on KvStore.
//
// Every call takes a store opened by KvStore::open or open_existing and is
// InvalidArgument after its close().
//
// Thread-safety: as the store's calls.
#pragma once

#include <vector>

#include "base/lsm_shape.h"
#include "base/status.h"
#include "engine/db.h"
#include "kvcache_api/kv_store.h"
#include "tensorlog/tensor_log.h"

namespace lsm4kv::kvcache::admin {

// The index's levels, runs, counters and shape.
Status index_properties(KvStore* store, engine::Properties* out);
// Every segment of the tensor log: bytes live and dead, records, state.
Status segments(KvStore* store, std::vector<tensorlog::SegmentInfo>* out);
// Merges the index's runs down (engine::DB::compact_all).
Status compact_index(KvStore* store);
// Reshapes the index to T and K now (the tuner may move it again later,
// unless the store's shape is pinned).
Status reshape_index(KvStore* store, const LsmShape& shape);

}  // namespace lsm4kv::kvcache::admin
