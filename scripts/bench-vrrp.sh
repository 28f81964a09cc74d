#!/usr/bin/env bash
# VRRP failover figures for BENCHMARKS.md (not a test: nothing is asserted).
# For adverts of 1 s and 100 ms, and for a pair of xlb nodes and a pair of
# keepalived nodes on the same test bed: the master (priority 200) is
# killed (SIGKILL and link down at once, as a node dies) while a client pings the VIP
# every 10 ms; we time until the backup (priority 100) holds the VIP, and
# the client's longest silence between two replies. Median of REPS runs.
# For scripts/charts.sh it writes vrrp.dat (scripts/bench-data.sh) into
# BENCH_RESULTS (default BUILD/bench): the silence before each ping reply
# against the time since the kill, in the run of each pair whose outage was
# the median.
set -euo pipefail
build=${1:-build}
REPS=${BENCH_REPS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
export TB_BUILD TB_DIR=/tmp/xlb-bench-vrrp.$$ TB_QUIET=1
TB_BUILD=$(cd "$build" && pwd)
source "$root/scripts/testbed.sh"
# shellcheck source=bench-data.sh
source "$root/scripts/bench-data.sh"
P=xb-vrrp
VIP=$TB_VIP4
if ! command -v keepalived >/dev/null; then
	echo "skip VRRP failover: keepalived missing (make deps installs it)"
	exit 0
fi
DIR=$(tb_dir $P)
cleanup() {
	local f
	set +e	# a trap must get through every step
	for f in "$DIR"/ka*.pid; do
		if [[ -e $f ]]; then kill -KILL "$(cat "$f")" 2>/dev/null; fi
	done
	tb_down $P >/dev/null 2>&1
	rm -rf "$TB_DIR"
	tb_bpffs_down
}
tb_bpffs_up
trap cleanup EXIT
tb_down $P >/dev/null 2>&1 || true
tb_up $P 1
tb_lb_up $P lb2 198.18.0.3 2001:db8::3
tb_lb_up $P ka 198.18.0.4 2001:db8::4
tb_lb_up $P ka2 198.18.0.5 2001:db8::5
ip -n $P-cli route replace $VIP/32 dev eth0

now_ms() { date +%s%3N; }
holds_vip() { ip -n "$P-$1" -4 addr show dev eth0 | grep -q " $VIP/32"; }
wait_vip() {
	local t0=$1 end=$(($(now_ms) + $3))
	while (($(now_ms) < end)); do
		holds_vip "$2" && { echo $(($(now_ms) - t0)); return 0; }
		sleep 0.01
	done
	echo timeout
}

xlb_up() {	# NODE PRIORITY ADVERT_MS
	TB_LB=$1 tb_lbd_start $P
	# No VIP to balance here: fault-drop 0 keeps the priorities as configured, like keepalived's.
	TB_LB=$1 tb_lbctl $P vrrp add eth0 --vrid 51 --priority "$2" --advert "$3ms" --fault-drop 0 --vip $VIP >/dev/null
}
xlb_down() {	# NODE
	TB_LB=$1 TB_SIGNAL=KILL tb_lbd_stop $P 2>/dev/null || true
	rm -f "$DIR/$(TB_LB=$1 tb_lbd_base).conf"
}
ka_up() {	# NODE PRIORITY ADVERT_MS
	cat >"$DIR/$1.conf" <<KA
global_defs {
    router_id bench-$1
    vrrp_version 3
}
vrrp_instance VI_51 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $2
    advert_int $(awk -v m="$3" 'BEGIN { print m / 1000 }')
    virtual_ipaddress {
        $VIP/32 dev eth0
    }
}
KA
	ip netns exec $P-$1 keepalived --dont-fork --vrrp --use-file "$DIR/$1.conf" --pid "$DIR/$1-main.pid" \
		--vrrp_pid "$DIR/$1-vrrp.pid" >/dev/null 2>&1 &
	echo $! >"$DIR/$1.pid"
	disown $!
}
ka_down() {	# NODE
	local f
	for f in "$DIR/$1-vrrp.pid" "$DIR/$1.pid"; do
		[[ -e $f ]] && kill -KILL "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
	return 0
}

