// A program built against the installed tree alone (scripts/install_check.sh:
// `meson install` into a scratch root, then g++ with `pkg-config --cflags
// --libs --static lsm4kv`): the public header must compile without the
// source tree, and the library must link. It stores a prompt, probes it and
// reads it back, byte for byte.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kvcache_api/kv_store.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer DIR\n");
    return 2;
  }
  StoreOptions o;
  o.dir = argv[1];
  o.page_tokens = 16;
  o.sync = SyncMode::kPerBatch;
  std::unique_ptr<KvStore> store;
  Status s = KvStore::open(o, &store);
  if (!s.ok()) return std::fprintf(stderr, "open: %s\n", s.to_string().c_str()), 1;
  NamespaceId ns = 0;
  const KvLayout layout{2, 2, 64, DType::kBF16};
  s = store->register_namespace("model", layout, &ns);
  if (!s.ok()) return std::fprintf(stderr, "register_namespace: %s\n", s.to_string().c_str()), 1;
  std::vector<Token> tokens(64);
  for (size_t i = 0; i < tokens.size(); i++) tokens[i] = static_cast<Token>(i * 7 + 1);
  std::vector<char> kv(tokens.size() * layout.bytes_per_token());
  for (size_t i = 0; i < kv.size(); i++) kv[i] = static_cast<char>(i * 31 + 3);
  s = store->put_batch(ns, tokens, KvBuffer::host(kv.data(), kv.size()));
  if (!s.ok()) return std::fprintf(stderr, "put_batch: %s\n", s.to_string().c_str()), 1;
  size_t cached = 0;
  s = store->probe(ns, tokens, &cached);
  if (!s.ok() || cached != tokens.size())
    return std::fprintf(stderr, "probe: %s, %zu cached\n", s.to_string().c_str(), cached), 1;
  std::vector<char> got(kv.size());
  s = store->get_batch(ns, tokens, cached, KvBuffer::host(got.data(), got.size()));
  if (!s.ok() || std::memcmp(got.data(), kv.data(), kv.size()) != 0)
    return std::fprintf(stderr, "get_batch: %s\n", s.to_string().c_str()), 1;
  s = store->close();
  if (!s.ok()) return std::fprintf(stderr, "close: %s\n", s.to_string().c_str()), 1;
  std::printf("installed lsm4kv: put, probe and get of %zu tokens OK\n", cached);
  return 0;
}
