#!/usr/bin/env bash
# Runs every test binary and adds up their RESULT lines into the closing
# "N passed, N failed, N skipped" line. Exit status 1 when anything failed.
set -uo pipefail

build=${1:-build}
passed=0 failed=0 skipped=0

run() {
	local name=$1
	shift
	echo "== $name"
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^RESULT '
	local line
	line=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -n 1)
	if [[ -z $line ]]; then
		echo "FAIL $name: exited $rc without a RESULT line"
		failed=$((failed + 1))
		return
	fi
	local p f s
	p=$(sed -n 's/.*passed=\([0-9]*\).*/\1/p' <<<"$line")
	f=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
	s=$(sed -n 's/.*skipped=\([0-9]*\).*/\1/p' <<<"$line")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if ((rc != 0 && f == 0)); then
		echo "FAIL $name: exited $rc"
		failed=$((failed + 1))
	fi
}

run maglev "$build/test_maglev"
run config "$build/test_config"
run plan "$build/test_plan"
run agent "$build/test_agent"
run feedback "$build/test_feedback"
run passive_window "$build/test_passive"
run etcd "$build/test_etcd"
run hw bash "$(dirname "$0")/unit/test_hw_scripts.sh"
run e2e_lib bash "$(dirname "$0")/unit/test_e2e_lib.sh"
run log bash "$(dirname "$0")/unit/test_log.sh" "$build"
run install bash "$(dirname "$0")/unit/test_install.sh" "$build"
run grammar bash "$(dirname "$0")/unit/test_grammar.sh" "$build"
run charts bash "$(dirname "$0")/unit/test_charts.sh"
if ((EUID == 0)); then
	run xdp "$build/test_xdp"
	run fuzz "$build/test_fuzz"
	# lbd pins on bpffs: mounted for this run if missing, unmounted after.
	# shellcheck source=../scripts/testbed.sh
	source "$(dirname "$0")/../scripts/testbed.sh"
	tb_bpffs_up
	trap tb_bpffs_down EXIT
	# The end-to-end tests build namespaces and attach XDP: machine-wide, so one at a time.
	export TB_BUILD
	TB_BUILD=$(cd "$build" && pwd)
	for t in "$(dirname "$0")"/e2e/test_*.sh; do
		name=$(basename "$t" .sh)
		run "e2e ${name#test_}" bash "$t"
	done
else
	echo "skip xdp, fuzz, e2e: BPF_PROG_TEST_RUN and namespaces need root (run make check as root)"
	skipped=$((skipped + 2 + $(ls "$(dirname "$0")"/e2e/test_*.sh | wc -l)))
fi

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
