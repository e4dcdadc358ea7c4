// The page-key API of the store (kv_store.h): pages the caller names by key
// (prefix_key.h, "Keyed pages"). Each keyed page is its own LRU entry; there
// is no prefix tree to keep closed, so exists_prefix looks every key up until
// the first missing one.
#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "kvcache_api/kv_store_impl.h"

namespace lsm4kv::kvcache {
namespace {

// exists_prefix looks keys up in batches of this many, doubling: a miss
// early costs one small batch, a long hit few calls.
constexpr size_t kFirstBatch = 8;

std::vector<std::string> index_keys(NamespaceId ns, std::span<const std::string_view> keys) {
  std::vector<std::string> out;
  out.reserve(keys.size());
  for (std::string_view k : keys) out.push_back(keyed_page_key(ns, k));
  return out;
}

}  // namespace

Status KvStoreImpl::check_keyed(const char* what, NamespaceId ns, std::span<const std::string_view> keys,
                                const std::span<const PageSlices>* slices, uint64_t* page_bytes) const {
  auto bad = [&](const std::string& why) { return Status::invalid_argument(std::string(what) + ": " + why); };
  KvLayout layout;
  LSM4KV_RETURN_IF_ERROR(layout_of(ns, &layout));
  *page_bytes = uint64_t{opt_.page_tokens} * layout.bytes_per_token();
  if (keys.empty()) return bad("no keys");
  for (size_t i = 0; i < keys.size(); i++) {
    if (keys[i].size() < kMinPageKeyBytes || keys[i].size() > kMaxPageKeyBytes)
      return bad("key " + std::to_string(i) + " is " + std::to_string(keys[i].size()) + " bytes, not " +
                 std::to_string(kMinPageKeyBytes) + ".." + std::to_string(kMaxPageKeyBytes));
    if (keys[i].data() == nullptr) return bad("key " + std::to_string(i) + " is null");
  }
  if (slices == nullptr) return Status::OK();
  if (slices->size() != keys.size())
    return bad(std::to_string(keys.size()) + " keys but " + std::to_string(slices->size()) + " pages of slices");
  for (size_t i = 0; i < slices->size(); i++) {
    uint64_t total = 0;
    for (const IoSlice& s : (*slices)[i]) {
      if (s.data == nullptr) return bad("page " + std::to_string(i) + " has a null slice");
      total += s.size;
    }
    if (total != *page_bytes)
      return bad("page " + std::to_string(i) + "'s slices hold " + std::to_string(total) +
                 " bytes, a page of this namespace is " + std::to_string(*page_bytes));
  }
  return Status::OK();
}

Status KvStoreImpl::exists_prefix(NamespaceId ns, std::span<const std::string_view> keys, size_t* n) {
  if (n == nullptr) return Status::invalid_argument("exists_prefix: null output");
  *n = 0;
  uint64_t page_bytes = 0;
  LSM4KV_RETURN_IF_ERROR(check_keyed("exists_prefix", ns, keys, nullptr, &page_bytes));
  const std::vector<std::string> all = index_keys(ns, keys);
  size_t found = 0;
  for (size_t batch = kFirstBatch; found < all.size(); batch *= 2) {
    const size_t end = std::min(all.size(), found + batch);
    std::vector<std::string> part(all.begin() + static_cast<long>(found), all.begin() + static_cast<long>(end));
    std::vector<std::string> values;
    std::vector<Status> statuses;
    LSM4KV_RETURN_IF_ERROR(lookup_all(part, &values, &statuses));
    size_t i = 0;
    for (; i < statuses.size() && statuses[i].ok(); i++) {}
    if (i < statuses.size() && !statuses[i].is_not_found()) return statuses[i];
    found += i;
    if (i < statuses.size()) break;
  }
  *n = found;
  counters_.hit_pages += found;
  counters_.miss_pages += keys.size() - found;
  observe();
  return Status::OK();
}

Status KvStoreImpl::put_pages(NamespaceId ns, std::span<const std::string_view> keys,
                              std::span<const PageSlices> sources, PutResult* result) {
  if (result != nullptr) *result = PutResult{};
  uint64_t page_bytes = 0;
  LSM4KV_RETURN_IF_ERROR(check_writable("put_pages"));
  LSM4KV_RETURN_IF_ERROR(check_keyed("put_pages", ns, keys, &sources, &page_bytes));
  const std::vector<std::string> all = index_keys(ns, keys);
  std::lock_guard g(write_mu_);
  std::vector<std::string> values;
  std::vector<Status> statuses;
  LSM4KV_RETURN_IF_ERROR(lookup_all(all, &values, &statuses));
  std::vector<size_t> todo;
  std::unordered_set<std::string_view> seen;  // a key given twice is stored once
  for (size_t i = 0; i < all.size(); i++) {
    if (statuses[i].ok()) continue;
    if (!statuses[i].is_not_found()) return statuses[i];
    if (seen.insert(all[i]).second) todo.push_back(i);
  }
  PutResult done;
  done.pages_present = keys.size() - todo.size();
  if (result != nullptr) *result = done;
  if (todo.empty()) return Status::OK();
  std::unordered_set<std::string> protect(all.begin(), all.end());
  const uint64_t evicted_before = counters_.pages_evicted;  // evictions take write_mu_: these are this put's
  std::vector<tensorlog::RecordInput> records;
  std::vector<std::string_view> todo_keys;
  for (size_t i : todo) {  // the tag is the index key; the log copies from the slices
    records.emplace_back(all[i], sources[i], page_bytes);
    todo_keys.push_back(all[i]);
  }
  std::vector<size_t> readmit = take_readmissions(todo_keys);
  const uint64_t record_bound = page_bytes + tensorlog::kAlign;  // what make_room counts a page as
  uint64_t fill = (todo.size() - readmit.size()) * record_bound;
  route_readmissions(todo.size() * record_bound, &fill, &readmit);
  LSM4KV_RETURN_IF_ERROR(make_room_for_put(todo.size() * record_bound, fill, {}, protect));
  done.pages_evicted = counters_.pages_evicted - evicted_before;
  std::vector<tensorlog::Location> locs;
  LSM4KV_RETURN_IF_ERROR(append_put(records, readmit, &locs));
  engine::WriteBatch batch;
  const uint64_t tick = next_tick();
  for (size_t j = 0; j < todo.size(); j++) {
    std::string v;
    PageEntry{locs[j], tick, std::nullopt}.encode_to(&v);
    batch.put(all[todo[j]], v);
  }
  Status s = index_->write({}, &batch);
  if (!s.ok()) {
    forget_records(locs).ignore_error();  // never referenced: reclaimable
    return s;
  }
  {
    std::lock_guard l(lru_mu_);
    for (size_t j = 0; j < todo.size(); j++) lru_.add(all[todo[j]], disk_bytes(locs[j]), tick);
  }
  if (lists_pages())
    for (size_t j = 0; j < todo.size(); j++) segment_pages_.add(locs[j].segment, all[todo[j]], all[todo[j]]);
  counters_.pages_put += todo.size();
  counters_.bytes_put += todo.size() * page_bytes;
  done.pages_stored = todo.size();
  if (result != nullptr) *result = done;
  observe();
  return Status::OK();
}

Status KvStoreImpl::get_pages(NamespaceId ns, std::span<const std::string_view> keys,
                              std::span<const PageSlices> destinations, std::vector<Status>* results) {
  if (results == nullptr) return Status::invalid_argument("get_pages: null results");
  uint64_t page_bytes = 0;
  LSM4KV_RETURN_IF_ERROR(check_keyed("get_pages", ns, keys, &destinations, &page_bytes));
  results->assign(keys.size(), Status::not_found("get_pages: page not stored"));
  const std::vector<std::string> all = index_keys(ns, keys);
  std::vector<tensorlog::ReadRequest> rr;
  std::vector<size_t> page_of;  // rr index -> key index
  std::vector<tensorlog::Location> damaged;
  {
    std::unique_lock gate(gc_gate_);
    std::shared_lock gc(gc_mu_);
    gate.unlock();
    std::vector<std::string> values;
    std::vector<Status> statuses;
    LSM4KV_RETURN_IF_ERROR(lookup_all(all, &values, &statuses));
    for (size_t i = 0; i < all.size(); i++) {
      if (statuses[i].is_not_found()) continue;
      if (!statuses[i].ok()) {
        (*results)[i] = statuses[i];
        continue;
      }
      PageEntry e;
      if (!e.decode_from(values[i])) {
        (*results)[i] = Status::corruption(opt_.dir + ": bad page entry in the index");
        continue;
      }
      tensorlog::ReadRequest q;
      q.location = e.location;
      q.tag = all[i];
      q.size = page_bytes;
      q.dst_slices = destinations[i];  // the log copies into the slices
      rr.push_back(q);
      page_of.push_back(i);
    }
    if (!rr.empty()) log_->read(rr, {}).ignore_error();  // each request carries its own status
    note_reads(rr);
    for (size_t j = 0; j < rr.size(); j++) {
      const size_t i = page_of[j];
      (*results)[i] = rr[j].status;
      if (rr[j].status.ok()) {
        counters_.bytes_got += page_bytes;
      } else if (rr[j].status.is_corruption() || rr[j].status.is_tag_mismatch()) {  // the key names another record: drop it
        damaged.push_back(rr[j].location);
        (*results)[i] = Status::not_found("get_pages: the record at " + rr[j].location.to_string() +
                                          " is damaged (" + rr[j].status.message() + "): the page left the index");
      }
    }
  }
  // Damaged records: their pages leave the index (when it still names them).
  if (!damaged.empty()) LSM4KV_RETURN_IF_ERROR(wait_loaded());  // the LRU must be whole
  for (size_t j = 0; j < rr.size(); j++) {
    if (std::find(damaged.begin(), damaged.end(), rr[j].location) == damaged.end()) continue;
    std::lock_guard g(write_mu_);
    std::string v;
    PageEntry e;
    const std::string& key = all[page_of[j]];
    if (!index_->get({}, key, &v).ok() || !e.decode_from(v) || !(e.location == rr[j].location)) continue;
    LSM4KV_RETURN_IF_ERROR(index_->delete_key({}, key));
    {
      std::lock_guard l(lru_mu_);
      lru_.remove(key);
    }
    counters_.corrupt_pages_dropped++;
    LSM4KV_RETURN_IF_ERROR(forget_records(std::span<const tensorlog::Location>(&rr[j].location, 1)));
  }
  {
    std::lock_guard l(lru_mu_);
    for (size_t j = 0; j < rr.size(); j++)
      if ((*results)[page_of[j]].ok()) lru_.touch(all[page_of[j]], next_tick());
  }
  observe();
  return Status::OK();
}

// A keyed page is its own LRU entry: evicting it is one deletion.
Status KvStoreImpl::evict_keyed(const std::string& key, bool durable, uint64_t* freed) {
  *freed = 0;
  std::string v;
  Status s = index_->get({}, key, &v);
  PageEntry e;
  if (s.ok() && !e.decode_from(v)) return Status::corruption(opt_.dir + ": bad page entry in the index");
  if (!s.ok() && !s.is_not_found()) return s;
  if (s.is_not_found()) {  // gone already: forget it
    std::lock_guard g(lru_mu_);
    lru_.remove(key);
    return Status::OK();
  }
  engine::WriteOptions wo;
  if (durable) {
    wo.sync_override = true;
    wo.sync = engine::SyncMode::kPerBatch;
  }
  LSM4KV_RETURN_IF_ERROR(index_->delete_key(wo, key));
  uint64_t bytes = 0;
  {
    std::lock_guard g(lru_mu_);
    bytes = lru_.remove(key);
  }
  counters_.evictions++;
  counters_.pages_evicted++;
  *freed = bytes;
  return forget_records(std::span<const tensorlog::Location>(&e.location, 1));
}

}  // namespace lsm4kv::kvcache
