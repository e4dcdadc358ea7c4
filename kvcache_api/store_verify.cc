// Verification of a store (admin::verify, admin::verify_dir): the index's
// files (engine::verify_dir), the tensor log's (tensorlog::verify_dir), then
// what only the store knows: every index entry against its tensor record.
#include <algorithm>
#include <optional>
#include <set>

#include "engine/verify_dir.h"
#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/subtree_walk.h"
#include "tensorlog/verify_dir.h"

namespace lsm4kv::kvcache {
namespace {

constexpr size_t kMaxProblems = 1000;  // then "... and N more"

FileSystem* posix() { return FileSystem::posix(); }

uint64_t read_be(std::string_view s) {
  uint64_t v = 0;
  for (unsigned char c : s) v = (v << 8) | c;
  return v;
}

// Checks the files and records of one store. `db` may be null (the index
// could not be opened): then every run file in the directory is checked and
// the entries are not.
class Verifier {
 public:
  Verifier(const std::string& dir, admin::VerifyReport* report, const admin::VerifyProgress& progress)
      : index_dir_(dir + "/index"),
        tensors_dir_(dir + "/tensors"),
        report_(report),
        progress_(progress),
        segment_files_(posix(), tensors_dir_) {}

  // Segments an open store is writing: only their headers are checked.
  void set_active_segments(std::set<uint64_t> ids) { active_segments_ = std::move(ids); }

  void problem(std::string what) {
    if (report_->problems.size() < kMaxProblems) report_->problems.push_back(std::move(what));
    else dropped_++;
  }

  void run(engine::DB* db) {
    engine::DirChecks checks;
    checks.problem = [this](std::string p) { problem(std::move(p)); };
    checks.checked = [this](uint64_t bytes) { advance(bytes); };
    checks.label = "index";
    const std::vector<engine::RunFile> runs = engine::list_run_files(posix(), index_dir_, db, checks);
    total_ = 0;
    for (const engine::RunFile& r : runs) total_ += r.size;
    for (uint64_t id : tensorlog::list_segments(posix(), tensors_dir_, [](std::string) {})) {  // reported below
      uint64_t size = 0;
      if (posix()->file_size(segment_files_.path(id), &size).ok()) total_ += size;
    }
    engine::DirCounts counts;
    engine::verify_dir(posix(), index_dir_, runs, checks, &counts);
    report_->run_files = counts.run_files;
    report_->wal_files = counts.wal_files;
    report_->manifests = counts.manifests;
    tensorlog::verify_dir(posix(), tensors_dir_, active_segments_, checks.problem, &report_->segments);
    if (db != nullptr) check_entries(db);
    if (progress_) progress_(total_, total_);
    if (dropped_ > 0) report_->problems.push_back("... and " + std::to_string(dropped_) + " more problems");
  }

 private:
  void advance(uint64_t bytes) {
    done_ += bytes;
    if (progress_ && done_ - reported_ >= (total_ / 200 + 1)) {
      reported_ = done_;
      progress_(std::min(done_, total_), total_);
    }
  }

