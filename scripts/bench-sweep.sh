#!/usr/bin/env bash
# What lbd's sweep costs as the connection table grows (not a test: nothing
# is asserted). For each size in BENCH_SWEEP_SIZES (default 1M and 8M live
# flows, the table as large), one lbd with one VIP: BENCH_SWEEP_PASSES
# passes over the empty tables first, then conn_fill writes the flows
# straight into conn_map, and over as many whole passes (each forgets idle
# flows, counts live ones per backend, and may unmark moved slots) we read
# the pass's wall time, lbd's CPU time (utime + stime of /proc/PID/stat)
# and the loop's longest pass: first with a per-flow VIP, which has every
# pass read conn_map, then without, when a full table waits between reads
# (sweep_conn_every_ms).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
SIZES=${BENCH_SWEEP_SIZES:-1048576 8388608}
PASSES=${BENCH_SWEEP_PASSES:-3}
P=xb-sweep
DIR=/tmp/xlb-bench-sweep.$$
# shellcheck source=testbed.sh
source "$(dirname "$0")/testbed.sh"	# tb_pair_up, tb_bpffs_up/down, tb_bench_down
lbctl() { "$build/lbctl" -s "$DIR/lbd.sock" "$@"; }
cleanup() { set +e; tb_bench_down $P "$DIR"; set -e; }
tb_bpffs_up
trap 'cleanup; tb_bpffs_down' EXIT
cleanup 2>/dev/null || true
mkdir -p "$DIR"
tb_pair_up $P
for i in 1 2 3; do
	ip -n $P-lb neigh add "198.18.0.10$i" lladdr "02:00:00:00:01:0$i" dev l0 nud permanent
done

show_field() { lbctl -j show | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
loop_longest_ms() {
	lbctl -j stats | python3 -c "import json,sys; p = json.load(sys.stdin)['loop']['recent_longest']
print('%.2f ms (cpu %.2f; %s)' % (p['us'] / 1e3, p['cpu_us'] / 1e3, p['by']))"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# The next pass's end: the count of passes goes up (a pass of 8M entries takes tens of seconds).
wait_pass() {
	local n
	n=$(show_field sweep_passes)
	while [[ $(show_field sweep_passes) == "$n" ]]; do sleep 0.2; done
}

echo "== lbd's sweep against the table's size: one VIP, the table full of live flows, $PASSES passes each"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, kernel $(uname -r)"
hz=$(getconf CLK_TCK)
for size in $SIZES; do
	printf 'conn-table-size %s\nconn-timeout 3600\n' "$size" >"$DIR/lbd.conf"
	nsenter --net=/run/netns/$P-lb "$build/lbd" --foreground --config "$DIR/lbd.conf" --socket "$DIR/lbd.sock" \
		--pin-dir "/sys/fs/bpf/$P" --log-level warn >>"$DIR/lbd.log" 2>&1 &
	pid=$!
	echo $pid >"$DIR/lbd.pid"
	for ((t = 0; t < 300; t++)); do
		lbctl vip list >/dev/null 2>&1 && break
		sleep 0.1
	done
	lbctl attach l0 >/dev/null
	lbctl vip add 198.18.1.1:80/tcp --check none >/dev/null
	for i in 1 2 3; do lbctl backend add 198.18.1.1:80/tcp "198.18.0.10$i" >/dev/null; done
	# The table empty first: a pass that found a table empty leaves it
	# unread until a flow is written into it (the first reads it, and the
	# second may have begun before the first ended).
	wait_pass
	wait_pass
	t0=$(date +%s%N) c0=$(cpu_ticks $pid)
	for ((p = 0; p < PASSES; p++)); do wait_pass; done
	wall_ms=$((($(date +%s%N) - t0) / 1000000)) cpu_ms=$((($(cpu_ticks $pid) - c0) * 1000 / hz))
	awk -v n="$size" -v w="$wall_ms" -v c="$cpu_ms" -v p="$PASSES" -v l="$(show_field sweep_tables_left)" 'BEGIN {
		printf "%9d-entry tables, empty: one pass every %.1f s; lbd CPU %.3f s a pass (%d table reads left out so far)\n",
			n, w / p / 1000, c / p / 1000, l }'
	t0=$(date +%s%N)
	# The flows are the first backend's: lbd gives it id 1.
	"$build/conn_fill" "/sys/fs/bpf/$P/conn_map" "$size" 198.18.1.1 80 1
	fill_ms=$((($(date +%s%N) - t0) / 1000000))
	# Every pass reads conn_map while a VIP schedules per flow (its counted
	# flows are released by the sweep): so the reads are timed, then what
	# the passes cost once nothing needs them and the table waits.
	lbctl vip add 198.18.1.1:81/tcp --sched rr --check none >/dev/null
	lbctl backend add 198.18.1.1:81/tcp 198.18.0.101 >/dev/null
	# A pass that began before the fill read part of it: wait it out, then time whole ones.
	wait_pass
	t0=$(date +%s%N) c0=$(cpu_ticks $pid)
	for ((p = 0; p < PASSES; p++)); do wait_pass; done
	wall_ms=$((($(date +%s%N) - t0) / 1000000)) cpu_ms=$((($(cpu_ticks $pid) - c0) * 1000 / hz))
	read_cpu_ms=$((cpu_ms / PASSES))
	read -r counted took_ms < <(lbctl -j show | python3 -c 'import json,sys
s = json.load(sys.stdin)
print(sum(b.get("flows", 0) for v in s["vips"] for b in v["backends"]), s["sweep_last_pass_ms"])')
	# Passes begin every 5 s, so one that takes less still comes every 5 s: its own length is took_ms.
	awk -v n="$size" -v w="$wall_ms" -v c="$cpu_ms" -v p="$PASSES" -v f="$fill_ms" -v k="$counted" -v t="$took_ms" 'BEGIN {
		printf "%9d flows (filled in %.1f s; %d counted by the sweep): a pass takes %.1f s, one every %.1f s; lbd CPU %.2f s a pass (%.1f%% of a core, %.0f ns an entry)\n",
			n, f / 1000, k, t / 1000, w / p / 1000, c / p / 1000, 100 * c / w, c * 1e6 / p / n }'
	echo "  longest loop pass in the last 5-10 s: $(loop_longest_ms)"
	lbctl vip del 198.18.1.1:81/tcp >/dev/null
	wait_pass	# the last pass that reads: it began with the rr VIP
	waits=$(show_field sweep_conn_waits) t0=$(date +%s%N) c0=$(cpu_ticks $pid)
	for ((p = 0; p < PASSES; p++)); do wait_pass; done
	wall_ms=$((($(date +%s%N) - t0) / 1000000)) cpu_ms=$((($(cpu_ticks $pid) - c0) * 1000 / hz))
	awk -v w="$wall_ms" -v c="$cpu_ms" -v p="$PASSES" -v e="$(show_field sweep_conn_every_ms)" \
		-v n="$(($(show_field sweep_conn_waits) - waits))" -v r="$read_cpu_ms" 'BEGIN {
		printf "  nothing to unmark, no per-flow VIP: %d of %d passes left conn_map unread, lbd CPU %.3f s a pass; one read every %.0f s: %.1f%% of a core\n",
			n, p, c / p / 1000, e / 1000, 100 * r / e }'
	kill $pid
	while kill -0 $pid 2>/dev/null; do sleep 0.1; done
	rm -f "$DIR/lbd.pid"
	rm -rf "/sys/fs/bpf/$P"
done
