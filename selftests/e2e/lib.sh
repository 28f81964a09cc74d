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
# skip NAME WHY: what this machine cannot show, said as such.
skip() { echo "skip $E2E_SUITE/$1: $2"; e2e_skipped=$((e2e_skipped + 1)); }
# live_frames_refused NS DEV DST_MAC: this kernel refuses xlbgen's frames
# (BPF_PROG_TEST_RUN with live frames: EPERM, seen on some sandboxed VMs).
# One UDP frame to a port and address no VIP has: the lb's kernel takes it.
live_frames_refused() {
	local rc=0
	ip netns exec "$1" "$TB_BUILD/xlbgen" --dev "$2" --dst-mac "$3" --src 198.18.0.250 --dst 198.18.0.251 \
		--dport 9 --packets 1 --expect-mac 02:00:00:00:00:fe >/dev/null 2>&1 || rc=$?
	((rc == 77))
}

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
	# CI keeps nothing of the test bed: a failed suite shows what its daemons last said.
	if ((e2e_failed > 0)); then
		local log
		for log in "$TB_DIR"/*/lbd*.log; do
			[[ -s $log ]] || continue
			echo "---- the last lines of $log"
			tail -n 25 "$log"
		done
	fi
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

# flow_remembered PIN_DIR SRC SPORT DST DPORT: moved_map or conn_map under PIN_DIR holds that IPv4 TCP flow.
# (lbctl trace cannot say: like the program, it reads no table on an unmoved slot.)
flow_remembered() {
	local key m
	key=$(python3 -c '
import ipaddress, struct, sys
src = ipaddress.ip_address(sys.argv[1]).packed + bytes(12)
dst = ipaddress.ip_address(sys.argv[3]).packed + bytes(12)
print(" ".join("%02x" % b for b in src + dst + struct.pack(">HHBBxx", int(sys.argv[2]), int(sys.argv[4]), 6, 2)))' \
		"$2" "$3" "$4" "$5")
	for m in moved_map conn_map; do
		# shellcheck disable=SC2086 # the key is bytes, word by word
		bpftool map lookup pinned "$1/$m" key hex $key >/dev/null 2>&1 && return 0
	done
	return 1
}

# backend_field KEY ADDR FIELD: a field of the backend in `lbctl -j backend list KEY`; a.b for nested
# ones; true/false as bash writes them, a number rounded.
backend_field() {
	lbctl -j backend list "$1" | python3 -c '
import json, sys
for b in json.load(sys.stdin)["backends"]:
    if b["address"] == sys.argv[1]:
        v = b
        for k in sys.argv[2].split("."):
            v = v[k]
        print(round(v) if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else v)' "$2" "$3"
}

# active_within KEY N: N backends of the VIP are active (their MACs resolved) and hold a share of its
# table within 5 s: the state comes first, the table (rebuilt in a bounded round) just after.
active_within() {
	local t
	for ((t = 0; t < 50; t++)); do
		(($(lbctl backend list "$1" | awk '$3 == "active" && $4 + 0 > 0' | wc -l) == $2)) && return 0
		sleep 0.1
	done
	return 1
}

# term_and_wait PID: SIGTERM, then up to 5 s for PID to exit; true once it has.
term_and_wait() {
	local pid=$1 t
	kill -TERM "$pid"
	for ((t = 0; t < 50; t++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# curl_many HOST N: N requests, each on a new connection (a new flow);
# prints the backend name of each request that succeeded, one a line.
curl_many() {
	local host=$1 n=$2 urls=() i
	for ((i = 0; i < n; i++)); do urls+=("http://$host/"); done
	ip netns exec "$E2E_PREFIX-cli" curl -sS -g --fail --max-time 5 -H 'Connection: close' \
		"${urls[@]}" 2>>"$TB_DIR/curl.err"
}

# spread_ok COUNTS_FILE N BACKENDS: every backend got N/BACKENDS within 4.5
# standard deviations of a fair draw (binomial): a correct balancer fails it
# once in about 10^5 checks, a skewed or broken one far more often. (A fixed
# +-30% of 100 of 300 is 3.7 deviations: once in a few hundred runs of the
# spread suite's 12 checks, as happened in CI.)
spread_ok() {
	local file=$1 n=$2 k=$3 i c lo hi
	read -r lo hi < <(awk -v n="$n" -v k="$k" 'BEGIN { m = n / k; d = 4.5 * sqrt(n * (1 / k) * (1 - 1 / k))
		printf "%d %d\n", m - d + 0.999, m + d }')
	for ((i = 1; i <= k; i++)); do
		c=$(grep -cx "be$i" "$file")
		((c >= lo && c <= hi)) || return 1
	done
}

# ping_outage_ms FILE [START END]: the longest silence of a `ping -D -i 0.01`
# run, in ms: between two replies, from the start of the run to the first
# reply and from the last reply to its end, so a VIP that never answers (or
# never again) shows as silent for the rest of the run. START and END are
# seconds since the epoch (date +%s.%N just before ping starts and after it
# exits); left out, the log's own times stand in: the shell's `>FILE` creates
# it as ping starts, ping's summary is its last change. Counting lost pings
# undercounts: while the neighbour entry is FAILED, sends fail uncounted.
ping_outage_ms() {
	local log=$1 start=${2:-} end=${3:-}
	[[ -n $start ]] || start=$(stat -c %.9W "$log") || return 1
	[[ -n $end ]] || end=$(stat -c %.9Y "$log") || return 1
	if [[ ! $start =~ ^[1-9] ]]; then
		echo "ping_outage_ms: the filesystem of $log keeps no creation time: pass START END" >&2
		return 1
	fi
	awk -F'[][]' -v start="$start" -v end="$end" 'BEGIN { p = start }
		/bytes from/ { t = $2; if (t - p > m) m = t - p; p = t }
		END { if (end - p > m) m = end - p; printf "%d\n", m * 1000 }' "$log"
}

# expect_takeover NAME LOSS_NAME WHAT BOUND_MS T0 PING_PID PING_LOG CMD...:
# after a master died at T0 (ms), CMD comes true within BOUND_MS (+60 ms for
# polling every 10 ms and the tools it runs), and the client pinging in the
# background (PING_PID, its `ping -D` log) is silent no longer than
# BOUND_MS + 100 ms, counted from T0 to the end of its run.
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
	# From T0 to the end of the ping run: a VIP silent since the kill counts in full.
	outage=$(ping_outage_ms "$log" "${t0:0:-3}.${t0: -3}" "$(date +%s.%N)")
	echo "     ping every 10 ms: longest silence $outage ms"
	expect "$loss" "no reply for $outage ms" test "$outage" -le $((bound + 100))
}

# show_field FIELD: a top-level field of `lbctl -j show`.
show_field() { lbctl -j show | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# map_fds PID PINNED...: PID's fds of the maps pinned at PINNED, found by map id.
map_fds() {
	local pid=$1 pin id f
	shift
	for pin in "$@"; do
		id=$(bpftool map show pinned "$pin" -j | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
		for f in /proc/"$pid"/fdinfo/*; do
			[[ $(awk '$1 == "map_id:" { print $2 }' "$f" 2>/dev/null) == "$id" ]] && echo "${f##*/}"
		done
	done
}

# map_calls FILE PID WHO CMDS FD...: the bpf calls of `strace -f -e trace=bpf -o FILE`
# whose command matches BPF_MAP_(CMDS) on one of FDs, made by PID's main thread
# (WHO main: lbd's loop) or by its other threads (other).
map_calls() {
	local file=$1 pid=$2 who=$3 cmds=$4
	shift 4
	grep -E "BPF_MAP_($cmds)" "$file" |
		awk -v pid="$pid" -v who="$who" -v fds=" $* " '
			match($0, /map_fd=[0-9]+/) && index(fds, " " substr($0, RSTART + 7, RLENGTH - 7) " ") &&
			($1 == pid) == (who == "main") { n++ } END { print n + 0 }'
}