  // Every index entry is well-formed and of a registered namespace; walked
  // from each prompt's first page (subtree_walk.h), every page's ancestors
  // come before it: a page's tag must carry its parent's chained digest (the
  // namespace's seed for a root), its own is that chained with its tokens,
  // and a window's last page holds it in its value (prefix_key.h). An entry
  // the walks do not reach has lost an ancestor.
  void check_entries(engine::DB* db) {
    std::string cfg;
    CfgRecord r;
    Status s = db->get({}, meta_key("cfg"), &cfg);
    if (!s.ok() || !decode_cfg_record(cfg, &r) || r.page_tokens == 0 || r.format_version != kStoreFormatVersion)
      return problem(index_dir_ + ": the store configuration record is missing, bad or of another format: " +
                     s.to_string());
    const uint32_t window = r.key_window_pages;
    std::set<NamespaceId> namespaces;
    auto it = db->new_iterator({});
    const std::string meta = meta_key("ns:");
    for (it->seek(meta); it->valid() && it->key().starts_with(meta); it->next()) {
      if (it->value().size() < kNsBytes) problem("namespace record '" + std::string(it->key().substr(meta.size())) + "' is malformed");
      else namespaces.insert(static_cast<NamespaceId>(read_be(it->value().substr(0, kNsBytes))));
    }
    const std::string end = ns_prefix(kMetaNamespace);
    uint64_t well_formed = 0;
    std::string record;
    for (it->seek_to_first(); it->valid() && it->key() < end; it->next()) {
      report_->entries++;
      const std::string_view key = it->key();
      PageEntry e;
      if (is_keyed_page(key)) {
        const NamespaceId ns = static_cast<NamespaceId>(key_namespace(key) & ~kKeyedBit);
        if (!e.decode_from(it->value()) || e.digest) problem("keyed page " + hex(key) + ": malformed value");
        else if (!namespaces.count(ns)) problem("keyed page " + hex(key) + ": namespace id " + std::to_string(ns) + " is not registered");
        else check_keyed_record(e.location, key, &record);
        continue;
      }
      if (!key_well_formed(key, window) || !e.decode_from(it->value()) ||
          e.digest.has_value() != (key_window_pages(key) == window)) {
        problem("index entry " + hex(key) + ": malformed key or value");
        continue;
      }
      well_formed++;
      if (!namespaces.count(key_namespace(key)))
        problem("index entry " + hex(key) + ": namespace id " + std::to_string(key_namespace(key)) + " is not registered");
    }
    if (!it->status().ok()) problem("index iteration stopped: " + it->status().to_string());
    uint64_t reached = 0;
    for (NamespaceId ns : namespaces) {
      std::vector<std::optional<Digest>> digest_of;  // by visit index; none when it could not be checked
      s = walk_namespace(db, ns, window, [&](const WalkedPage& w) {
        if (w.entry == nullptr) {
          digest_of.emplace_back();
          return true;
        }
        reached++;
        const std::string key(w.key);
        const bool root = w.parent == kNoParent;
        const Digest* parent = nullptr;
        if (root && w.depth > 1) problem("index entry " + hex(key) + ": prefix closure broken: no stored parent page");
        else if (!root) parent = digest_of[w.parent] ? &*digest_of[w.parent] : nullptr;
        std::optional<Digest> digest = check_record(w.entry->location, key, ns, w.depth, parent,
                                                    root && w.depth == 1, &record);
        if (digest && w.entry->digest && !(*w.entry->digest == *digest))
          problem("index entry " + hex(key) + ": the chained digest in its value is not its record's");
        digest_of.push_back(digest);
        advance(w.entry->location.length);
        return true;
      });
      if (!s.ok()) problem("index walk of namespace " + std::to_string(ns) + " stopped: " + s.to_string());
    }
    if (reached < well_formed)
      problem("prefix closure broken: " + std::to_string(well_formed - reached) +
              " index entries are not reached from a prompt's first page through stored parents");
  }

  // Reads one record and verifies its checksum; *tag points into buf.
  bool read_record(const tensorlog::Location& loc, const std::string& where, std::string* buf, std::string_view* tag) {
    Status s = segment_files_.read_record(loc, buf, tag);
    if (!s.ok()) {
      problem(where + ": " + s.to_string());
      return false;
    }
    report_->records++;
    report_->record_bytes += loc.length;
    return true;
  }

  // A keyed page's record carries its index key as its tag.
  void check_keyed_record(const tensorlog::Location& loc, std::string_view key, std::string* buf) {
    const std::string where = "tensor record at " + loc.to_string() + " (keyed page " + hex(key) + ")";
    std::string_view tag;
    if (read_record(loc, where, buf, &tag) && tag != key) problem(where + ": its tag is not the page's key");
    advance(loc.length);
  }

