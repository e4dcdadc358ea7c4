// kvtool probe and get: token lists from a file against the store.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "kvcache_api/store_admin.h"
#include "tools/kvtool/commands.h"
#include "tools/kvtool/output.h"

namespace lsm4kv::kvtool {
namespace {

using kvcache::KvStore;
using kvcache::Token;

struct TokenList {
  size_t line = 0;  // 1-based line in the file
  std::vector<Token> tokens;
};

// One whitespace-separated list of token ids per line; blank lines are
// skipped. *error says what is wrong and where.
bool read_token_file(const std::string& path, std::vector<TokenList>* out, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot open the token file";
    return false;
  }
  std::string line;
  for (size_t n = 1; std::getline(in, line); n++) {
    std::istringstream words(line);
    TokenList list{n, {}};
    std::string w;
    while (words >> w) {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(w.c_str(), &end, 10);
      if (*end != '\0' || errno != 0 || v < INT32_MIN || v > INT32_MAX) {
        *error = path + ":" + std::to_string(n) + ": '" + w + "' is not a token id (an int32)";
        return false;
      }
      list.tokens.push_back(static_cast<Token>(v));
    }
    if (!list.tokens.empty()) out->push_back(std::move(list));
  }
  if (in.bad()) {
    *error = path + ": read error";
    return false;
  }
  if (out->empty()) {
    *error = path + ": no token lists in the file";
    return false;
  }
  return true;
}

struct Prepared {
  std::unique_ptr<KvStore> store;
  kvcache::admin::NamespaceInfo ns;
  std::vector<TokenList> lists;
};

// Reads the token file first (a bad file is a usage error, locked store or not).
bool prepare(const Common& c, const TokenArgs& a, Prepared* p, int* code) {
  std::string error;
  if (!read_token_file(a.tokens_file, &p->lists, &error)) {
    *code = fail(c, kExitUsage, error);
    return false;
  }
  if (!open_store(c, false, &p->store, code)) return false;
  std::vector<kvcache::admin::NamespaceInfo> all;
  Status s = kvcache::admin::list_namespaces(*p->store, &all);
  if (!s.ok()) {
    *code = fail_status(c, s, false);
    return false;
  }
  std::string names;
  for (const auto& n : all) {
    if (n.name == a.ns) {
      p->ns = n;
      return true;
    }
    names += (names.empty() ? "" : ", ") + n.name;
  }
  *code = fail(c, kExitUsage, "no namespace named '" + a.ns + "' (the store has: " + (names.empty() ? "none" : names) + ")");
  return false;
}

}  // namespace

int run_probe(const Common& c, const TokenArgs& a) {
  Prepared p;
  int code = 0;
  if (!prepare(c, a, &p, &code)) return code;
  Json j;
  j.begin_object().field("namespace", a.ns).field("page_tokens", p.store->page_tokens()).begin_array("results");
  for (const TokenList& l : p.lists) {
    size_t cached = 0;
    Status s = p.store->probe(p.ns.id, l.tokens, &cached);
    if (!s.ok()) return fail(c, kExitProblems, a.tokens_file + ":" + std::to_string(l.line) + ": " + s.to_string());
    if (c.json) {
      j.begin_object()
          .field("line", static_cast<uint64_t>(l.line))
          .field("tokens", static_cast<uint64_t>(l.tokens.size()))
          .field("cached", static_cast<uint64_t>(cached))
          .end_object();
    } else {
      std::printf("line %zu: %zu of %zu tokens cached (%zu pages)\n", l.line, cached, l.tokens.size(),
                  cached / p.store->page_tokens());
    }
  }
  j.end_array().end_object();
  if (c.json) std::printf("%s\n", j.str().c_str());
  return kExitOk;
}

int run_get(const Common& c, const TokenArgs& a) {
  Prepared p;
  int code = 0;
  if (!prepare(c, a, &p, &code)) return code;
  std::FILE* out = std::fopen(a.out_file.c_str(), "wb");
  if (out == nullptr) return fail(c, kExitUsage, a.out_file + ": cannot create the output file");
  const size_t bpt = p.ns.layout.bytes_per_token();
  Json j;
  j.begin_object()
      .field("namespace", a.ns)
      .field("page_tokens", p.store->page_tokens())
      .field("bytes_per_token", static_cast<uint64_t>(bpt))
      .field("out", a.out_file)
      .begin_array("results");
  uint64_t offset = 0;
  std::vector<char> buf;
  for (const TokenList& l : p.lists) {
    size_t cached = 0;
    Status s = p.store->probe(p.ns.id, l.tokens, &cached);
    if (s.ok() && cached > 0) {
      buf.resize(cached * bpt);
      s = p.store->get_batch(p.ns.id, l.tokens, cached, kvcache::KvBuffer::host(buf.data(), buf.size()));
      if (s.ok() && std::fwrite(buf.data(), 1, buf.size(), out) != buf.size())
        s = Status::io_error(a.out_file + ": write failed");
    }
    if (!s.ok()) {
      std::fclose(out);
      return fail(c, kExitProblems, a.tokens_file + ":" + std::to_string(l.line) + ": " + s.to_string());
    }
    const uint64_t bytes = cached * bpt;
    if (c.json) {
      j.begin_object()
          .field("line", static_cast<uint64_t>(l.line))
          .field("tokens", static_cast<uint64_t>(l.tokens.size()))
          .field("cached", static_cast<uint64_t>(cached))
          .field("offset", offset)
          .field("bytes", bytes)
          .end_object();
    } else {
      std::printf("line %zu: %zu of %zu tokens cached; %llu bytes at offset %llu of %s\n", l.line, cached,
                  l.tokens.size(), static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(offset),
                  a.out_file.c_str());
    }
    offset += bytes;
  }
  if (std::fclose(out) != 0) return fail(c, kExitProblems, a.out_file + ": write failed");
  j.end_array().field("bytes", offset).end_object();
  if (c.json) std::printf("%s\n", j.str().c_str());
  return kExitOk;
}

}  // namespace lsm4kv::kvtool
