# Plots bench_reconnect.csv (rpsync_reconnect_bench) as a PNG: bytes and time to a complete
# presence state, each as a ratio to the plain client, per N and share of changed contacts.
#   gnuplot -e "csv='build/bench_reconnect.csv'; out='build/bench_reconnect.png'" \
#           bench/reconnect/plot.gp
# Needs gnuplot (Debian: gnuplot-nox). Rows come in groups of three (plain, nogate, gate)
# per (N, k%), in the order the benchmark writes them.
if (!exists("csv")) csv = 'bench_reconnect.csv'
if (!exists("out")) out = 'bench_reconnect.png'
set datafile separator ","
set terminal png size 1100,800
set output out
set style fill solid 0.8 border -1
set boxwidth 0.26
set yrange [0:*]
set grid ytics
set key top center horizontal
set offsets 0, 0, 0.25, 0
set xtics rotate by -30
group(r) = floor(r / 3)
x(r, m) = group(r) + (m - 1) * 0.28

set multiplot layout 2,1 title "rpsync reconnect vs. plain gloox client (Prosody 0.12, loopback)"
set ylabel "wire bytes / plain"
plot for [m=0:2] csv skip 1 using (int($0) % 3 == m ? x($0, m) : 1/0):9 \
     with boxes title (m == 0 ? "plain" : m == 1 ? "rpsync, no gate" : "gate, no roster ver"), \
     csv skip 1 every 3::1 using ($0):(1/0):xtic(sprintf("N=%d k=%d%%", $1, $2)) notitle
set ylabel "time to complete presence / plain"
plot for [m=0:2] csv skip 1 using (int($0) % 3 == m ? x($0, m) : 1/0):10 \
     with boxes title (m == 0 ? "plain" : m == 1 ? "rpsync, no gate" : "gate, no roster ver"), \
     csv skip 1 every 3::1 using ($0):(1/0):xtic(sprintf("N=%d k=%d%%", $1, $2)) notitle
unset multiplot
