#!/usr/bin/env bash
# Shared by the end-to-end tests: the test bed, check helpers and the
# RESULT line selftests/run.sh adds up. Each test sets E2E_PREFIX (unique
# namespace prefix) before sourcing this file; the bed is removed on exit.
set -uo pipefail

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export TB_BUILD=${TB_BUILD:-$E2E_ROOT/build}
export TB_DIR=${TB_DIR:-/tmp/xlb-e2e.$$}
export TB_QUIET=1
# shellcheck source=../../scripts/testbed.sh
source "$E2E_ROOT/scripts/testbed.sh"

E2E_SUITE=${E2E_SUITE:-e2e}
e2e_passed=0 e2e_failed=0 e2e_skipped=0

ok() { echo "ok   $E2E_SUITE/$1"; e2e_passed=$((e2e_passed + 1)); }

fail() {
	local name=$1
	shift
	echo "FAIL $E2E_SUITE/$name: $*"
	e2e_failed=$((e2e_failed + 1))
}

# expect NAME COND_DESCRIPTION COMMAND...: passes when COMMAND succeeds.
expect() {
	local name=$1 what=$2
	shift 2
	if "$@"; then ok "$name"; else fail "$name" "$what"; fi
}

e2e_finish() {
	tb_down "$E2E_PREFIX" >/dev/null 2>&1
	rm -rf "$TB_DIR"
	tb_bpffs_down
	echo "RESULT passed=$e2e_passed failed=$e2e_failed skipped=$e2e_skipped"
	((e2e_failed == 0))
}

e2e_start() {
	local n=${1:-3}
	trap 'e2e_finish' EXIT
	trap 'exit 130' INT TERM
	tb_bpffs_up
	tb_down "$E2E_PREFIX" >/dev/null 2>&1
	if ! tb_up "$E2E_PREFIX" "$n" || ! tb_lbd_start "$E2E_PREFIX"; then
		fail setup "the test bed did not come up"
		exit 1
	fi
	local i
	for ((i = 1; i <= n; i++)); do
		tb_wait_http "$E2E_PREFIX" "$i" || { fail setup "backend be$i does not answer HTTP"; exit 1; }
	done
}

lbctl() { tb_lbctl "$E2E_PREFIX" "$@"; }

# curl_many HOST N: N requests, each on a new connection (a new flow);
# prints the backend name of each request that succeeded, one a line.
curl_many() {
	local host=$1 n=$2 urls=() i
	for ((i = 0; i < n; i++)); do urls+=("http://$host/"); done
	ip netns exec "$E2E_PREFIX-cli" curl -sS -g --fail --max-time 5 -H 'Connection: close' \
		"${urls[@]}" 2>>"$TB_DIR/curl.err"
}

# spread_ok COUNTS_FILE N BACKENDS: every backend got N/BACKENDS +-30%.
spread_ok() {
	local file=$1 n=$2 k=$3 i c lo hi
	lo=$((n * 70 / 100 / k)) hi=$((n * 130 / 100 / k))
	for ((i = 1; i <= k; i++)); do
		c=$(grep -cx "be$i" "$file")
		((c >= lo && c <= hi)) || return 1
	done
}

# ping_outage_ms FILE: the longest silence between two replies of a
# `ping -D -i 0.01` log, in ms. Counting lost pings undercounts: while the
# neighbour entry is FAILED, ping's sends fail and are not "transmitted".
ping_outage_ms() {
	awk -F'[][]' '/bytes from/ { t = $2; if (p && t - p > m) m = t - p; p = t }
		END { printf "%d\n", m * 1000 }' "$1"
}

# expect_takeover NAME LOSS_NAME WHAT BOUND_MS T0 PING_PID PING_LOG CMD...:
# after a master died at T0 (ms), CMD comes true within BOUND_MS (+60 ms for
# polling every 10 ms and the tools it runs), and the client pinging in the
# background (PING_PID, its `ping -D` log) is silent no longer than
# BOUND_MS + 100 ms.
expect_takeover() {
	local name=$1 loss=$2 what=$3 bound=$4 t0=$5 pid=$6 log=$7 took="" end outage
	shift 7
	end=$(($(date +%s%3N) + 3000))
	while (($(date +%s%3N) < end)); do
		if "$@"; then
			took=$(($(date +%s%3N) - t0))
			break
		fi
		sleep 0.01
	done
	if [[ -n $took ]]; then
		echo "     $what in $took ms (bound $bound ms)"
		expect "$name" "took $took ms" test "$took" -le $((bound + 60))
	else
		fail "$name" "$what: not within 3 s"
	fi
	wait "$pid"
	outage=$(ping_outage_ms "$log")
	echo "     ping every 10 ms: longest silence $outage ms"
	expect "$loss" "no reply for $outage ms" test "$outage" -le $((bound + 100))
}