# one_run KIND ADVERT_MS RUN: prints "takeover_ms outage_ms kill_ms"; keeps the ping log as ping.RUN.
one_run() {
	local kind=$1 adv=$2 master backup t0 took lost count
	if [[ $kind == xlb ]]; then master=lb backup=lb2; else master=ka backup=ka2; fi
	"${kind/keepalived/ka}_up" $master 200 "$adv"
	sleep 0.3
	"${kind/keepalived/ka}_up" $backup 100 "$adv"
	# Wait for the master to hold the VIP, then for a few adverts.
	wait_vip "$(now_ms)" $master $((adv * 5 + 3000)) >/dev/null
	sleep $(awk -v a="$adv" 'BEGIN { print a * 3 / 1000 + 0.3 }')
	count=$(awk -v a="$adv" 'BEGIN { print int((a * 4 + 1500) / 10) }')
	ip netns exec $P-cli ping -n -D -i 0.01 -c "$count" -W 1 $VIP >"$DIR/ping.$3" 2>&1 &
	local ping_pid=$!
	sleep 0.5
	t0=$(now_ms)
	# The node dies: its VRRP process and its link at once, for either kind. (xlb_down waits
	# for lbd to exit first: taking the link down after it left xlb's master answering pings
	# for another ~0.1 s, which shortened xlb's outage against keepalived's.)
	if [[ $kind == xlb ]]; then
		kill -KILL "$(cat "$DIR/$(TB_LB=$master tb_lbd_base).pid")" 2>/dev/null || true
	else
		ka_down $master
	fi
	ip -n $P-$master link set eth0 down
	if [[ $kind == xlb ]]; then xlb_down $master; fi	# the pid file and its configuration
	took=$(wait_vip "$t0" $backup $((adv * 4 + 2000)))
	wait $ping_pid || true
	# The longest silence between replies (lost-ping counts undercount: sends to a FAILED neighbour are not counted).
	lost=$(awk -F'[][]' '/bytes from/ { t = $2; if (p && t - p > m) m = t - p; p = t } END { printf "%d", m * 1000 }' "$DIR/ping.$3")
	if [[ $kind == xlb ]]; then xlb_down $backup; else ka_down $backup; fi
	ip -n $P-$master link set eth0 up
	for n in $master $backup; do ip -n $P-$n -4 addr del $VIP/32 dev eth0 2>/dev/null || true; done
	echo "$took $lost $t0"
}

# timeline SERIES RUNS: vrrp.dat's rows for the median run of RUNS (one_run's lines):
# each reply's time since the kill (s) and the silence before it (ms).
timeline() {
	local k t0
	k=$(bench_median_run "$2" 2)
	[[ -n $k ]] || return 0
	t0=$(awk -v k="$k" 'NR == k { print $3 }' "$2")
	awk -F'[][]' -v s="$1" -v t0="$t0" '/bytes from/ { t = $2
		if (p) printf "%s %.3f %.1f\n", s, t - t0 / 1000, (t - p) * 1000; p = t }' "$DIR/ping.$((k - 1))"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "-") }'; }

echo "== VRRP failover: master killed, backup takes the VIP; ping every 10 ms; median of $REPS"
printf '%-11s %-8s %-14s %-16s %s\n' pair advert "takeover ms" "client outage ms" "bound (3 x advert + skew)"
data=$(bench_data_begin "$build" vrrp "VRRP failover: silence before each ping reply (ms) against the time since the master's kill (s), median run" \
	"series seconds_since_kill silence_ms")
for adv in 1000 100; do
	for kind in xlb keepalived; do
		: >"$DIR/runs"
		for ((k = 0; k < REPS; k++)); do
			one_run $kind $adv $k >>"$DIR/runs"
			sleep 0.3
		done
		printf '%-11s %-8s %-14s %-16s %s ms\n' "$kind" "${adv}ms" "$(awk '{ print $1 }' "$DIR/runs" | median)" \
			"$(awk '{ print $2 }' "$DIR/runs" | median)" $((3 * adv + (256 - 100) * adv / 256))
		if ((adv >= 1000)); then a="$((adv / 1000))_s"; else a="${adv}_ms"; fi
		timeline "${kind},_advert_$a" "$DIR/runs" >>"$data"
	done
done
bench_data_end "$data"
