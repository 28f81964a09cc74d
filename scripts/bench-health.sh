#!/usr/bin/env bash
# Health-check costs for BENCHMARKS.md (not a test: nothing is asserted).
#  1. CPU lbd uses to check N backends (default 1000) with tcp checks every
#     second, against the same lbd with `check none` (the baseline).
#  2. Time from a server's death to its removal from the Maglev table with
#     the defaults (interval 1s, timeout 500ms, fall 3), for each of N.
# The N backends are N addresses on one backend namespace's lo, routed via
# that backend from the balancer, served by one python server.
set -euo pipefail
build=${1:-build}
N=${BENCH_BACKENDS:-1000}
SECONDS_MEASURED=${BENCH_SECONDS:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
export TB_BUILD TB_DIR=/tmp/xlb-bench-health.$$ TB_QUIET=1
TB_BUILD=$(cd "$build" && pwd)
source "$root/scripts/testbed.sh"
P=xb-health
tb_bpffs_up
trap 'tb_down $P >/dev/null 2>&1; rm -rf "$TB_DIR"; tb_bpffs_down' EXIT
tb_down $P >/dev/null 2>&1 || true
tb_up $P 1
tb_wait_http $P 1

# 198.18.4.1 onwards on be1's lo; the balancer reaches them through be1.
addrs=()
for ((k = 0; k < N; k++)); do addrs+=("198.18.$((4 + (k + 1) / 256)).$(((k + 1) % 256))"); done
printf 'addr add %s/32 dev lo\n' "${addrs[@]}" | ip -n $P-be1 -batch -
ip -n $P-lb route add 198.18.4.0/22 via 198.18.0.101

# conf CHECK: a configuration with one VIP over all N backends.
conf() {
	echo "attach eth0"
	echo "vip 198.18.1.1:80/tcp check $1"
	printf '  backend %s\n' "${addrs[@]}"
}

# cpu_percent: lbd's user+system CPU over SECONDS_MEASURED, in % of one core.
cpu_percent() {
	local pid t0 t1 hz
	pid=$(cat "$TB_DIR/$P/lbd.pid")
	hz=$(getconf CLK_TCK)
	sleep 3
	t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	sleep "$SECONDS_MEASURED"
	t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$SECONDS_MEASURED" 'BEGIN { printf "%.2f", 100 * d / hz / s }'
}

run_lbd() {
	conf "$1" >"$TB_DIR/$P/lbd.conf"
	: >"$TB_DIR/$P/lbd.log"
	tb_lbd_start $P
}

echo "== health checks: $N backends, one VIP, ${SECONDS_MEASURED}s measured (after 3s settling)"
run_lbd none
base=$(cpu_percent)
tb_lbd_stop $P
run_lbd tcp
checked=$(cpu_percent)
down=$(grep -c "is down" "$TB_DIR/$P/lbd.log" || true)
echo "lbd CPU, check none (baseline): ${base}% of one core"
echo "lbd CPU, tcp check every 1s:    ${checked}% of one core ($down of $N backends went down meanwhile)"
awk -v a="$checked" -v b="$base" -v n="$N" 'BEGIN { printf "added by %d checks/s: %.2f%% of one core, %.1f us of CPU per check\n", n, a - b, (a - b) * 10000 / n }'

echo "== server death to removal from the table (defaults: interval 1s, timeout 500ms, fall 3)"
: >"$TB_DIR/$P/lbd.log"
t_kill=$(date +%s%3N)
tb_server_stop $P 1
sleep 6
grep "is down" "$TB_DIR/$P/lbd.log" | sed 's/^lbd\[\([0-9]*\)\.\([0-9]*\)\].*/\1\2/' |
	awk -v t="$t_kill" '{ print $1 - t }' | sort -n |
	awk -v n="$N" '{ d[NR] = $1 } END {
		if (!NR) { print "no backend went down"; exit }
		printf "%d of %d removed; after the kill: first %d ms, median %d ms, last %d ms\n", NR, n, d[1], d[int((NR + 1) / 2)], d[NR] }'
