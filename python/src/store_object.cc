#include "python/src/store_object.h"

#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "python/src/buffers.h"
#include "python/src/call_scope.h"
#include "python/src/errors.h"
#include "python/src/stats_dict.h"

namespace lsm4kv::python {
namespace py = pybind11;
using kvcache::KvBuffer;
using kvcache::KvStore;
using kvcache::NamespaceId;

namespace {

kvcache::SyncMode sync_mode(const std::string& s) {
  if (s == "none") return kvcache::SyncMode::kNone;
  if (s == "per_batch") return kvcache::SyncMode::kPerBatch;
  if (s == "group_commit") return kvcache::SyncMode::kGroupCommit;
  check(Status::invalid_argument("sync must be 'none', 'per_batch' or 'group_commit', not '" + s + "'"));
  return {};
}

kvcache::EvictionPolicy eviction_policy(const std::string& s) {
  if (s == "region") return kvcache::EvictionPolicy::kRegion;
  if (s == "subtree_lru") return kvcache::EvictionPolicy::kSubtreeLru;
  check(Status::invalid_argument("eviction must be 'region' or 'subtree_lru', not '" + s + "'"));
  return {};
}

// "bf16", "bfloat16" and torch's "torch.bfloat16" name the same dtype.
kvcache::DType dtype_of(std::string s) {
  if (s.rfind("torch.", 0) == 0) s = s.substr(6);
  if (s == "bf16" || s == "bfloat16") return kvcache::DType::kBF16;
  if (s == "f16" || s == "fp16" || s == "float16" || s == "half") return kvcache::DType::kF16;
  if (s == "f32" || s == "fp32" || s == "float32" || s == "float") return kvcache::DType::kF32;
  if (s == "fp8" || s == "float8_e4m3fn" || s == "float8_e5m2" || s == "uint8") return kvcache::DType::kFP8;
  check(Status::invalid_argument("unknown dtype '" + s + "' (bf16, f16, f32, fp8)"));
  return {};
}

KvBuffer kv_buffer(const Region& r) {
  return r.device ? KvBuffer::device(r.data, r.size) : KvBuffer::host(r.data, r.size);
}

py::list bools(const std::vector<Status>& results) {
  py::list out;
  std::string errors;
  for (const Status& s : results) {
    if (!s.ok() && !s.is_not_found()) errors += (errors.empty() ? "" : "; ") + s.to_string();
    out.append(s.ok());
  }
  if (!errors.empty()) check(Status::io_error("get_pages: " + errors));
  return out;
}

class Store {
 public:
  Store(const std::string& dir, uint64_t capacity_bytes, const std::string& sync, uint32_t page_tokens,
        uint64_t segment_bytes, const std::string& eviction, double maintenance_room,
        std::optional<uint64_t> reserve_bytes, bool tuner, bool read_only) {
    kvcache::StoreOptions o;
    o.dir = dir;
    o.capacity_bytes = capacity_bytes;
    o.sync = sync_mode(sync);
    o.page_tokens = page_tokens;
    o.segment_bytes = segment_bytes;
    o.eviction = eviction_policy(eviction);
    o.maintenance_room = maintenance_room;
    if (reserve_bytes) o.reserve_bytes = *reserve_bytes;  // None: by the capacity
    o.tuner = tuner;
    o.read_only = read_only;
    std::unique_ptr<KvStore> store;
    Status s;
    {
      py::gil_scoped_release nogil;
      s = read_only ? kvcache::admin::open_existing(o, &store) : KvStore::open(o, &store);
    }
    check(s);
    gate_.set(std::move(store));
  }

  NamespaceId register_namespace(const std::string& name, uint32_t layers, uint32_t kv_heads, uint32_t head_dim,
                                 const std::string& dtype, uint32_t bytes_per_token) {
    const kvcache::KvLayout layout{layers, kv_heads, head_dim, dtype_of(dtype), bytes_per_token};
    NamespaceId id = 0;
    check(gate_.call([&](KvStore& st) { return st.register_namespace(name, layout, &id); }));
    return id;
  }

  void put(NamespaceId ns, py::handle tokens, py::handle kv) {
    Pins pins;
    Tokens t = tokens_of(tokens, pins);
    KvBuffer src = kv_buffer(region_of(kv, false, pins));
    check(gate_.call([&](KvStore& st) { return st.put_batch(ns, t.span, src); }));
  }

  size_t probe(NamespaceId ns, py::handle tokens) {
    Pins pins;
    Tokens t = tokens_of(tokens, pins);
    size_t cached = 0;
    check(gate_.call([&](KvStore& st) { return st.probe(ns, t.span, &cached); }));
    return cached;
  }

  void get(NamespaceId ns, py::handle tokens, size_t n, py::handle dst) {
    Pins pins;
    Tokens t = tokens_of(tokens, pins);
    KvBuffer out = kv_buffer(region_of(dst, true, pins));
    check(gate_.call([&](KvStore& st) { return st.get_batch(ns, t.span, n, out); }));
  }

  size_t exists_prefix(NamespaceId ns, py::handle keys) {
    Keys k = keys_of(keys);
    size_t n = 0;
    check(gate_.call([&](KvStore& st) { return st.exists_prefix(ns, k.views, &n); }));
    return n;
  }

  void put_pages(NamespaceId ns, py::handle keys, py::handle pages) {
    Keys k = keys_of(keys);
    Pins pins;
    auto src = pages_of(pages, k.views.size(), false, pins);
    check(gate_.call([&](KvStore& st) { return st.put_pages(ns, k.views, src); }));
  }

