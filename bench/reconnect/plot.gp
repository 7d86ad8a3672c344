# SPDX-License-Identifier: MIT
# Plots the CSV of rpsync_reconnect_bench as a PNG: wire bytes, time to "presence state
# complete" and time until the client holds every contact's presence, each as a ratio to
# the plain gloox client of the same run, per N and share of changed contacts k.
#   gnuplot -e "csv='bench/reconnect/results.csv'; out='bench/reconnect/reconnect.png'" \
#           bench/reconnect/plot.gp
# Needs gnuplot 5 (Debian: gnuplot-nox). Rows come grouped per (N, k%), plain first, in the
# order the benchmark writes them; the optional fourth mode (gate) is drawn when present.
if (!exists("csv")) csv = 'results.csv'
if (!exists("out")) out = 'reconnect.png'
if (!exists("server")) server = 'Prosody 0.12'   # the title's server, e.g. server='ejabberd 23.01'
set datafile separator ","
set datafile columnheaders

stats csv using (strcol("mode") eq "plain" ? 1 : 0) nooutput
groups = int(STATS_sum)
per_group = int(STATS_records / groups)
modes = per_group - 1            # bars per group (plain is the line at 1)
gap = 0.8 / modes
grp(r) = floor(int(r) / per_group)
idx(s) = s eq "nogate" ? 0 : s eq "gate_rv" ? 1 : s eq "gate" ? 2 : -1
xpos(r, s) = grp(r) + (idx(s) - (modes - 1) / 2.0) * gap
sel(s, m) = idx(s) == m
title_of(m) = m == 0 ? "rpsync, no gate" : m == 1 ? "gate + roster versioning" : "gate, no roster versioning"
color_of(m) = m == 0 ? "#d95f02" : m == 1 ? "#1b9e77" : "#7570b3"
pct(v) = v >= 0.1 ? sprintf("%.0f%%", 100 * v) : sprintf("%.1f%%", 100 * v)

set terminal pngcairo size 1400,1250 font "DejaVu Sans,11"
set output out
set style fill solid 0.85 border -1
set boxwidth gap * 0.9
set grid ytics
set key top left horizontal opaque
set xrange [-0.6:groups - 0.4]
set xtics scale 0 font ",10"
set lmargin 12
set rmargin 20

set multiplot layout 3,1 title "rpsync reconnect vs. the plain gloox client (".server.", loopback; ratio to plain, same run)" font ",13"

set logscale y
set yrange [0.001:3]
set ytics ("0.1%%" 0.001, "0.2%%" 0.002, "0.5%%" 0.005, "1%%" 0.01, "2%%" 0.02, "5%%" 0.05, "10%%" 0.1, "20%%" 0.2, "50%%" 0.5, "100%%" 1, "200%%" 2)
set ylabel "wire bytes / plain"
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc "black"
set arrow 2 from graph 0, first 0.02 to graph 1, first 0.02 nohead dt 2 lw 1.5 lc "#1b9e77"
set arrow 3 from graph 0, first 0.10 to graph 1, first 0.10 nohead dt 3 lw 1.5 lc "#1b9e77"
set label 2 "target k=0%: 2%" at graph 1, first 0.02 left offset 0.5, 0 tc "#1b9e77" font ",9"
set label 3 "target k=5%: 10%" at graph 1, first 0.10 left offset 0.5, 0 tc "#1b9e77" font ",9"
plot for [m=0:modes-1] csv using (sel(strcol("mode"), m) ? xpos($0, strcol("mode")) : NaN):"bytes_ratio" \
       with boxes lc rgb color_of(m) title title_of(m), \
     for [m=0:modes-1] csv using (sel(strcol("mode"), m) ? xpos($0, strcol("mode")) : NaN):"bytes_ratio":(pct(column("bytes_ratio"))) \
       with labels offset 0, 0.6 font ",8" notitle, \
     csv every per_group using ($0):(NaN):xtic(sprintf("N=%d, k=%d%%", column("n"), column("percent"))) notitle

unset logscale y
unset label 2
unset label 3
unset arrow 2
unset arrow 3
stats csv using "ms_ratio" nooutput
set yrange [0:(STATS_max > 1 ? STATS_max : 1) * 1.3]
set ytics auto format "%.1f"
set ylabel "time to 'complete' / plain"
set arrow 4 from graph 0, first 0.2 to graph 1, first 0.2 nohead dt 2 lw 1.5 lc "#1b9e77"
set label 4 "target at N=500: 1/5" at graph 1, first 0.2 left offset 0.5, 0 tc "#1b9e77" font ",9"
set key top right
plot for [m=0:modes-1] csv using (sel(strcol("mode"), m) ? xpos($0, strcol("mode")) : NaN):"ms_ratio" \
       with boxes lc rgb color_of(m) title title_of(m), \
     for [m=0:modes-1] csv using (sel(strcol("mode"), m) ? xpos($0, strcol("mode")) : NaN):"ms_ratio":(sprintf("%.2f", column("ms_ratio"))) \
       with labels offset 0, 0.6 font ",8" notitle, \
     csv every per_group using ($0):(NaN):xtic(sprintf("N=%d, k=%d%%", column("n"), column("percent"))) notitle

stats csv using "state_ratio" nooutput
set yrange [0:(STATS_max > 1 ? STATS_max : 1) * 1.3]
set ylabel "time until the state is held / plain"
plot for [m=0:modes-1] csv using (sel(strcol("mode"), m) ? xpos($0, strcol("mode")) : NaN):"state_ratio" \
       with boxes lc rgb color_of(m) title title_of(m), \
     for [m=0:modes-1] csv using (sel(strcol("mode"), m) ? xpos($0, strcol("mode")) : NaN):"state_ratio":(sprintf("%.2f", column("state_ratio"))) \
       with labels offset 0, 0.6 font ",8" notitle, \
     csv every per_group using ($0):(NaN):xtic(sprintf("N=%d, k=%d%%", column("n"), column("percent"))) notitle
unset multiplot