  // Reads and checks one record; returns the chained digest of its page (for
  // its children), or none when it could not be checked.
  std::optional<Digest> check_record(const tensorlog::Location& loc, const std::string& key, NamespaceId ns,
                                     size_t depth, const Digest* parent, bool root,
                                     std::string* buf) {
    const std::string where = "tensor record at " + loc.to_string() + " (index entry " + hex(key) + ")";
    std::string_view tag;
    if (!read_record(loc, where, buf, &tag)) return std::nullopt;
    PageTag t;
    if (!decode_tag(tag, &t)) {
      problem(where + ": tag of " + std::to_string(tag.size()) + " bytes, a token page's has " +
              std::to_string(kTagBytes));
      return std::nullopt;
    }
    if (t.ns != ns || t.page + 1 != depth) {
      problem(where + ": tag names namespace " + std::to_string(t.ns) + " page " + std::to_string(t.page) +
              ", the index entry is namespace " + std::to_string(ns) + " page " + std::to_string(depth - 1));
      return std::nullopt;
    }
    if (t.fingerprint != key_fingerprint(key)) {
      problem(where + ": the tag's fingerprint is not the key's");
      return std::nullopt;
    }
    if (key_window_pages(key) == 1 && !(t.parent == key_digest(key))) {
      problem(where + ": the tag's parent digest is not the digest in its window's key");
      return std::nullopt;
    }
    if (parent == nullptr && !root) return std::nullopt;  // the parent's digest is unknown
    if (!(t.parent == (root ? root_digest(ns) : *parent))) {
      problem(where + ": the tag's parent digest does not match the prompt before this page");
      return std::nullopt;
    }
    // The tokens are not stored: d_i is the tag's own (prefix_key.h).
    return t.digest;
  }

  // ns:digest:fp:fp..., the digest cut to 4 bytes.
  static std::string hex(std::string_view key) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    auto bytes = [&](size_t from, size_t n) {
      for (size_t i = from; i < from + n && i < key.size(); i++) {
        const unsigned char c = static_cast<unsigned char>(key[i]);
        s += digits[c >> 4];
        s += digits[c & 15];
      }
    };
    bytes(0, kNsBytes);
    if (key.size() < kKeyHeadBytes) return s;
    s += ':';
    bytes(kNsBytes, 4);
    s += "..";
    for (size_t at = kKeyHeadBytes; at < key.size(); at += kFingerprintBytes) {
      s += ':';
      bytes(at, kFingerprintBytes);
    }
    return s;
  }

  const std::string index_dir_, tensors_dir_;
  admin::VerifyReport* report_;
  const admin::VerifyProgress& progress_;
  tensorlog::SegmentFiles segment_files_;
  std::set<uint64_t> active_segments_;
  uint64_t total_ = 0, done_ = 0, reported_ = 0;
  size_t dropped_ = 0;
};

}  // namespace

Status KvStoreImpl::verify(admin::VerifyReport* report, const admin::VerifyProgress& progress) {
  *report = admin::VerifyReport{};
  LSM4KV_RETURN_IF_ERROR(check_open());
  std::unique_lock gate(gc_gate_);
  std::shared_lock gc(gc_mu_);  // no segment is deleted under the check
  gate.unlock();
  Verifier v(opt_.dir, report, progress);
  std::set<uint64_t> active;
  for (const tensorlog::SegmentInfo& i : log_->segments())
    if (i.active) active.insert(i.id);
  v.set_active_segments(std::move(active));
  v.run(index_.get());
  return Status::OK();
}

namespace admin {

Status verify_dir(const StoreOptions& options, VerifyReport* report, const VerifyProgress& progress) {
  *report = VerifyReport{};
  LSM4KV_RETURN_IF_ERROR(check_is_store(options.dir));
  // Nothing is written: the locks a writer left are taken (so a live one is
  // seen), none is created, and the index is opened read-only.
  auto lock_existing = [](const std::string& path, std::unique_ptr<FileLock>* lock) {
    return posix()->exists(path) ? posix()->lock_file(path, lock) : Status::OK();
  };
  std::unique_ptr<FileLock> tensors_lock, index_lock;
  Status s = lock_existing(options.dir + "/tensors/LOCK", &tensors_lock);
  if (s.is_busy()) return locked_status(options.dir, s);
  LSM4KV_RETURN_IF_ERROR(s);
  engine::Options eo;
  eo.create_if_missing = false;
  eo.read_only = true;
  eo.block_cache_bytes = 1 << 20;
  std::unique_ptr<engine::DB> db;
  s = engine::DB::open(eo, options.dir + "/index", &db);
  if (s.is_busy()) return locked_status(options.dir, s);
  Verifier v(options.dir, report, progress);
  if (!s.ok()) {
    // The files are still worth checking one by one, under the lock.
    v.problem("the index cannot be opened: " + s.to_string());
    Status l = lock_existing(options.dir + "/index/LOCK", &index_lock);
    if (l.is_busy()) return locked_status(options.dir, l);
  }
  v.run(db.get());
  return db ? db->close() : Status::OK();
}

}  // namespace admin
}  // namespace lsm4kv::kvcache
