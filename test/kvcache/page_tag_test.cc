// The tensor-record tag of a token page (store format 4, prefix_key.h): 46
// bytes whatever the page size; it round-trips; a read whose tag differs from
// the record's in any one field is a tag mismatch; and the index is rebuilt
// from tags alone (IndexRebuilder), windows included.
#include <catch2/catch.hpp>

#include <xxhash.h>

#include <map>
#include <random>

#include "kvcache_api/index_rebuild.h"
#include "kvcache_api/prefix_key.h"
#include "tensorlog/tensor_log.h"
#include "test/engine/test_util.h"

using namespace lsm4kv;
using namespace lsm4kv::kvcache;

namespace {

std::vector<Token> random_tokens(std::mt19937_64& rng, size_t n) {
  std::vector<Token> t(n);
  for (auto& x : t) x = static_cast<Token>(rng() % 50000);
  return t;
}

uint64_t xxh_fingerprint(const std::vector<Token>& t, uint32_t page_tokens, size_t page) {
  return XXH3_64bits(t.data() + page * page_tokens, page_tokens * sizeof(Token));
}

}  // namespace

TEST_CASE("a page's tag is 46 bytes whatever the page size and decodes to its fields", "[kvcache][tag]") {
  const uint32_t page_tokens = GENERATE(1u, 16u, 512u);
  std::mt19937_64 rng(page_tokens);
  const size_t pages = 5;
  const auto tokens = random_tokens(rng, pages * page_tokens);
  const NamespaceId ns = 7;
  const PromptKeys k(ns, tokens, page_tokens, pages, 2, nullptr);
  const std::vector<std::string> tags = page_tags(k, 0, pages);
  REQUIRE(tags.size() == pages);
  for (size_t p = 0; p < pages; p++) {
    INFO("page " << p);
    REQUIRE(tags[p].size() == kTagBytes);
    CHECK(kTagBytes == 46);
    PageTag t;
    REQUIRE(decode_tag(tags[p], &t));
    CHECK(t.ns == ns);
    CHECK(t.page == p);
    CHECK(t.parent == k.parent_of(p));
    CHECK(t.fingerprint == xxh_fingerprint(tokens, page_tokens, p));
    CHECK(t.fingerprint == key_fingerprint(k.key(p)));
    CHECK(t.digest == k.digest(p));
    CHECK(encode_tag(t) == tags[p]);
    CHECK(page_tags(k, p, 1)[0] == tags[p]);
  }
  PageTag t;
  CHECK_FALSE(decode_tag(tags[0].substr(0, kTagBytes - 1), &t));
  CHECK_FALSE(decode_tag(tags[0] + '\0', &t));
  // A format 3 tag (22 bytes + the page's token ids) is not a tag any more.
  CHECK_FALSE(decode_tag(std::string(22 + 4 * page_tokens, 'x'), &t));
}

TEST_CASE("a read whose tag differs from the record's in any one field is a tag mismatch", "[kvcache][tag]") {
  test::TempDir dir("lsm4kv_tag");
  std::unique_ptr<tensorlog::TensorLog> log;
  REQUIRE(tensorlog::TensorLog::open(dir.path() + "/tensors", tensorlog::TensorLogOptions{}, &log).ok());
  constexpr uint32_t P = 16;
  std::mt19937_64 rng(3);
  const auto tokens = random_tokens(rng, 3 * P);
  const PromptKeys k(9, tokens, P, 3, 8, nullptr);
  const std::string tag = page_tags(k, 1, 1)[0];
  const std::string payload(P * 64, 'k');
  std::vector<tensorlog::Location> locs;
  const tensorlog::RecordInput in{tag, payload.data(), payload.size()};
  REQUIRE(log->append({&in, 1}, &locs).ok());

  auto read_with = [&](const std::string& t) {
    std::string dst(payload.size(), '\0');
    tensorlog::ReadRequest q;
    q.location = locs[0];
    q.tag = t;
    q.dst = dst.data();
    q.size = dst.size();
    Status s = log->read({&q, 1});
    if (s.ok() && dst != payload) return Status::corruption("wrong bytes");
    return s.ok() ? q.status : s;
  };
  REQUIRE(read_with(tag).ok());

  PageTag base;
  REQUIRE(decode_tag(tag, &base));
  auto with = [&](auto change) {
    PageTag t = base;
    change(t);
    return t;
  };
  std::map<std::string, PageTag> changed{
      {"namespace", with([](PageTag& t) { t.ns ^= 1; })},
      {"page index", with([](PageTag& t) { t.page += 1; })},
      {"parent digest", with([](PageTag& t) { t.parent.high ^= 1; })},
      {"fingerprint", with([](PageTag& t) { t.fingerprint ^= uint64_t{1} << 63; })},
      {"chained digest, low half", with([](PageTag& t) { t.digest.low ^= 1; })},
      {"chained digest, high half", with([](PageTag& t) { t.digest.high ^= 1; })},
  };
  // Another prompt's tag for the same page: every hashed field differs.
  const auto other = random_tokens(rng, 3 * P);
  REQUIRE(decode_tag(page_tags(PromptKeys(9, other, P, 3, 8, nullptr), 1, 1)[0], &changed["another prompt"]));
  for (const auto& [field, t] : changed) {
    INFO(field);
    const Status s = read_with(encode_tag(t));
    CHECK(s.is_tag_mismatch());
  }
}

