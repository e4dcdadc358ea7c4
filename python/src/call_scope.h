// How the binding enters the store: every call that reaches the store
// releases the GIL, so Python threads run (and other store calls proceed)
// while it waits on the disk.
//
// A CallGate guards one store against close(): calls hold it shared, close
// holds it exclusive, so a close waits for the calls in flight (the
// store's close() requires that none is) and later calls get
// InvalidArgument. It also counts calls in flight with the GIL released —
// max_in_flight() > 1 is proof that two Python threads were inside the store
// at once — and times the last call inside the store (the C++ side of a
// call, to measure what the Python layer adds). Thread-safe.
#pragma once

#include <pybind11/pybind11.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "kvcache_api/kv_store.h"

namespace lsm4kv::python {

class CallGate {
 public:
  // Runs f(store) without the GIL; InvalidArgument once the store is closed.
  // REQUIRES: the GIL is held.
  template <class F>
  Status call(F&& f) {
    pybind11::gil_scoped_release nogil;
    std::shared_lock lock(mu_);
    if (!store_) return Status::invalid_argument("the store is closed");
    InFlight counted(this);
    const auto t0 = std::chrono::steady_clock::now();
    Status s = f(*store_);
    last_call_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    return s;
  }

  // Takes the store out (waiting for calls in flight) and closes it.
  // REQUIRES: the GIL is held.
  Status close() {
    pybind11::gil_scoped_release nogil;
    std::unique_lock lock(mu_);
    if (!store_) return Status::OK();
    Status s = store_->close();
    store_.reset();
    return s;
  }

  void set(std::unique_ptr<kvcache::KvStore> store) {
    std::unique_lock lock(mu_);
    store_ = std::move(store);
  }
  bool open() const {
    std::shared_lock lock(mu_);
    return store_ != nullptr;
  }
  int max_in_flight() const { return max_in_flight_.load(); }
  double last_call_seconds() const { return static_cast<double>(last_call_ns_.load()) * 1e-9; }

 private:
  struct InFlight {
    explicit InFlight(CallGate* g) : gate(g) {
      const int now_in = gate->in_flight_.fetch_add(1) + 1;
      int seen = gate->max_in_flight_.load();
      while (now_in > seen && !gate->max_in_flight_.compare_exchange_weak(seen, now_in)) {
      }
    }
    ~InFlight() { gate->in_flight_.fetch_sub(1); }
    CallGate* gate;
  };

  mutable std::shared_mutex mu_;
  std::unique_ptr<kvcache::KvStore> store_;  // null once closed
  std::atomic<int> in_flight_{0}, max_in_flight_{0};
  std::atomic<int64_t> last_call_ns_{0};
};

}  // namespace lsm4kv::python
