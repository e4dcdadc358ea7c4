// The two layouts of a page's KV bytes (kv_store.h, KV bytes): the
// page-major record the tensor log stores, and the per-layer K and V rows of
// a GPU KV pool.
#pragma once

#include <cstddef>

#include "kvcache_api/kv_store.h"

namespace lsm4kv::kvcache {

// Copies one page between its page-major record form and a per-layer buffer.
// to_record: per-layer rows -> record; else record -> rows. first_row: the
// page's first token within the request; count: tokens to copy.
void convert_page(const KvLayout& layout, const KvBuffer& b, size_t first_row, size_t count,
                  char* record, bool to_record);

}  // namespace lsm4kv::kvcache
