#!/bin/bash
# The depth table of bench/RESULTS.md ("Scale"): runs scale_bench once per
# row (pages, pages per prompt) and prints one markdown row per run from its
# RESULT line, with the load average before and after. Each run's whole
# output is kept in $OUT (default /tmp/scale-table).
#   bash bench/scale/depth_table.sh                     # the four rows of the table
#   bash bench/scale/depth_table.sh 100000:64 1000000:64 # chosen rows
# Extra scale_bench flags: SCALE_FLAGS="--sync batch" bash bench/scale/depth_table.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bench/scale/scale_bench}
OUT=${OUT:-/tmp/scale-table}
mkdir -p "$OUT"
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(1000000:64 1000000:256 100000:1024 100000:64)

echo "| pages | pages/prompt | index B/page on disk | open store RSS B/page | seek probe p50 / p99 us | binary probe p50 / p99 us | put pages/s (worst put ms, stalls) | reopen s | load before / after |"
echo "|---|---|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
  pages=${row%%:*} depth=${row##*:}
  log="$OUT/scale-$pages-$depth.txt"
  # shellcheck disable=SC2086
  "$BIN" --pages "$pages" --prompt-pages "$depth" ${SCALE_FLAGS:-} > "$log" 2>&1
  grep '^RESULT ' "$log" | tr ' ' '\n' | awk -F= '
    NF == 2 { v[$1] = $2 }
    END {
      printf "| %d | %d | %.0f | %.0f | %.1f / %.1f | %.1f / %.1f | %.0f (%.0f, %d) | %.2f | %.1f / %.1f |\n",
        v["pages"], v["prompt_pages"], v["index_bytes_per_page"], v["open_rss_bytes_per_page"],
        v["seek_probe_full_p50_us"], v["seek_probe_full_p99_us"],
        v["binary_probe_full_p50_us"], v["binary_probe_full_p99_us"],
        v["put_pages_per_s"], v["put_max_ms"], v["write_stalls"], v["reopen_s"], v["load_start"], v["load_end"]
    }'
done
