// MergingIterator: one sorted view over several InternalIterators (memtable,
// immutable memtable, runs), ordered NEWEST SOURCE FIRST. Where several
// sources hold the same key, the view yields it once, from the newest
// source — which is the newest version, since every source's sequence
// numbers exceed those of the sources after it.
//
// INVARIANT (forward direction): every child is positioned at its first key
// >= the current key; (backward): at its last key <= the current key.
// Switching direction re-seeks the children that are off the current key.
// Few children (a handful of runs per level), so a linear scan picks the
// smallest / largest child; no heap.
//
// Thread-safety: as InternalIterator.
#pragma once

#include <memory>
#include <vector>

#include "engine/internal_iterator.h"

namespace lsm4kv::engine {

std::unique_ptr<InternalIterator> new_merging_iterator(
    std::vector<std::unique_ptr<InternalIterator>> children_newest_first);

}  // namespace lsm4kv::engine
