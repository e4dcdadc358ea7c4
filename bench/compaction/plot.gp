# Plot of compaction_bench's CSV: measured figures (filled) against the
# engine-policy model (open) for each shape.
#   gnuplot -e "csv='results.csv'; out='compaction_policies.png'" plot.gp
if (!exists("csv")) csv = 'compaction_policies.csv'
if (!exists("out")) out = 'compaction_policies.png'

set terminal pngcairo size 1400,560 font "sans,10"
set output out
set datafile separator ','
set datafile columnheaders
set multiplot layout 1,2 title "lsm4kv engine: compaction policies, measured (filled) vs model (open)"

set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -40 nomirror
set grid ytics
set key top left
set title "Write amplification (bytes written / user bytes put)"
set ylabel "write amplification"
set yrange [0:*]
set offsets 0, 0, graph 0.25, 0
plot csv using "wa_meas":xtic(1) title "measured" lc rgb "#1f77b4", \
     ''  using "wa_model" title "engine-policy model" fill pattern 4 lc rgb "#1f77b4", \
     ''  using "wa_lit" title "closed form (lit.)" fill empty lc rgb "#7f7f7f"

set style data linespoints
set title "Blocks read per operation (log scale)"
set ylabel "blocks / op"
set logscale y
set yrange [0.002:300]
set offsets 0.5, 0.5, 0, 0
set key top right maxrows 3
plot csv using 0:"seek_blocks_meas":xtic(1) title "seek" pt 7 ps 1.3 lc rgb "#d62728", \
     ''  using 0:"seek_blocks_model" title "seek, model" pt 6 ps 2 lc rgb "#d62728" dt 2, \
     ''  using 0:"hit_blocks_meas" title "get, hit" pt 5 ps 1.3 lc rgb "#2ca02c", \
     ''  using 0:"hit_blocks_model" title "get hit, model" pt 4 ps 2 lc rgb "#2ca02c" dt 2, \
     ''  using 0:"miss_blocks_meas" title "get, miss" pt 9 ps 1.3 lc rgb "#9467bd", \
     ''  using 0:"miss_blocks_model" title "get miss, model" pt 8 ps 2 lc rgb "#9467bd" dt 2
unset multiplot
