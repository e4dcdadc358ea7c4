#!/usr/bin/env bash
# The main job: builds and runs the compaction-policy benchmark of the engine
# on ./bench-data (removed afterwards). Extra flags go to the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
mkdir -p bench-data
exec ./build/bench/compaction/compaction_bench --dir bench-data/compaction --entries 1000000 "$@"
