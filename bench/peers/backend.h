// The common interface of the peers benchmark: one request stream, four
// stores behind it (lsm4kv, RocksDB with integrated BlobDB, file-per-page,
// the raw disk). A request is a prompt of pages; page i is named by the
// chained hash of the prompt's page ids 0..i (PromptKeys), its bytes are
// derived from that hash (fill_page), so every get is checked byte for byte
// (check_page). Each backend is what a serving engine would call: probe the
// longest stored prefix, get it, put the rest; a put is durable when it
// returns. Single-threaded: the runner calls one method at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace lsm4kv::bench::peers {

// A prompt's pages: ids (one per page, as the trace's hash ids) and chain[i]
// = the chained hash of ids[0..i], which names page i in every backend but
// RocksDB (whose keys are the ids' bytes themselves: prefix-preserving).
struct PromptKeys {
  std::vector<uint64_t> ids;
  std::vector<uint64_t> chain;
  static PromptKeys of(std::vector<uint64_t> ids);
};

struct BackendOptions {
  std::string dir;              // the backend's own directory, created empty
  size_t page_bytes = 0;        // a multiple of 4096
  uint64_t capacity_bytes = 0;  // on disk, the same for every backend
  uint64_t segment_bytes = 0;   // lsm4kv's segment size (0 = its default)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // *n = the pages of the longest stored prefix of keys.
  virtual Status probe(const PromptKeys& keys, size_t* n) = 0;
  // Reads pages 0..n-1 into dst (n · page_bytes, 4096-aligned). *got = the
  // pages that were there (fewer when evicted since the probe: a miss from
  // there on).
  virtual Status get(const PromptKeys& keys, size_t n, char* dst, size_t* got) = 0;
  // Stores pages from..end (src holds every page of the prompt, 4096-aligned),
  // durably when it returns, making room under the capacity first.
  virtual Status put(const PromptKeys& keys, size_t from, const char* src) = 0;
  // Flushes and releases everything (the files stay for counting).
  virtual Status close() = 0;
};

// Opens a B (a Backend with `Status open(const BackendOptions&)`) into *out:
// what each open_* below does with its own class.
template <class B>
Status open_backend(const BackendOptions& o, std::unique_ptr<Backend>* out) {
  auto b = std::make_unique<B>();
  LSM4KV_RETURN_IF_ERROR(b->open(o));
  *out = std::move(b);
  return Status::OK();
}

Status open_lsm4kv(const BackendOptions& o, std::unique_ptr<Backend>* out);
Status open_rocksdb(const BackendOptions& o, std::unique_ptr<Backend>* out);
Status open_file_per_page(const BackendOptions& o, std::unique_ptr<Backend>* out);
Status open_raw(const BackendOptions& o, std::unique_ptr<Backend>* out);

// Page contents from the page's chained hash.
void fill_page(uint64_t chain, char* page, size_t bytes);
// Corruption naming the page unless page holds fill_page's bytes.
Status check_page(uint64_t chain, const char* page, size_t bytes);

}  // namespace lsm4kv::bench::peers
