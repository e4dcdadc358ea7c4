#!/usr/bin/env bash
# The main job: builds and runs the store demo — the paper's 10-stage
# workload on a store in ./bench-data/demo-store (left there for inspection;
# rerunning starts it afresh). Extra flags go to the demo (--help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
exec ./build/bench/demo/kvcache_demo "$@"  # --dir defaults to bench-data/demo-store
