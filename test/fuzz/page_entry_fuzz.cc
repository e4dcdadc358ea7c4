// Fuzz target: the store's index encodings (kvcache_api/prefix_key.h): the
// page entry (Location + tick), the namespace layout record, and the page
// keys and tags.
//
// decode_layout lives in an anonymous namespace of kvcache_api/kv_store.cc,
// so this file includes that .cc: the target then holds the store's own
// definitions (the library's copy of that object is not linked in).
//
// Input: one selector byte; selector % 4 picks:
//   0 page entry   decode; decode(encode(x)) == x; an entry built from the
//                  bytes round-trips; every strict prefix of an encoding (but
//                  the one that drops exactly the optional digest) and the
//                  encoding plus one byte are rejected.
//   1 layout       decode; a decoded layout has a known dtype and
//                  round-trips; a built one round-trips, cut short it fails.
//   2 keys         prompt_keys with a window of W pages: a key is at most
//                  18 + 8·W bytes; inside a window key i is a prefix of key
//                  i+1; a window's keys start with ns | the digest before
//                  it; key_successor(k) is above every extension of k.
//   3 tags         a mode byte; even: page_tags gives 46 bytes, ns | page
//                  index | d_{i-1} | f(page i) | d_i, which decode_tag gives
//                  back, and page i's d_{i-1} is the d_i of the tag before;
//                  odd: the rest as a tag: 46 bytes decode and encode to
//                  themselves, other lengths do not decode.
#include "kvcache_api/kv_store.cc"

#include <xxhash.h>

#include <cstring>

#include "test/fuzz/fuzz_util.h"

using lsm4kv::fuzz::Input;
using namespace lsm4kv::kvcache;

