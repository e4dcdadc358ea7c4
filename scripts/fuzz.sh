#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz (clang 14, ASan + UBSan) and runs
# each for SECONDS (default 30), starting from the committed seed corpus.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]      (targets: default all)
#
# Prints one line per target (execs, corpus size, crashes) and a last line
# "N passed, N failed". Crashing inputs land in build-fuzz/artifacts/<target>/,
# logs in build-fuzz/fuzz-logs/, the grown corpus in build-fuzz/fuzz-corpus/
# (the committed corpus in test/fuzz/corpus is only read). Exit status 1 when
# a target failed. FUZZ_BUILD_DIR overrides build-fuzz.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true
build="${FUZZ_BUILD_DIR:-build-fuzz}"

# What the project builds with, plus clang 14 and its runtimes (libFuzzer,
# ASan, UBSan).
bash scripts/setup.sh clang-14 libclang-rt-14-dev || exit 1

if [ ! -f "$build/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 meson setup "$build" -Dfuzz=enabled \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
fi
ninja -C "$build" fuzz >"$build/fuzz-build.log" 2>&1 || { tail -30 "$build/fuzz-build.log"; exit 1; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in test/fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p "$build/fuzz-logs"
passed=0
failed=0
for t in "${targets[@]}"; do
  exe="$build/test/fuzz/$t"
  log="$build/fuzz-logs/$t.log"
  if [ ! -x "$exe" ]; then
    echo "$t: no such target ($exe)"
    failed=$((failed + 1))
    continue
  fi
  rm -rf "$build/artifacts/$t"
  mkdir -p "$build/fuzz-corpus/$t" "$build/artifacts/$t"
  # Whole files (sorted runs, segments) need room beyond libFuzzer's 4 KiB default.
  max_len=8192
  case "$t" in sorted_run_fuzz | segment_recover_fuzz) max_len=65536 ;; esac
  start=$(date +%s)
  "$exe" "$build/fuzz-corpus/$t" "test/fuzz/corpus/$t" -max_total_time="$seconds" \
    -max_len="$max_len" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t/" >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "$build/artifacts/$t" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  corpus=$(find "$build/fuzz-corpus/$t" -type f | wc -l)
  if [ $rc -eq 0 ] && [ "$crashes" -eq 0 ]; then
    status=ok
    passed=$((passed + 1))
  else
    status="FAILED (exit $rc, see $log)"
    failed=$((failed + 1))
  fi
  echo "$t: ${took}s execs ${execs:-0} corpus $corpus crashes $crashes $status"
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
