#!/usr/bin/env bash
# The charts of BENCHMARKS.md: the data files the bench scripts leave (their
# format is in scripts/bench-data.sh) drawn as SVGs with gnuplot.
#   scripts/charts.sh [RESULTS [OUT]]
# RESULTS is where the data files are (default build/bench), OUT where the
# SVGs go (default benchmarks/ at the repo's root). make bench runs it last;
# run it alone to draw the charts again from a run's data files. It draws
# every chart whose data file is there, and fails naming each one that is
# missing or holds no row: a chart of part of a run would look complete.
# Each drawn chart's data file is copied beside its SVG, so that the figures
# behind a committed chart can be read, and the chart drawn again from them
# (scripts/charts.sh benchmarks).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
results=${1:-$root/build/bench}
out=${2:-$root/benchmarks}
if ! command -v gnuplot >/dev/null; then
	echo "charts.sh: gnuplot missing: apt-get install gnuplot-nox (or make deps)" >&2
	exit 1
fi
mkdir -p "$out"
errors=0

# gp_script SVG TITLE XLABEL YLABEL STYLE SETTINGS < DATA: the gnuplot script of one chart.
# One data block a series, in the order the series first appear; the legend
# title is the series with '_' as a space. STYLE errorlines: X Y Y_MIN Y_MAX;
# fsteps: X Y where Y held from the row before up to X (a silence that
# ends with this reply covers the time since the last one).
gp_script() {
	awk -v svg="$1" -v title="$2" -v xl="$3" -v yl="$4" -v style="$5" -v settings="$6" -v file="$7" '
	# A gnuplot string in double quotes: its quotes escaped, a newline as \n.
	function q(s) { gsub(/"/, "\\\"", s); gsub(/\n/, "\\\\n", s); return "\"" s "\"" }
	/^# machine: / { machine = substr($0, 12); next }
	/^#/ || NF == 0 { next }
	{
		if (NF < (style == "errorlines" ? 5 : 3) || $2 !~ /^[-+0-9.e]+$/ || $3 !~ /^[-+0-9.e]+$/) {
			printf "charts.sh: %s:%d: expected SERIES X Y%s, got: %s\n", file, NR,
				(style == "errorlines" ? " Y_MIN Y_MAX" : ""), $0 > "/dev/stderr"
			bad = 1; exit 1
		}
		if (!($1 in id)) { id[$1] = ++n; name[n] = $1 }
		row = $2 " " $3; if (style == "errorlines") row = row " " $4 " " $5
		rows[id[$1]] = rows[id[$1]] row "\n"
	}
	END {
		if (bad) exit 1
		print "set terminal svg size 800,480 dynamic noenhanced font \"sans,12\" background \"white\""
		print "set output " q(svg)
		print "set title " q(title (machine != "" ? "\n" machine : ""))
		print "set xlabel " q(xl)
		print "set ylabel " q(yl)
		print "set grid"
		print "set key outside right top"
		print settings
		for (i = 1; i <= n; i++) printf "$s%d << EOD\n%sEOD\n", i, rows[i]
		using = (style == "errorlines" ? "1:2:3:4 with yerrorlines" : "1:2 with fsteps")
		for (i = 1; i <= n; i++) {
			t = name[i]; gsub(/_/, " ", t)
			printf "%s$s%d using %s lw 2 title %s", (i == 1 ? "plot " : ", \\\n     "), i, using, q(t)
		}
		print ""
	}' "$7"
}

# chart NAME TITLE XLABEL YLABEL STYLE SETTINGS: OUT/NAME.svg from RESULTS/NAME.dat.
chart() {
	local f=$results/$1.dat svg=$out/$1.svg script
	if [[ ! -e $f ]]; then
		echo "charts.sh: $f missing: no chart $1.svg (its bench did not run or did not finish)" >&2
		errors=$((errors + 1))
		return
	fi
	if ! grep -qv '^#' "$f"; then
		echo "charts.sh: $f holds no data row: no chart $1.svg (nothing was measured)" >&2
		errors=$((errors + 1))
		return
	fi
	if ! script=$(gp_script "$svg.part" "$2" "$3" "$4" "$5" "$6" "$f"); then
		errors=$((errors + 1))
		return
	fi
	# The SVG replaces the old one only when gnuplot made all of it.
	if gnuplot <<<"$script" && [[ -s $svg.part ]]; then
		mv -f "$svg.part" "$svg"
		[[ $f -ef $out/$1.dat ]] || cp "$f" "$out/$1.dat"
		echo "chart: $svg"
	else
		echo "charts.sh: gnuplot failed on $f" >&2
		rm -f "$svg.part"
		errors=$((errors + 1))
	fi
}

chart throughput "Live-frames throughput, 64-byte IPv4 UDP frames, one core (median and min-max)" \
	"flows" "Mpps (frames back / send time)" errorlines \
	'set logscale x 10
set xtics ("1" 1, "64k" 65536, "1M" 1048576)
set xrange [0.5:2e6]
set yrange [0:*]'
# The timelines: from just before the failure to 4 s after it (the longest outage here is BGP's
# hold time, 3 s); log y, so that a 10 ms gap and a 3 s one both show.
timeline='set logscale y 10
set yrange [5:*]
set xrange [-0.5:4]'
chart vrrp "VRRP failover: the master killed at 0 s, a ping every 10 ms (median run)" \
	"seconds since the master's kill" "ms of silence before each reply" fsteps "$timeline"
chart bgp "BGP failover: lb2 of two nodes fails at 0 s, a datagram every 10 ms (median run)" \
	"seconds since lb2 failed" "ms of silence before each answer" fsteps "$timeline"
((errors == 0))