TEST_CASE("the index is rebuilt from tags alone: keys, window digests, dropped orphans", "[kvcache][tag][rebuild]") {
  // Prompts of up to 7 pages sharing prefixes, windows of 1..3 pages; the
  // rebuilt keys are the ones PromptKeys computes from the tokens.
  const uint32_t window = GENERATE(1u, 2u, 3u);
  constexpr uint32_t P = 4;
  constexpr NamespaceId kNs = 3;
  std::mt19937_64 rng(window);
  const auto trunk = random_tokens(rng, 3 * P);
  std::vector<std::vector<Token>> prompts;
  for (int b = 0; b < 4; b++) {
    auto p = trunk;
    const auto branch = random_tokens(rng, (1 + b) * P);
    p.insert(p.end(), branch.begin(), branch.end());
    prompts.push_back(std::move(p));
  }
  std::map<std::string, std::optional<Digest>> want;  // key -> digest in its entry
  std::map<std::string, uint64_t> newest;               // key -> offset of its last record
  IndexRebuilder r(window, {kNs});
  uint64_t offset = 4096, records = 0;
  const std::string orphan_key = [&] {
    // An orphan: page 2 of a prompt whose pages 0 and 1 have no record.
    const auto lone = random_tokens(rng, 3 * P);
    const PromptKeys k(kNs, lone, P, 3, window, nullptr);
    r.add({1, offset += 4096, 100}, page_tags(k, 2, 1)[0]);
    records++;
    return k.key(2);
  }();
  for (const auto& p : prompts) {
    const size_t pages = p.size() / P;
    const PromptKeys k(kNs, p, P, pages, window, nullptr);
    const auto tags = page_tags(k, 0, pages);
    for (size_t i = 0; i < pages; i++) {
      r.add({1, offset += 4096, 100}, tags[i]);  // shared pages again: duplicates
      records++;
      want[k.key(i)] = i % window == window - 1 ? std::optional<Digest>(k.digest(i)) : std::nullopt;
      newest[k.key(i)] = offset;
    }
  }
  // A foreign namespace's record is left out.
  const PromptKeys foreign(kNs + 1, trunk, P, 1, window, nullptr);
  r.add({1, offset += 4096, 100}, page_tags(foreign, 0, 1)[0]);
  records++;

  std::map<std::string, std::optional<Digest>> got;
  std::map<std::string, uint64_t> offset_of;
  RepairReport report;
  REQUIRE(r.finish(
               [&](std::string_view key, const PageEntry& e) {
                 got[std::string(key)] = e.digest;
                 offset_of[std::string(key)] = e.location.offset;
                 return Status::OK();
               },
               &report)
              .ok());
  // Each key with its digest (a window's last page only) and its newest
  // record. (Window 2 and 3: siblings in mid-window after a sibling's
  // subtree started further windows.)
  for (const auto& [key, d] : want) {
    INFO("window " << window << ", a key of " << key.size() << " bytes");
    REQUIRE(got.count(key) == 1);
    CHECK(got[key].has_value() == d.has_value());
    if (d) CHECK(*got[key] == *d);
    CHECK(offset_of[key] == newest[key]);
  }
  CHECK(got.size() == want.size());
  CHECK(got.count(orphan_key) == 0);
  CHECK(report.records_scanned == records);
  CHECK(report.pages_kept == want.size());
  CHECK(report.pages_dropped == 1);
  CHECK(report.foreign_records == 1);
  CHECK(report.duplicates == records - want.size() - 2);
}
