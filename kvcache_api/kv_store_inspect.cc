// Inspection of a KV cache store (what tools/kvtool shows and checks):
// opening an existing store, namespaces, the prefix tree, the stats file and
// verification of every file and record. Declared in the "Inspection" block
// of kv_store.h.

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <unistd.h>

#include "base/coding.h"
#include "engine/file_names.h"
#include "engine/log_format.h"
#include "engine/sorted_run.h"
#include "engine/version_edit.h"
#include "engine/write_batch.h"
#include "kvcache_api/kv_store_impl.h"
#include "kvcache_api/subtree_walk.h"

namespace lsm4kv::kvcache {
namespace {

constexpr auto kStatsInterval = std::chrono::seconds(10);
constexpr size_t kMaxProblems = 1000;  // then "... and N more"

FileSystem* posix() { return FileSystem::posix(); }

uint64_t read_be(std::string_view s) {
  uint64_t v = 0;
  for (unsigned char c : s) v = (v << 8) | c;
  return v;
}

std::string join(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

// ------------------------------------------------------------- stats file

std::string format_stats(const StoreStats& st, const engine::Properties& p, uint32_t page_tokens,
                         const char* state) {
  std::string out = "# lsm4kv store statistics: \"key value\" lines (kvtool stats)\n";
  auto put = [&](const std::string& k, const std::string& v) { out += k + " " + v + "\n"; };
  auto num = [&](const std::string& k, uint64_t v) { put(k, std::to_string(v)); };
  auto real = [&](const std::string& k, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    put(k, buf);
  };
  num("format", 1);
  put("state", state);
  num("pid", static_cast<uint64_t>(::getpid()));
  num("written_unix_ms", static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch())
                                                   .count()));
  num("page_tokens", page_tokens);
  num("hit_tokens", st.hit_tokens);
  num("miss_tokens", st.miss_tokens);
  num("hit_pages", st.hit_pages);
  num("miss_pages", st.miss_pages);
  num("bytes_put", st.bytes_put);
  num("bytes_got", st.bytes_got);
  num("pages_put", st.pages_put);
  num("pages_evicted", st.pages_evicted);
  num("evictions", st.evictions);
  num("collisions", st.collisions);
  num("corrupt_pages_dropped", st.corrupt_pages_dropped);
  for (auto [name, l] : {std::pair{"put", &st.put_latency}, {"probe", &st.probe_latency}, {"get", &st.get_latency}}) {
    num(std::string(name) + "_latency.count", l->count);
    real(std::string(name) + "_latency.p50_us", l->p50_us);
    real(std::string(name) + "_latency.p99_us", l->p99_us);
  }
  num("stored_bytes", st.stored_bytes);
  num("files", st.files);
  num("tensor.segments", st.tensor_segments);
  num("tensor.live_bytes", st.tensor_live_bytes);
  num("tensor.dead_bytes", st.tensor_dead_bytes);
  num("tensor.file_bytes", st.tensor_file_bytes);
  num("tensor.gc_bytes_copied", st.gc_bytes_copied);
  num("index.T", static_cast<uint64_t>(p.shape.size_ratio));
  put("index.K", join(p.shape.runs_per_level));
  std::vector<int> runs;
  for (const auto& l : p.levels) runs.push_back(static_cast<int>(l.runs.size()));
  put("index.runs_per_level", join(runs));
  num("index.entries_written", p.entries_written);
  num("index.point_lookups_found", p.point_lookups_found);
  num("index.point_lookups_empty", p.point_lookups_empty);
  num("index.seeks", p.seeks);
  num("index.bloom_checked", p.bloom_checked);
  num("index.bloom_negatives", p.bloom_negatives);
  num("index.bloom_false_positives", p.bloom_false_positives);
  num("index.blocks_read", p.blocks_read);
  num("index.block_cache_hits", p.block_cache_hits);
  num("index.flushes", p.flushes);
  num("index.compactions", p.compactions);
  num("index.write_stalls", p.write_stalls);
  real("index.write_amplification", p.write_amplification());
  // The tuner's recent decisions, oldest first: what `kvtool info` lists.
  num("tuner.decisions", st.tuner_decisions.size());
  for (size_t i = 0; i < st.tuner_decisions.size(); i++) {
    const TunerDecision& d = st.tuner_decisions[i];
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%lld %s T=%d K=%s -> T=%d K=%s; cost %.3f -> %.3f (gain %.1f%%); mix w=%.2f r=%.2f z=%.2f s=%.2f",
                  static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             d.time.time_since_epoch()).count()),
                  outcome_name(d.outcome), d.old_shape.size_ratio,
                  join(d.old_shape.runs_per_level).c_str(), d.new_shape.size_ratio,
                  join(d.new_shape.runs_per_level).c_str(), d.old_cost, d.new_cost, 100 * d.predicted_gain,
                  d.writes, d.point_hits, d.point_misses, d.seeks);
    put("tuner.decision." + std::to_string(i), std::string(buf) + (d.error.empty() ? "" : "; " + d.error));
  }
  return out;
}

