// RocksDB 7.8 with integrated BlobDB, as SGLang-LSM uses it, tuned by its own
// docs for large values (settings: open() below, and bench/RESULTS.md):
//   enable_blob_files, min_blob_size 4 KiB (every page is a blob),
//   blob_file_size 256 MiB, blob_compression_type none, compression none,
//   enable_blob_garbage_collection (age cutoff 0.25, the default),
//   write_buffer_size 64 MiB, block cache 64 MiB (LRU) with a 10-bit Bloom
//   filter per SST, use_direct_reads and use_direct_io_for_flush_and_compaction.
// Keys are prefix-preserving: page i's key is the big-endian bytes of the
// prompt's page ids 0..i. Probe = binary search of point lookups (Get) over
// the page count (the key set is kept prefix-closed); get = MultiGet; put =
// one WriteBatch with WriteOptions.sync = true (the WAL is fsynced: durable
// when it returns). RocksDB has no capacity: the bench keeps the live bytes
// under 0.8 x capacity by deleting least recently used pages (descendants
// are touched before their ancestors, so a page always goes before its
// prefix), and when the blob files pass the capacity it compacts everything
// with forced blob GC of the older half of the blob files (CompactRange,
// kForce, age cutoff 0.5: LRU deletion leaves its garbage in the oldest
// files) inside the put.
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <list>
#include <unordered_map>

#include "bench/peers/backend.h"

namespace lsm4kv::bench::peers {
namespace {

Status from_rocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return Status::OK();
  return Status::io_error(std::string("rocksdb ") + what + ": " + s.ToString());
}

class RocksBackend final : public Backend {
 public:
  ~RocksBackend() override { (void)close(); }
  const char* name() const override { return "RocksDB-BlobDB"; }

  Status open(const BackendOptions& o) {
    page_ = o.page_bytes;
    capacity_ = o.capacity_bytes;
    rocksdb::Options opt;
    opt.create_if_missing = true;
    opt.enable_blob_files = true;
    opt.min_blob_size = 4096;
    opt.blob_file_size = uint64_t{256} << 20;
    opt.blob_compression_type = rocksdb::kNoCompression;
    opt.compression = rocksdb::kNoCompression;
    opt.enable_blob_garbage_collection = true;
    opt.write_buffer_size = size_t{64} << 20;
    opt.use_direct_reads = true;
    opt.use_direct_io_for_flush_and_compaction = true;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = rocksdb::NewLRUCache(size_t{64} << 20);
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    opt.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    rocksdb::DB* db = nullptr;
    LSM4KV_RETURN_IF_ERROR(from_rocks(rocksdb::DB::Open(opt, o.dir, &db), "open"));
    db_.reset(db);
    return Status::OK();
  }

  Status probe(const PromptKeys& keys, size_t* n) override {
    size_t lo = 0, hi = keys.ids.size();
    rocksdb::PinnableSlice value;
    while (lo < hi) {
      const size_t mid = (lo + hi + 1) / 2;
      value.Reset();
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), key(keys, mid - 1), &value);
      if (s.ok()) {
        lo = mid;
      } else if (s.IsNotFound()) {
        hi = mid - 1;
      } else {
        return from_rocks(s, "get");
      }
    }
    *n = lo;
    return Status::OK();
  }

  Status get(const PromptKeys& keys, size_t n, char* dst, size_t* got) override {
    std::vector<std::string> ks(n);
    std::vector<rocksdb::Slice> slices(n);
    for (size_t i = 0; i < n; i++) {
      ks[i] = key(keys, i);
      slices[i] = ks[i];
    }
    std::vector<rocksdb::PinnableSlice> values(n);
    std::vector<rocksdb::Status> st(n);
    db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), n, slices.data(), values.data(), st.data());
    for (*got = 0; *got < n; (*got)++) {
      if (st[*got].IsNotFound()) break;
      LSM4KV_RETURN_IF_ERROR(from_rocks(st[*got], "multiget"));
      if (values[*got].size() != page_) return Status::corruption("rocksdb: value of the wrong size");
      std::memcpy(dst + *got * page_, values[*got].data(), page_);
    }
    for (size_t i = *got; i-- > 0;) touch(keys.chain[i], ks[i]);
    return Status::OK();
  }

  Status put(const PromptKeys& keys, size_t from, const char* src) override {
    rocksdb::WriteBatch batch;
    size_t adding = 0;
    for (size_t i = from; i < keys.ids.size(); i++) adding += lru_of_.count(keys.chain[i]) == 0;
    while (!lru_.empty() && live_ + adding * page_ > capacity_ * 8 / 10) {
      batch.Delete(lru_.front().second);
      lru_of_.erase(lru_.front().first);
      lru_.pop_front();
      live_ -= page_;
    }
    for (size_t i = keys.ids.size(); i-- > 0;) {
      const std::string k = key(keys, i);
      if (i >= from && lru_of_.count(keys.chain[i]) == 0) {
        batch.Put(k, rocksdb::Slice(src + i * page_, page_));
        live_ += page_;
      }
      touch(keys.chain[i], k);
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    LSM4KV_RETURN_IF_ERROR(from_rocks(db_->Write(wo, &batch), "write"));
    return collect_if_full();
  }

  Status close() override {
    if (!db_) return Status::OK();
    Status s = from_rocks(db_->Close(), "close");
    db_.reset();
    return s;
  }

 private:
  static std::string key(const PromptKeys& keys, size_t i) {
    std::string k((i + 1) * 8, '\0');
    for (size_t j = 0; j <= i; j++) {
      for (int b = 0; b < 8; b++) k[j * 8 + b] = static_cast<char>(keys.ids[j] >> (56 - 8 * b));
    }
    return k;
  }

  // Makes chain the most recently used page (inserting it when new).
  void touch(uint64_t chain, const std::string& k) {
    auto it = lru_of_.find(chain);
    if (it != lru_of_.end()) {
      lru_.splice(lru_.end(), lru_, it->second);
    } else {
      lru_.emplace_back(chain, k);
      lru_of_[chain] = std::prev(lru_.end());
    }
  }

  Status collect_if_full() {
    uint64_t blob_bytes = 0;
    if (!db_->GetIntProperty(rocksdb::DB::Properties::kTotalBlobFileSize, &blob_bytes) || blob_bytes <= capacity_) {
      return Status::OK();
    }
    rocksdb::CompactRangeOptions cro;
    cro.blob_garbage_collection_policy = rocksdb::BlobGarbageCollectionPolicy::kForce;
    cro.blob_garbage_collection_age_cutoff = 0.5;
    return from_rocks(db_->CompactRange(cro, nullptr, nullptr), "compact");
  }

  size_t page_ = 0;
  uint64_t capacity_ = 0, live_ = 0;
  std::unique_ptr<rocksdb::DB> db_;
  std::list<std::pair<uint64_t, std::string>> lru_;  // least recently used first
  std::unordered_map<uint64_t, std::list<std::pair<uint64_t, std::string>>::iterator> lru_of_;
};

}  // namespace

Status open_rocksdb(const BackendOptions& o, std::unique_ptr<Backend>* out) {
  return open_backend<RocksBackend>(o, out);
}

}  // namespace lsm4kv::bench::peers
