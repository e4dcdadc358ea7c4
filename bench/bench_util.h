// What several benchmarks share: a bench stops at its first error, saying
// what failed.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "base/status.h"

namespace lsm4kv::bench {

// Exits with status 1 and "what: <status>" on stderr unless s is OK.
inline void die(const Status& s, const char* what) {
  if (s.is_ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
  std::exit(1);
}

}  // namespace lsm4kv::bench