// Writes without fsync: the file is advisory (a machine crash may lose the
// last update), and close() stays cheap. Atomic by rename.
Status write_stats_file(const std::string& dir, const std::string& data) {
  const std::string path = dir + "/" + KvStore::kStatsFile, tmp = path + ".tmp";
  std::unique_ptr<WritableFile> f;
  LSM4KV_RETURN_IF_ERROR(posix()->new_writable(tmp, &f));
  Status s = f->append(data);
  Status c = f->close();
  if (s.ok()) s = c;
  if (s.ok()) s = posix()->rename(tmp, path);
  if (!s.ok()) posix()->remove(tmp).ignore_error();
  return s;
}

// -------------------------------------------------------------- the store?

Status check_is_store(const std::string& dir) {
  if (dir.empty()) return Status::invalid_argument("no store directory given");
  if (!posix()->exists(dir)) return Status::invalid_argument(dir + ": no such directory");
  if (!posix()->exists(dir + "/index/CURRENT") || !posix()->exists(dir + "/tensors"))
    return Status::invalid_argument(dir + ": not an lsm4kv store (no index/CURRENT or tensors/)");
  return Status::OK();
}

Status locked_status(const std::string& dir, const Status& s) {
  return Status::busy(dir + ": the store is open in another process (" + s.message() + ")");
}

// ------------------------------------------------------------------ verify

// Checks the files and records of one store. `db` may be null (the index
// could not be opened): then every run file in the directory is checked and
// the entries are not.
class Verifier {
 public:
  Verifier(const std::string& dir, KvStore::VerifyReport* report, const KvStore::VerifyProgress& progress)
      : index_dir_(dir + "/index"), tensors_dir_(dir + "/tensors"), report_(report), progress_(progress) {}

  // Segments an open store is writing: only their headers are checked.
  void set_active_segments(std::set<uint64_t> ids) { active_segments_ = std::move(ids); }

  void problem(std::string what) {
    if (report_->problems.size() < kMaxProblems) report_->problems.push_back(std::move(what));
    else dropped_++;
  }

