#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test twice: in a normal
# build and in a build with AddressSanitizer + UndefinedBehaviorSanitizer.
# Then the main job (scripts/main.sh) on a tiny workload.
# The last line of output is "N passed, N failed" (Catch2 test cases, both
# builds, the Python module's pytest cases (release build: meson test runs
# them), plus one for the main job, one for the install check (a program
# built against the installed tree with pkg-config alone), plus one per fuzz
# target run 8 s).
# The sanitizer build runs the stress tests (model, power cuts, kills,
# rebuild) at about a third of their counts: they are 3-5x slower there, and
# CI has 30 minutes; the release build runs them whole. It builds no
# benchmarks (-Dbenches=false): the release build has them.
# Build time is most of CI's: the release build has no debug info (-g: 1.5x
# the compile time), and the sanitizer build is clang's, with the fuzz
# targets in it (-Dfuzz=enabled), which scripts/fuzz.sh then runs. GCC took
# 3.3x clang's time per file with ASan + UBSan at -O2 -g (kv_store.cc: 52 s
# vs 15.5 s), and one build instead of two compiles the library once; the
# coverage hooks cost the unit tests ~18% (tensorlog_test 200 s vs 170 s).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh clang-14 libclang-rt-14-dev || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
passed=0; failed=0
run_suite() {  # run_suite NAME BUILD_DIR [meson options...]
  local name=$1 dir=$2; shift 2
  echo "== $name: building in $dir (at ${SECONDS} s)"
  if ! bash scripts/build.sh "$dir" "$@"; then
    echo "== $name: BUILD FAILED"; failed=$((failed + 1)); return
  fi
  echo "== $name: testing (at ${SECONDS} s)"
  meson test -C "$dir" --num-processes 2 --print-errorlogs -t 4 || true
  local counts
  counts=$(python3 scripts/count_tests.py "$dir/meson-logs/testlog.json")
  echo "== $name: $counts (at ${SECONDS} s)"
  passed=$((passed + ${counts%% *}))
  failed=$((failed + $(echo "$counts" | awk '{print $3}')))
}
run_suite "release" build -Ddebug=false
# The README's main command, as a fresh clone runs it, on a tiny workload.
echo "== main job: bash scripts/main.sh (tiny)"
demo_dir=$(mktemp -d)
if bash scripts/main.sh --dir "$demo_dir/demo-store" --requests-per-stage 2 --prompt-tokens 256 \
     --warmup-tokens 1024 --bytes-per-token 2048 --capacity-mib 64 --segment-mib 4 | tail -n 3; then
  passed=$((passed + 1))
else
  echo "== main job: FAILED"; failed=$((failed + 1))
fi
rm -rf "$demo_dir"
# The installed tree alone (public headers + pkg-config) builds a program.
echo "== install check: bash scripts/install_check.sh build"
if bash scripts/install_check.sh build | tail -n 1; then
  passed=$((passed + 1))
else
  echo "== install check: FAILED"; failed=$((failed + 1))
fi
LSM4KV_MODEL_OPS=300000 LSM4KV_STORE_MODEL_OPS=600 LSM4KV_POWER_CUTS=15 LSM4KV_CRASH_KILLS=20 LSM4KV_REBUILD_PROMPTS=1200 \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:protect_shadow_gap=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
CC=clang-14 CXX=clang++-14 \
  run_suite "asan+ubsan" build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbenches=false -Dpython=disabled \
  -Dfuzz=enabled
# Every libFuzzer target of test/fuzz for 8 s (clang 14, ASan + UBSan), as
# the sanitizer build built them: a smoke run; test/fuzz/README.md has the
# long runs.
echo "== fuzz: bash scripts/fuzz.sh 8 (at ${SECONDS} s)"
fuzz_out=$(FUZZ_BUILD_DIR=build-asan bash scripts/fuzz.sh 8 2>&1); echo "$fuzz_out" | tail -n 20
fuzz_counts=$(echo "$fuzz_out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
if [ -n "$fuzz_counts" ]; then
  passed=$((passed + ${fuzz_counts%% *}))
  failed=$((failed + $(echo "$fuzz_counts" | awk '{print $3}')))
else
  echo "== fuzz: FAILED to run"; failed=$((failed + 1))
fi
echo "== total ${SECONDS} s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