namespace {

void page_entry(Input* in) {
  if (in->byte() & 1) {
    PageEntry e;
    if (!e.decode_from(in->rest())) return;
    FUZZ_CHECK(e.location.offset % lsm4kv::tensorlog::kRecordAlign == 0);
    std::string enc;
    e.encode_to(&enc);
    PageEntry f;
    FUZZ_CHECK(f.decode_from(enc));
    FUZZ_CHECK(f.location == e.location && f.tick == e.tick && f.digest == e.digest);
    return;
  }
  PageEntry e;
  e.location.segment = in->u64();
  e.location.offset = (in->u64() >> 4) * lsm4kv::tensorlog::kRecordAlign;
  e.location.length = in->u64();
  e.tick = in->u64();
  if (in->byte() & 1) e.digest = Digest{in->u64(), in->u64()};
  std::string enc;
  e.encode_to(&enc);
  FUZZ_CHECK(enc.size() <= lsm4kv::tensorlog::Location::kMaxEncodedLength + 10 + kDigestBytes);
  PageEntry f;
  FUZZ_CHECK(f.decode_from(enc));
  FUZZ_CHECK(f.location == e.location && f.tick == e.tick && f.digest == e.digest);
  for (size_t cut = 0; cut < enc.size(); cut++) {
    // Cut right after the tick, an entry with a digest reads as the same
    // entry without one (values are written whole; the index checksums them).
    if (e.digest && cut == enc.size() - kDigestBytes) continue;
    FUZZ_CHECK(!f.decode_from(std::string_view(enc).substr(0, cut)));
  }
  FUZZ_CHECK(!f.decode_from(enc + static_cast<char>(in->byte())));
}

void layout(Input* in) {
  if (in->byte() & 1) {
    NamespaceId id;
    KvLayout l;
    if (!decode_layout(in->rest(), &id, &l)) return;
    // decode_layout accepts zero layers / kv_heads / head_dim, which
    // register_namespace never writes (README.md, findings); not checked.
    FUZZ_CHECK(dtype_size(l.dtype) > 0);
    NamespaceId id2;
    KvLayout l2;
    FUZZ_CHECK(decode_layout(encode_layout(id, l), &id2, &l2));
    FUZZ_CHECK(id2 == id && l2 == l);
    return;
  }
  NamespaceId id = static_cast<NamespaceId>(in->byte() | in->byte() << 8);
  KvLayout l;
  l.layers = 1 + static_cast<uint32_t>(in->u64() % 1000);
  l.kv_heads = 1 + static_cast<uint32_t>(in->u64() % 1000);
  l.head_dim = 1 + static_cast<uint32_t>(in->u64() % 4096);
  l.dtype = static_cast<DType>(in->byte() % 4);
  NamespaceId id2;
  KvLayout l2;
  std::string enc = encode_layout(id, l);
  FUZZ_CHECK(decode_layout(enc, &id2, &l2));
  FUZZ_CHECK(id2 == id && l2 == l);
  FUZZ_CHECK(!decode_layout(std::string_view(enc).substr(0, enc.size() - 1), &id2, &l2));
}

std::vector<Token> tokens_of(Input* in) {
  std::vector<Token> t;
  while (in->left() >= 4) {
    std::string_view b = in->take(4);
    t.push_back(static_cast<Token>(lsm4kv::decode_fixed32(b.data())));
  }
  return t;
}

void keys(Input* in) {
  NamespaceId ns = static_cast<NamespaceId>(in->byte() % 8);
  uint32_t page_tokens = 1 + in->byte() % 8;
  uint32_t window = 1 + in->byte() % 8;
  std::vector<Token> tokens = tokens_of(in);
  size_t pages = tokens.size() / page_tokens;
  PromptKeys pk = prompt_keys(ns, tokens, page_tokens, pages, window, nullptr);
  const std::vector<std::string>& k = pk.all_keys();
  FUZZ_CHECK(k.size() == pages && pk.size() == pages);
  for (size_t i = 0; i < pages; i++) {
    FUZZ_CHECK(k[i].size() <= kKeyHeadBytes + kFingerprintBytes * window);
    FUZZ_CHECK(key_window_pages(k[i]) == i % window + 1);
    FUZZ_CHECK(key_well_formed(k[i], window));
    FUZZ_CHECK(key_namespace(k[i]) == ns);
    FUZZ_CHECK(key_digest(k[i]) == pk.parent_of(i - i % window));
    if (i % window > 0) FUZZ_CHECK(k[i].compare(0, k[i - 1].size(), k[i - 1]) == 0);
    else FUZZ_CHECK(k[i].starts_with(window_prefix(ns, pk.parent_of(i))));
    std::string succ = key_successor(k[i]);
    if (succ.empty()) continue;  // all 0xff: no successor
    FUZZ_CHECK(k[i] < succ);
    if (i + 1 < pages && (i + 1) % window > 0) FUZZ_CHECK(k[i + 1] < succ);
    FUZZ_CHECK(k[i] + std::string(8, '\xff') < succ);
  }
  // The keys depend on the tokens only through the fingerprinter.
  PromptKeys again = prompt_keys(ns, tokens, page_tokens, pages, window,
      [](std::span<const Token> p) { return XXH3_64bits(p.data(), p.size_bytes()); });
  FUZZ_CHECK(again.all_keys() == k);
}

void tags(Input* in) {
  if (in->byte() & 1) {  // odd: any bytes as a tag; even: tags built from tokens
    std::string_view raw = in->rest();
    PageTag t;
    FUZZ_CHECK(decode_tag(raw, &t) == (raw.size() == kTagBytes));
    if (raw.size() == kTagBytes) FUZZ_CHECK(encode_tag(t) == raw);
    return;
  }
  NamespaceId ns = static_cast<NamespaceId>(in->byte() | in->byte() << 8);
  uint32_t page_tokens = 1 + in->byte() % 8;
  size_t first = in->byte() % 4;
  std::vector<Token> tokens = tokens_of(in);
  size_t pages = tokens.size() / page_tokens;
  if (first > pages) first = pages;
  PromptKeys pk = prompt_keys(ns, tokens, page_tokens, pages, 1, nullptr);
  std::vector<std::string> t = page_tags(pk, first, pages - first);
  FUZZ_CHECK(t.size() == pages - first);
  for (size_t i = 0; i < t.size(); i++) {
    size_t p = first + i;
    FUZZ_CHECK(t[i].size() == kTagBytes);
    FUZZ_CHECK(t[i].size() <= lsm4kv::tensorlog::kMaxTagLen);
    FUZZ_CHECK(t[i].compare(0, kNsBytes, ns_prefix(ns)) == 0);
    PageTag d;
    FUZZ_CHECK(decode_tag(t[i], &d));
    FUZZ_CHECK(d.ns == ns && d.page == p);
    FUZZ_CHECK(d.parent == pk.parent_of(p) && d.digest == pk.digest(p));
    FUZZ_CHECK(d.fingerprint == XXH3_64bits(tokens.data() + p * page_tokens, 4 * page_tokens));
    FUZZ_CHECK(d.fingerprint == key_fingerprint(pk.key(p)));
    FUZZ_CHECK(encode_tag(d) == t[i]);
    if (i > 0) {  // a tag names its parent: the record whose d_i is its d_{i-1}
      PageTag before;
      FUZZ_CHECK(decode_tag(t[i - 1], &before) && before.digest == d.parent);
    }
    // The same page computed on its own (first = p) carries the same tag.
    FUZZ_CHECK(page_tags(pk, p, 1)[0] == t[i]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  switch (in.byte() % 4) {
    case 0: page_entry(&in); break;
    case 1: layout(&in); break;
    case 2: keys(&in); break;
    case 3: tags(&in); break;
  }
  return 0;
}
