#!/usr/bin/env bash
# scripts/charts.sh on the small data files in selftests/unit/charts/ (the
# format of scripts/bench-data.sh, not measurements): every chart comes out
# as well-formed SVG whose legend names each series of its data file and
# whose title carries the machine line, with its data file copied beside it,
# from which it is drawn the same again; a data file that is missing, holds
# no row or a bad one fails the run with an error that names it, and the
# other charts are still drawn. Without gnuplot it skips (make deps
# installs gnuplot-nox). No root.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=charts
# shellcheck source=check.sh
source "$root/selftests/unit/check.sh"
fixture=$root/selftests/unit/charts
charts=(throughput vrrp bgp)
if ! command -v gnuplot >/dev/null; then
	skip all "gnuplot missing (make deps installs gnuplot-nox)"
	finish
	exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# well_formed SVG: xmllint (libxml2-utils) where it is installed, else python3's parser.
well_formed() {
	if command -v xmllint >/dev/null; then
		xmllint --noout "$1" 2>/dev/null
	else
		python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$1" 2>/dev/null
	fi
}
# texts SVG: the text of each <text> element, one a line (the legend's titles among them).
texts() {
	python3 -c '
import sys, xml.etree.ElementTree as E
for e in E.parse(sys.argv[1]).iter("{http://www.w3.org/2000/svg}text"):
    t = "".join(e.itertext()).strip()
    if t:
        print(t)' "$1"
}
# titles DAT: each series' legend title, as charts.sh writes it ('_' as a space).
titles() { awk '!/^#/ && NF && !seen[$1]++ { gsub(/_/, " ", $1); print $1 }' "$1"; }
# run_charts RESULTS OUT: charts.sh's exit status in $rc, its stderr in $err.
run_charts() {
	bash "$root/scripts/charts.sh" "$1" "$2" >/dev/null 2>"$dir/err"
	rc=$?
	err=$(cat "$dir/err")
}

run_charts "$fixture" "$dir/out"
expect all_charts_exit_0 "exit $rc: $err" test "$rc" -eq 0
for c in "${charts[@]}"; do
	svg=$dir/out/$c.svg
	if [[ ! -s $svg ]]; then
		fail "${c}_svg_made" "no $svg"
		continue
	fi
	ok "${c}_svg_made"
	expect "${c}_well_formed" "$svg is not well-formed XML" well_formed "$svg"
	got=$(texts "$svg")
	missing=$(titles "$fixture/$c.dat" | grep -vxFf <(printf '%s\n' "$got"))
	expect "${c}_legend_names_every_series" "not in the SVG's texts: $(tr '\n' ';' <<<"$missing")" test -z "$missing"
	expect "${c}_names_the_machine" "texts: $(tr '\n' ';' <<<"$got")" grep -qxF "fixture, 2 cores, kernel 6.18, 2026-12-02" <<<"$got"
	expect "${c}_data_beside_it" "$dir/out/$c.dat differs from the fixture's" cmp -s "$fixture/$c.dat" "$dir/out/$c.dat"
done
expect no_part_files_left "left: $(ls "$dir/out")" test -z "$(find "$dir/out" -name '*.part')"
# Drawn again from the copies beside the SVGs (RESULTS and OUT one folder): the same charts.
cp -r "$dir/out" "$dir/again"
run_charts "$dir/again" "$dir/again"
expect redrawn_from_its_own_data "exit $rc: $err" test "$rc" -eq 0
for c in "${charts[@]}"; do
	expect "${c}_redrawn_the_same" "the SVG drawn again differs" cmp -s "$dir/out/$c.svg" "$dir/again/$c.svg"
done

# broken NAME HOW: a copy of the fixture with vrrp.dat broken by HOW (a command run on it);
# charts.sh must fail and name the file, and still draw the two other charts.
broken() {
	local name=$1 how=$2 want=$3
	rm -rf "$dir/res" "$dir/o"
	cp -r "$fixture" "$dir/res"
	(cd "$dir/res" && eval "$how")
	run_charts "$dir/res" "$dir/o"
	expect "${name}_fails" "exit $rc" test "$rc" -ne 0
	expect "${name}_error_names_the_file" "stderr: $err" grep -qF "$dir/res/vrrp.dat$want" <<<"$err"
	expect "${name}_no_svg_for_it" "$(ls "$dir/o")" test ! -e "$dir/o/vrrp.svg" -a ! -e "$dir/o/vrrp.svg.part"
	expect "${name}_others_drawn" "$(ls "$dir/o")" test -s "$dir/o/throughput.svg" -a -s "$dir/o/bgp.svg"
}
broken missing_file "rm vrrp.dat" " missing"
broken empty_file ": >vrrp.dat" " holds no data row"
broken header_only "grep '^#' vrrp.dat >v && mv v vrrp.dat" " holds no data row"
broken bad_row "echo 'xlb,_advert_1_s 0.5' >>vrrp.dat" ":13: expected SERIES X Y"

finish