  void put_pages_ptr(NamespaceId ns, py::handle keys, py::handle pointers, py::handle sizes) {
    Keys k = keys_of(keys);
    auto src = pages_from_pointers(pointers, sizes, k.views.size());
    check(gate_.call([&](KvStore& st) { return st.put_pages(ns, k.views, src); }));
  }

  py::list get_pages(NamespaceId ns, py::handle keys, py::handle pages) {
    Keys k = keys_of(keys);
    Pins pins;
    auto dst = pages_of(pages, k.views.size(), true, pins);
    return load(ns, k, dst);
  }

  py::list get_pages_ptr(NamespaceId ns, py::handle keys, py::handle pointers, py::handle sizes) {
    Keys k = keys_of(keys);
    auto dst = pages_from_pointers(pointers, sizes, k.views.size());
    return load(ns, k, dst);
  }

  void evict_to(uint64_t target_bytes) {
    check(gate_.call([&](KvStore& st) { return st.evict_to(target_bytes); }));
  }

  py::dict stats() {
    kvcache::StoreStats s;
    check(gate_.call([&](KvStore& st) { return st.stats(&s); }));
    return stats_dict(s);
  }

  py::dict verify() {
    kvcache::admin::VerifyReport r;
    check(gate_.call([&](KvStore& st) { return kvcache::admin::verify(st, &r); }));
    return verify_dict(r);
  }

  void check_invariants() {
    check(gate_.call([&](KvStore& st) { return st.check_invariants(); }));
  }

  void close() { check(gate_.close()); }
  bool closed() const { return !gate_.open(); }
  int max_concurrent_calls() const { return gate_.max_in_flight(); }
  double last_call_seconds() const { return gate_.last_call_seconds(); }

 private:
  py::list load(NamespaceId ns, const Keys& k, const std::vector<kvcache::PageSlices>& dst) {
    std::vector<Status> results;
    check(gate_.call([&](KvStore& st) { return st.get_pages(ns, k.views, dst, &results); }));
    return bools(results);
  }

  CallGate gate_;
};

}  // namespace

void bind_store(py::module_& m) {
  py::class_<Store>(m, "Store", "An lsm4kv store (kvcache_api/kv_store.h); a context manager that closes it.")
      .def(py::init<const std::string&, uint64_t, const std::string&, uint32_t, uint64_t, const std::string&, double,
                    std::optional<uint64_t>, bool, bool>(),
           py::arg("dir"), py::kw_only(), py::arg("capacity_bytes") = 0, py::arg("sync") = "per_batch",
           py::arg("page_tokens") = 64, py::arg("segment_bytes") = uint64_t{0},
           py::arg("eviction") = "region", py::arg("maintenance_room") = 0.05,
           py::arg("reserve_bytes") = py::none(), py::arg("tuner") = true, py::arg("read_only") = false)
      .def("register_namespace", &Store::register_namespace, py::arg("name"), py::arg("layers") = 0,
           py::arg("kv_heads") = 0, py::arg("head_dim") = 0, py::arg("dtype") = "bf16", py::arg("bytes_per_token") = 0,
           "Registers (or re-opens) a namespace; returns its id. Either layers, kv_heads, head_dim (and dtype), "
           "or bytes_per_token alone for opaque pages.")
      .def("put", &Store::put, py::arg("ns"), py::arg("tokens"), py::arg("kv"),
           "Stores every whole page of tokens not yet stored; kv is page-major, len(tokens) x bytes per token.")
      .def("probe", &Store::probe, py::arg("ns"), py::arg("tokens"), "The longest cached prefix, in tokens.")
      .def("get", &Store::get, py::arg("ns"), py::arg("tokens"), py::arg("n"), py::arg("dst"),
           "Loads the KV of the first n tokens into dst; NotFoundError when a page is not stored.")
      .def("exists_prefix", &Store::exists_prefix, py::arg("ns"), py::arg("keys"),
           "How many of keys, from the first, are stored.")
      .def("put_pages", &Store::put_pages, py::arg("ns"), py::arg("keys"), py::arg("pages"),
           "Stores the pages not yet stored; pages[i] is a list of slices (or one slice).")
      .def("put_pages_ptr", &Store::put_pages_ptr, py::arg("ns"), py::arg("keys"), py::arg("pointers"),
           py::arg("sizes"), "put_pages from flat (pointers, sizes), as get_page_buffer_meta gives them.")
      .def("get_pages", &Store::get_pages, py::arg("ns"), py::arg("keys"), py::arg("pages"),
           "Loads the stored pages; list[bool], False = not stored. Other errors raise.")
      .def("get_pages_ptr", &Store::get_pages_ptr, py::arg("ns"), py::arg("keys"), py::arg("pointers"),
           py::arg("sizes"), "get_pages into flat (pointers, sizes).")
      .def("evict_to", &Store::evict_to, py::arg("target_bytes"),
           "Evicts least recently used pages until the stored bytes are <= target_bytes.")
      .def("stats", &Store::stats, "The store's counters as a dict.")
      .def("verify", &Store::verify, "Checks every file and record; a dict with 'clean' and 'problems'.")
      .def("check_invariants", &Store::check_invariants, "Raises CorruptionError when an invariant fails.")
      .def("close", &Store::close, "Syncs and releases the directory; later calls raise InvalidArgumentError.")
      .def_property_readonly("closed", &Store::closed)
      .def_property_readonly("max_concurrent_calls", &Store::max_concurrent_calls,
                             "The most calls that were inside the store at once, with the GIL released.")
      .def_property_readonly("last_call_seconds", &Store::last_call_seconds,
                             "Time the last call spent inside the C++ store (without the Python layer).")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](Store& s, py::args) { s.close(); });
}

}  // namespace lsm4kv::python