  void run(engine::DB* db) {
    std::vector<std::pair<uint64_t, uint64_t>> runs;  // (file number, size)
    if (db != nullptr) {
      for (const auto& l : db->properties().levels)
        for (const auto& r : l.runs) runs.push_back({r.file_number, r.file_size});
    } else {
      std::vector<std::string> names;
      if (Status s = posix()->list_dir(index_dir_, &names); !s.ok()) problem("index directory: " + s.to_string());
      for (const auto& n : names) {
        uint64_t num = 0, size = 0;
        if (engine::parse_file_name(n, &num) == engine::FileKind::kRun &&
            posix()->file_size(index_dir_ + "/" + n, &size).ok())
          runs.push_back({num, size});
      }
    }
    total_ = 0;
    for (auto [n, size] : runs) total_ += size;
    std::vector<uint64_t> segments = segment_ids();
    for (uint64_t id : segments) {
      uint64_t size = 0;
      if (posix()->file_size(tensors_dir_ + "/" + tensorlog::segment_file_name(id), &size).ok()) total_ += size;
    }
    for (auto [n, size] : runs) check_run(n, size);
    check_manifest();
    check_wals();
    for (uint64_t id : segments) check_segment(id);
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

  std::vector<uint64_t> segment_ids() {
    std::vector<std::string> names;
    std::vector<uint64_t> ids;
    Status s = posix()->list_dir(tensors_dir_, &names);
    if (!s.ok()) problem(s.to_string());
    for (const auto& n : names) {
      uint64_t id;
      if (tensorlog::parse_segment_file_name(n, &id)) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  void check_run(uint64_t number, uint64_t size) {
    report_->run_files++;
    const std::string path = index_dir_ + "/" + engine::run_name(number);
    std::shared_ptr<engine::SortedRun> run;
    Status s = engine::SortedRun::open(posix(), path, number, nullptr, nullptr, &run);
    if (s.ok()) s = run->verify();
    if (!s.ok()) problem("run file " + path + ": " + s.to_string());
    advance(size);
  }

  void check_manifest() {
    std::string current;
    Status s = read_file(posix(), index_dir_ + "/CURRENT", &current);
    if (!s.ok()) return problem("index/CURRENT: " + s.to_string());
    if (!current.empty() && current.back() == '\n') current.pop_back();
    uint64_t number;
    if (engine::parse_file_name(current, &number) != engine::FileKind::kManifest)
      return problem(index_dir_ + "/CURRENT does not name a manifest");
    report_->manifests++;
    const std::string path = index_dir_ + "/" + current;
    std::unique_ptr<engine::LogReader> reader;
    s = engine::LogReader::open(posix(), path, engine::LogReader::TailMode::kStrict, &reader);
    while (s.ok()) {
      std::string_view rec;
      bool done = false;
      s = reader->next(&rec, &done);
      if (!s.ok() || done) break;
      engine::VersionEdit e;
      s = e.decode_from(rec);
    }
    if (!s.ok()) problem("manifest " + path + ": " + s.to_string());
  }

  void check_wals() {
    std::vector<std::string> names;
    if (Status s = posix()->list_dir(index_dir_, &names); !s.ok()) return problem("index directory: " + s.to_string());
    for (const auto& n : names) {
      uint64_t num;
      if (engine::parse_file_name(n, &num) != engine::FileKind::kWal) continue;
      report_->wal_files++;
      const std::string path = index_dir_ + "/" + n;
      std::unique_ptr<engine::LogReader> reader;
      // The WAL being written may end in a torn record: that is not damage.
      Status s = engine::LogReader::open(posix(), path, engine::LogReader::TailMode::kTolerateDamagedLast, &reader);
      while (s.ok()) {
        std::string_view rec;
        bool done = false;
        s = reader->next(&rec, &done);
        if (!s.ok() || done) break;
        engine::WriteBatch b;
        s = engine::WriteBatch::from_rep(rec, &b);
      }
      if (!s.ok() && !s.is_not_found()) problem("WAL " + path + ": " + s.to_string());
    }
  }

  // The header, and the record list as a writable open would rebuild it
  // (read-only: nothing is cut or sealed here), so what that open would
  // drop is reported: a torn tail, a segment never synced.
  void check_segment(uint64_t id) {
    report_->segments++;
    const std::string path = tensors_dir_ + "/" + tensorlog::segment_file_name(id);
    if (active_segments_.count(id)) return check_segment_header(id, path);  // being written: its tail moves
    tensorlog::SegmentRecords rec;
    bool empty = false;
    Status s = tensorlog::recover_segment(posix(), tensors_dir_, id, /*read_only=*/true, &rec, &empty);
    if (!s.ok()) {
      problem("segment " + path + ": " + s.to_string());
    } else if (empty) {
      problem("segment " + path + ": no segment header (shorter than a block, or a zeroed block: created and never "
              "synced); a writable open deletes it");
    } else if (rec.torn_bytes > 0) {
      problem("segment " + path + ": torn tail: " + std::to_string(rec.torn_bytes) + " bytes after its last " +
              "complete record (at offset " + std::to_string(rec.file_bytes - rec.torn_bytes) +
              "); a writable open cuts them off");
    }
  }

  void check_segment_header(uint64_t id, const std::string& path) {
    std::string block(tensorlog::kAlign, '\0');
    size_t got = 0;
    Status s = read_at(id, 0, block.size(), block.data(), &got);
    if (s.ok() && got < tensorlog::kSegmentHeaderSize) s = Status::corruption(path + ": shorter than its header");
    if (s.ok()) s = tensorlog::decode_segment_header(block.data(), id, path);
    if (!s.ok()) problem("segment " + path + ": " + s.to_string());
  }

  Status read_at(uint64_t segment, uint64_t offset, size_t n, char* dst, size_t* got) {
    auto& f = files_[segment];
    if (!f) {
      const std::string path = tensors_dir_ + "/" + tensorlog::segment_file_name(segment);
      Status s = posix()->new_random_access(path, &f);
      if (!s.ok()) {
        files_.erase(segment);
        return s;
      }
    }
    return f->read(offset, n, dst, got);
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
    buf->resize(loc.length);
    size_t got = 0;
    Status s = read_at(loc.segment, loc.offset, loc.length, buf->data(), &got);
    if (s.ok() && got != loc.length) s = Status::corruption("the segment ends inside the record");
    tensorlog::RecordHeader h;
    if (s.ok()) s = tensorlog::verify_record(buf->data(), loc, &h);
    if (!s.ok()) {
      problem(where + ": " + s.to_string());
      return false;
    }
    report_->records++;
    report_->record_bytes += loc.length;
    *tag = std::string_view(buf->data() + tensorlog::kRecordHeaderSize, h.tag_len);
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
  KvStore::VerifyReport* report_;
  const KvStore::VerifyProgress& progress_;
  std::map<uint64_t, std::unique_ptr<RandomAccessFile>> files_;
  std::set<uint64_t> active_segments_;
  uint64_t total_ = 0, done_ = 0, reported_ = 0;
  size_t dropped_ = 0;
};

}  // namespace

// ------------------------------------------------------------------ open

Status KvStore::open_existing(StoreOptions options, std::unique_ptr<KvStore>* out) {
  if (out == nullptr) return Status::invalid_argument("open_existing: null output");
  LSM4KV_RETURN_IF_ERROR(check_is_store(options.dir));
  // The page size: from CONFIG, which mirrors the index's record; when that
  // is missing, damaged or of another format, from the index itself, opened
  // alone and read-only (its errors are the ones to report).
  StoreConfig config;
  FileSystem* fs = options.fs ? options.fs : FileSystem::posix();
  if (read_config_file(fs, options.dir, &config).ok() && config.format_version == kStoreFormatVersion) {
    options.page_tokens = config.page_tokens;
  } else {
    engine::Options eo;
    if (options.fs != nullptr) eo.fs = options.fs;
    eo.create_if_missing = false;
    eo.read_only = true;
    eo.block_cache_bytes = 1 << 20;
    std::unique_ptr<engine::DB> db;
    Status s = engine::DB::open(eo, options.dir + "/index", &db);
    if (s.is_busy()) return locked_status(options.dir, s);
    LSM4KV_RETURN_IF_ERROR(s);
    std::string cfg;
    s = db->get({}, meta_key("cfg"), &cfg);
    if (s.is_not_found()) return Status::invalid_argument(options.dir + ": not an lsm4kv store (no configuration record)");
    LSM4KV_RETURN_IF_ERROR(s);
    std::string_view in = cfg;
    if (!get_varint32(&in, &options.page_tokens))
      return Status::corruption(options.dir + ": bad store configuration record");
    LSM4KV_RETURN_IF_ERROR(db->close());
  }
  options.tuner = false;
  auto store = std::make_unique<KvStoreImpl>(options);
  Status s = store->open();
  if (s.is_busy()) return locked_status(options.dir, s);
  LSM4KV_RETURN_IF_ERROR(s);
  *out = std::move(store);
  return Status::OK();
}

// ------------------------------------------------------------- namespaces

Status KvStoreImpl::list_namespaces(std::vector<NamespaceInfo>* out) {
  out->clear();
  LSM4KV_RETURN_IF_ERROR(check_open());
  std::map<NamespaceId, size_t> at;
  {
    std::lock_guard g(meta_mu_);
    for (const auto& [name, id] : names_) {
      at[id] = out->size();
      out->push_back({name, id, layouts_[id], 0, 0});
    }
  }
  LSM4KV_RETURN_IF_ERROR(for_each_page_entry([&](std::string_view key, const PageEntry* e) {
    auto f = at.find(static_cast<NamespaceId>(key_namespace(key) & ~kKeyedBit));
    if (f == at.end() || e == nullptr) return true;
    (*out)[f->second].pages++;
    (*out)[f->second].bytes += disk_bytes(e->location);
    return true;
  }));
  std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return Status::OK();
}

// ------------------------------------------------------------------- tree

Status KvStoreImpl::tree(std::string_view ns_name, size_t max_depth, size_t top, TreeInfo* out) {
  *out = TreeInfo{};
  LSM4KV_RETURN_IF_ERROR(check_open());
  NamespaceId ns;
  {
    std::lock_guard g(meta_mu_);
    auto f = names_.find(std::string(ns_name));
    if (f == names_.end()) return Status::invalid_argument("no namespace named '" + std::string(ns_name) + "'");
    ns = f->second;
  }
  auto level = [&](size_t depth) -> TreeLevel& {
    while (out->levels.size() < depth) out->levels.push_back({out->levels.size() + 1, 0, 0, 0, 0, 0});
    return out->levels[depth - 1];
  };
  std::vector<Subtree> roots;
  std::vector<size_t> root_of, depth_of;  // by visit index
  std::vector<uint64_t> children;
  bool malformed = false;
  LSM4KV_RETURN_IF_ERROR(walk_namespace(index_.get(), ns, window_, [&](const WalkedPage& w) {
    if (w.entry == nullptr) {
      malformed = true;
      return false;
    }
    const uint64_t bytes = disk_bytes(w.entry->location);
    if (w.parent == kNoParent) {
      root_of.push_back(roots.size());
      roots.push_back(Subtree{std::string(w.key), 0, 0, 0});
      out->roots++;
    } else {
      root_of.push_back(root_of[w.parent]);
      children[w.parent]++;
      level(w.depth - 1).children++;
    }
    depth_of.push_back(w.depth);
    children.push_back(0);
    Subtree& t = roots[root_of.back()];
    t.pages++;
    t.bytes += bytes;
    t.depth = std::max(t.depth, w.depth);
    out->pages++;
    out->bytes += bytes;
    TreeLevel& l = level(w.depth);
    l.pages++;
    l.bytes += bytes;
    return true;
  }));
  if (malformed) return Status::corruption(opt_.dir + ": malformed index entry");
  for (size_t i = 0; i < children.size(); i++) {
    if (children[i] == 0) continue;
    TreeLevel& l = level(depth_of[i]);
    l.parents++;
    l.max_fanout = std::max(l.max_fanout, children[i]);
  }
  auto by_bytes = [](const Subtree& a, const Subtree& b) { return a.bytes > b.bytes; };
  const size_t keep = std::min(top, roots.size());
  std::partial_sort(roots.begin(), roots.begin() + keep, roots.end(), by_bytes);
  out->largest.assign(roots.begin(), roots.begin() + keep);
  if (max_depth > 0 && out->levels.size() > max_depth) out->levels.resize(max_depth);
  return Status::OK();
}

// ----------------------------------------------------------------- verify

Status KvStoreImpl::verify(VerifyReport* report, const VerifyProgress& progress) {
  *report = VerifyReport{};
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

Status KvStore::verify_dir(const StoreOptions& options, VerifyReport* report, const VerifyProgress& progress) {
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

// ------------------------------------------------------------------ stats

Status KvStoreImpl::persist_stats() {
  LSM4KV_RETURN_IF_ERROR(check_writable("persist_stats"));
  return write_stats_file(opt_.dir, format_stats(stats(), index_->properties(), opt_.page_tokens, "running"));
}

void KvStoreImpl::start_stats_writer() {
  // The first write in the thread too: stats() waits for the loader, which
  // open does not.
  stats_thread_ = std::thread([this] {
    persist_stats().ignore_error();  // best effort: the stats file is advisory
    std::unique_lock l(stats_mu_);
    while (!stats_cv_.wait_for(l, kStatsInterval, [this] { return stats_stop_; })) {
      l.unlock();
      persist_stats().ignore_error();  // advisory, as above
      l.lock();
    }
  });
}

void KvStoreImpl::stop_stats_writer() {
  if (!stats_thread_.joinable()) return;
  {
    std::lock_guard g(stats_mu_);
    stats_stop_ = true;
  }
  stats_cv_.notify_all();
  stats_thread_.join();
  write_stats_file(opt_.dir, format_stats(stats(), index_->properties(), opt_.page_tokens, "closed")).ignore_error();  // advisory
}

Status KvStore::read_stats_file(const std::string& dir, std::vector<std::pair<std::string, std::string>>* out) {
  out->clear();
  std::string data;
  Status s = read_file(posix(), dir + "/" + kStatsFile, &data);
  if (s.is_not_found() || (!s.ok() && !posix()->exists(dir + "/" + kStatsFile)))
    return Status::not_found(dir + ": no stats file (" + kStatsFile + "): the store was never opened by a serving process");
  LSM4KV_RETURN_IF_ERROR(s);
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    std::string line = data.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? data.size() : nl + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos) return Status::corruption(dir + "/" + kStatsFile + ": malformed line '" + line + "'");
    out->emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  return Status::OK();
}

}  // namespace lsm4kv::kvcache
