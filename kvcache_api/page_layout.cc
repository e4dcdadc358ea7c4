#include "kvcache_api/page_layout.h"

#include <cstring>

namespace lsm4kv::kvcache {

void convert_page(const KvLayout& layout, const KvBuffer& b, size_t first_row, size_t count,
                  char* record, bool to_record) {
  const size_t row = size_t{layout.kv_heads} * layout.head_dim * dtype_size(layout.dtype);
  for (size_t t = 0; t < count; t++) {
    for (uint32_t l = 0; l < layout.layers; l++) {
      for (int kv = 0; kv < 2; kv++) {
        char* rec = record + ((t * layout.layers + l) * 2 + kv) * row;
        char* buf = static_cast<char*>(kv == 0 ? b.k[l] : b.v[l]) + (first_row + t) * b.row_stride;
        if (to_record) std::memcpy(rec, buf, row);
        else std::memcpy(buf, rec, row);
      }
    }
  }
}

}  // namespace lsm4kv::kvcache
