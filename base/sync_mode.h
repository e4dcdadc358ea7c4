// SyncMode: how a write is made durable before it is acknowledged. One enum
// for the engine's WAL, the tensor log's segments and the store's puts.
#pragma once

#include <cstdint>

namespace lsm4kv {

enum class SyncMode : uint8_t {
  kNone = 0,         // written, not synced: fastest; a machine crash may lose recent writes
  kPerBatch = 1,     // an fdatasync for every batch, one at a time: durable when it returns
  kGroupCommit = 2,  // concurrent writers share one fdatasync; each is durable when it returns
};

}  // namespace lsm4kv
