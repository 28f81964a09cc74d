#!/usr/bin/env bash
# The data files the bench scripts leave for scripts/charts.sh: source it.
# One format for every chart, so charts.sh needs no knowledge of any bench:
#   # WHAT the figures are                 (first line: the chart's subject)
#   # machine: CPU, N cores, kernel K, DATE  (printed under the chart's title)
#   # columns: series X Y [Y_MIN Y_MAX]
#   SERIES X Y [Y_MIN Y_MAX]               (one row a point, whitespace apart)
# SERIES is one word, '_' where its legend title has a space; a series'
# points are plotted in the order of their rows.
# BENCH_RESULTS is the folder (default BUILD/bench, BUILD the script's build folder).

# bench_data_begin BUILD NAME WHAT COLUMNS: starts NAME.dat; prints the path
# to append the rows to. The rows go to a temporary file that
# bench_data_end moves in place: a run cut short keeps the last whole file.
bench_data_begin() {
	local dir=${BENCH_RESULTS:-$1/bench} f
	mkdir -p "$dir"
	f="$dir/$2.dat.part"
	{
		echo "# $3"
		echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores," \
			"kernel $(uname -r), $(date -u +%F)"
		echo "# columns: $4"
	} >"$f"
	echo "$f"
}
# bench_data_end PATH: the file bench_data_begin started is complete.
bench_data_end() { mv -f "$1" "${1%.part}"; echo "(chart data: ${1%.part})"; }

# bench_median_run FILE COLUMN: the line number (from 1) of the run whose
# COLUMN is the median of FILE's numeric ones, the lower of the two middle
# ones for an even count (a real run, not an average); nothing when none is.
bench_median_run() {
	awk -v c="$2" '$c ~ /^[0-9.]+$/ { print $c, NR }' "$1" | sort -n -k1,1 |
		awk '{ a[NR] = $2 } END { if (NR) print a[int((NR + 1) / 2)] }'
}
