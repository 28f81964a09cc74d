#!/usr/bin/env bash
# Live-frames throughput for BENCHMARKS.md (not a test: nothing is asserted).
# Two namespaces joined by one veth pair: xlbgen in "gen" sends frames out
# of g0 and counts what comes back on g0 with its checking sink; "lb" runs
# on l0 the trivial XDP_TX reflector (the rig's limit), xlb (configured
# through lbd and lbctl as an operator would), the floor program (the least
# an IPIP balancer does: bpf/floor.bpf.c) or nftables. Backends are static
# neighbours (they never need to answer: DSR and IPIP only address them).
#
# Method: every case runs beside its own reflector run (the same frames and
# packet count; the IPIP IPv4 cases also beside the floor), in an order
# rotated every repetition (reflector, case; case, reflector; ...), and is
# stated against that reflector: medians of REPS with min-max. A case that
# comes out faster than its reflector is a method error, not a result.
# With kernel.bpf_stats_enabled=1 (restored at exit) every run also gives
# the program's own time per packet: the run_time_ns / run_cnt deltas of
# l0's XDP program over the run.
# For scripts/charts.sh it writes throughput.dat (scripts/bench-data.sh)
# into BENCH_RESULTS (default BUILD/bench): Mpps (median, min, max) against
# the flow count of the IPv4 UDP cases, for xlb DSR, xlb IPIP, nftables and
# the reflector runs beside DSR.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
REPS=${BENCH_REPS:-3}
PKTS=${BENCH_PACKETS:-3000000}
CPU=${BENCH_CPU:-0}
# BENCH_RAW=FILE keeps every run's line (case, program, repetition, xlbgen's output, in-program ns).
P=xb-traffic
DIR=/tmp/xlb-bench-traffic.$$
mkdir -p "$DIR"
G="ip netns exec $P-gen"
LBCTL="$build/lbctl -s $DIR/lbd.sock"
# shellcheck source=testbed.sh
source "$(dirname "$0")/testbed.sh"	# tb_pair_up, tb_bpffs_up/down
# shellcheck source=bench-data.sh
source "$(dirname "$0")/bench-data.sh"
cleanup() {
	set +e	# a trap must get through every step
	[[ -e $DIR/lbd.pid ]] && kill "$(cat "$DIR/lbd.pid")" 2>/dev/null
	sleep 0.3
	ip netns del $P-gen 2>/dev/null
	ip netns del $P-lb 2>/dev/null
	[[ -n ${BENCH_RAW:-} && -e $DIR/results ]] && cp "$DIR/results" "$BENCH_RAW"
	rm -rf "/sys/fs/bpf/$P" "/sys/fs/bpf/$P-8m" "$DIR"
	set -e
}
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
tb_bpffs_up
trap 'cleanup; tb_bpffs_down; sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"' EXIT
trap 'exit 130' INT TERM	# through the EXIT trap: namespaces gone, the sysctl as it was
cleanup 2>/dev/null || true
mkdir -p "$DIR"
sysctl -qw kernel.bpf_stats_enabled=1

tb_pair_up $P
ip -n $P-gen addr add 2001:db8::10/64 dev g0 nodad
ip -n $P-lb addr add 2001:db8::2/64 dev l0 nodad
# BENCH_BACKENDS (default 8, at most 9: issue 19's rig had 8) backends per VIP.
BACKENDS=${BENCH_BACKENDS:-8}
((BACKENDS >= 1 && BACKENDS <= 9)) || { echo "bench-traffic: BENCH_BACKENDS=$BACKENDS is not 1 to 9" >&2; exit 2; }
MACS=() ADDR4=() ADDR6=()
for ((i = 1; i <= BACKENDS; i++)); do
	MACS+=("02:00:00:00:01:0$i") ADDR4+=("198.18.0.10$i") ADDR6+=("2001:db8::10$i")
	ip -n $P-lb neigh add "198.18.0.10$i" lladdr "02:00:00:00:01:0$i" dev l0 nud permanent
	ip -n $P-lb neigh add "2001:db8::10$i" lladdr "02:00:00:00:01:0$i" dev l0 nud permanent
done
LMAC=$(ip -n $P-lb link show l0 | awk '/link\/ether/ { print $2 }')
GMAC=$(ip -n $P-gen link show g0 | awk '/link\/ether/ { print $2 }')
join() { local IFS=,; echo "$*"; }

lbd_start() {	# PIN CONN_TABLE_SIZE: lbd with every VIP, its program then detached
	printf 'conn-table-size %s\n' "$2" >"$DIR/lbd.conf"
	nsenter --net=/run/netns/$P-lb "$build/lbd" --foreground --config "$DIR/lbd.conf" --socket "$DIR/lbd.sock" \
		--pin-dir "/sys/fs/bpf/$1" --log-level warn >>"$DIR/lbd.log" 2>&1 &
	echo $! >"$DIR/lbd.pid"
	for ((t = 0; t < 100; t++)); do
		$LBCTL vip list >/dev/null 2>&1 && break
		sleep 0.1
	done
	$LBCTL attach l0 >/dev/null
	# VIP, forward, sched: 198.18.1.3 is the lc case's, every packet through the connection table;
	# 198.18.1.4 and .5 are dsr4-udp-64k's VIP with a packet limit and with a deny list, neither hit;
	# 198.18.1.6 is ipip4-udp-64k's with a 251-slot ring (in cache, against 128 KB).
	local v vip fwd sched extra
	for v in "198.18.1.1:80/udp dsr maglev" "198.18.1.1:80/tcp dsr maglev" "198.18.1.2:80/udp ipip maglev" \
		"198.18.1.3:80/tcp dsr lc" "[2001:db8:1::1]:80/udp dsr maglev" "[2001:db8:1::2]:80/udp ipip maglev" \
		"198.18.1.4:80/udp dsr maglev --limit-pps 10000000" "198.18.1.5:80/udp dsr maglev --deny 198.19.0.0/16" \
		"198.18.1.6:80/udp ipip maglev --ring-size 251"; do
		read -r vip fwd sched extra <<<"$v"
		# shellcheck disable=SC2086 # extra is options, word by word
		$LBCTL vip add "$vip" --forward "$fwd" --sched "$sched" --check none $extra >/dev/null
		local fam=4
		[[ $vip == \[* ]] && fam=6
		for ((i = 0; i < BACKENDS; i++)); do
			if [[ $fam == 4 ]]; then $LBCTL backend add "$vip" "${ADDR4[$i]}" >/dev/null
			else $LBCTL backend add "$vip" "${ADDR6[$i]}" >/dev/null; fi
		done
	done
	sleep 1
	# Each run puts what it measures on l0 and takes it off after. xlb goes on and off
	# by its program id, under lbd: 'lbctl detach' would make every backend pending and
	# the tables after 'attach' would move slots that carried traffic (a table lookup,
	# and a table insert per new flow, for every packet after).
	XLB_ID=$(xdp_id)
	if ! ((XLB_ID)); then
		echo "bench-traffic: lbd did not attach xlb to l0; its log:" >&2
		cat "$DIR/lbd.log" >&2
		exit 1
	fi
	TABLES=$(lbd_tables)
	ip -n $P-lb link set l0 xdp off
}
lbd_stop() {
	kill "$(cat "$DIR/lbd.pid")"
	while kill -0 "$(cat "$DIR/lbd.pid")" 2>/dev/null; do sleep 0.1; done
	rm -f "$DIR/lbd.pid"
	ip -n $P-lb link set l0 xdp off 2>/dev/null || true
}

# The balancer a user of this kernel would otherwise set up: nftables DNAT
# (numgen round robin over conntrack), forwarding back out of l0 to the same
# static neighbours. l0 needs an XDP program to take the generator's XDP
# frames at all (TESTBED.md); xdp_pass, attached for each nftables run,
# hands them to the stack. No masquerade: the sink never answers, so this
# is nftables' cheapest form.
nft_start() {
	# The generator leaves L4 checksums stale; conntrack would call those packets invalid.
	ip netns exec $P-lb sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.l0.send_redirects=0 net.netfilter.nf_conntrack_checksum=0
	local i map=()
	for ((i = 0; i < BACKENDS; i++)); do map+=("$i : ${ADDR4[$i]}"); done
	ip netns exec $P-lb nft -f - <<NFT
table ip xb_traffic {
    chain pre {
        type nat hook prerouting priority dstnat;
        ip daddr 198.18.1.1 udp dport 80 dnat to numgen inc mod $BACKENDS map { $(join "${map[@]}") }
    }
}
NFT
}
nft_stop() {
	ip netns exec $P-lb nft delete table ip xb_traffic
	ip netns exec $P-lb conntrack -F >/dev/null 2>&1 || true
}

# What each program on l0 is: lbd's xlb, or an object put there by ip.
attach() {
	case $1 in
	xlb) ip netns exec $P-lb bpftool net attach xdpdrv id "$XLB_ID" dev l0 ;;
	reflector) ip -n $P-lb link set l0 xdp obj "$build/reflector.bpf.o" sec xdp ;;
	floor) ip -n $P-lb link set l0 xdp obj "$build/floor.bpf.o" sec xdp ;;
	nft) ip -n $P-lb link set l0 xdp obj "$build/xdp_pass.bpf.o" sec xdp ;;
	esac
}
detach() { ip -n $P-lb link set l0 xdp off; }
lbd_tables() {	# "MOVED BUILDS": moved slots and table builds so far, summed over lbd's VIPs
	$LBCTL -j vip list | python3 -c '
import json, sys
v = json.load(sys.stdin)["vips"]
print(sum(x["moved_slots"] for x in v), sum(x["table_builds"] for x in v))'
}
xdp_id() {	# the id of the XDP program on l0 (0: none)
	ip -n $P-lb -j -d link show dev l0 | python3 -c '
import json, sys
def ids(o):
    if isinstance(o, dict):
        if isinstance(o.get("id"), int):
            yield o["id"]
        for v in o.values():
            yield from ids(v)
    elif isinstance(o, list):
        for v in o:
            yield from ids(v)
print(next(ids(json.load(sys.stdin)[0].get("xdp", {})), 0))'
}
prog_stats() {	# ID: "run_time_ns run_cnt name" so far (bpftool omits both while they are 0)
	{ (($1)) && bpftool prog show id "$1" -j 2>/dev/null || echo '{}'; } | python3 -c '
import json, sys
p = json.load(sys.stdin)
print(p.get("run_time_ns", 0), p.get("run_cnt", 0), p.get("name", "-"))'
}

gen() {	# SRC DST PROTO FLOWS PACKETS EXPECT...
	$G "$build/xlbgen" --dev g0 --dst-mac "$LMAC" --src "$1" --dst "$2" --dport 80 --proto "$3" --flows "$4" \
		--packets "$5" --cpu "$CPU" "${@:6}"
}
# case_frames CASE: the frames of one case (xlbgen's SRC DST PROTO FLOWS PACKETS); its reflector and floor send the same.
case_frames() {
	case ${1%-8m} in
	dsr4-udp-1) echo 198.18.0.10 198.18.1.1 udp 1 "$PKTS" ;;
	dsr4-udp-64k) echo 198.18.0.10 198.18.1.1 udp 65536 "$PKTS" ;;
	dsr4-udp-1m) echo 198.18.0.10 198.18.1.1 udp 1048576 $((PKTS * 2)) ;;
	dsr4-syn-64k) echo 198.18.0.10 198.18.1.1 syn 65536 "$PKTS" ;;
	dsr4-ack-64k) echo 198.18.0.10 198.18.1.1 ack 65536 "$PKTS" ;;
	limits4-udp-64k) echo 198.18.0.10 198.18.1.4 udp 65536 "$PKTS" ;;
	acl4-udp-64k) echo 198.18.0.10 198.18.1.5 udp 65536 "$PKTS" ;;
	lc4-ack-64k) echo 198.18.0.10 198.18.1.3 ack 65536 "$PKTS" ;;
	ipip4-udp-1) echo 198.18.0.10 198.18.1.2 udp 1 "$PKTS" ;;
	ipip4-udp-64k) echo 198.18.0.10 198.18.1.2 udp 65536 "$PKTS" ;;
	ipip4-udp-1m) echo 198.18.0.10 198.18.1.2 udp 1048576 $((PKTS * 2)) ;;
	ipip4-udp-64k-ring251) echo 198.18.0.10 198.18.1.6 udp 65536 "$PKTS" ;;
	dsr6-udp-64k) echo 2001:db8::10 2001:db8:1::1 udp 65536 "$PKTS" ;;
	ipip6-udp-64k) echo 2001:db8::10 2001:db8:1::2 udp 65536 "$PKTS" ;;
	nft4-udp-1) echo 198.18.0.10 198.18.1.1 udp 1 $((PKTS / 4)) ;;
	nft4-udp-64k) echo 198.18.0.10 198.18.1.1 udp 65536 $((PKTS / 4)) ;;
	*) echo "bench-traffic: no case $1" >&2; return 1 ;;
	esac
}
# case_expect CASE ROLE: what the sink accepts. The reflector sends every frame back to g0's MAC.
case_expect() {
	if [[ $2 == reflector ]]; then echo --expect-mac "$GMAC"; return; fi
	case $1 in
	ipip4-*-ring251) echo --expect-ipip "$(join "${ADDR4[@]}")" --vip 198.18.1.6 ;;
	ipip4-*) echo --expect-ipip "$(join "${ADDR4[@]}")" --vip 198.18.1.2 ;;
	ipip6-*) echo --expect-ipip "$(join "${ADDR6[@]}")" --vip 2001:db8:1::2 ;;
	*) echo --expect-mac "$(join "${MACS[@]}")" ;;
	esac
}
lbd_cpu() {	# lbd's CPU time so far in clock ticks (0: no lbd)
	local f
	[[ -e $DIR/lbd.pid ]] && f=$(cat "/proc/$(cat "$DIR/lbd.pid")/stat" 2>/dev/null) && {
		awk '{ sub(/^.*\) /, ""); print $12 + $13 }' <<<"$f"; return; }
	echo 0
}
# run_one CASE ROLE REP: one run of ROLE's program with CASE's frames; one line in results.
run_one() {
	local c=$1 role=$2 id s0 s1 l0 l1 out frames expect
	read -r -a frames <<<"$(case_frames "$c")"
	read -r -a expect <<<"$(case_expect "$c" "$role")"
	attach "$role"
	id=$(xdp_id)
	s0=$(prog_stats "$id") l0=$(lbd_cpu)
	out=$(gen "${frames[@]}" "${expect[@]}")
	s1=$(prog_stats "$id") l1=$(lbd_cpu)
	detach "$role"
	# xlb is measured on the tables it started with, every slot unmoved (the steady state).
	if [[ $role == xlb && $(lbd_tables) != "0 ${TABLES#* }" ]]; then
		echo "bench-traffic: $c: lbd's tables changed during the run (moved slots, table builds:" \
			"$(lbd_tables), were $TABLES)" >&2
		echo "$c $role $3 tables_changed" >>"$DIR/results"
	fi
	echo "$c $role $3 $out $(awk -v a="$s0" -v b="$s1" -v l="$((l1 - l0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x); split(b, y); n = y[2] - x[2]
		printf "prog_runs %d prog_ns %s prog %s lbd_cpu_ms %d", n, (n > 0 ? sprintf("%.1f", (y[1] - x[1]) / n) : "-"),
			y[3], l * 1000 / hz }')" >>"$DIR/results"
}
# run_group CASE REP ROLE...: one run of each ROLE, the order rotated by REP.
run_group() {
	local c=$1 r=$2 i
	shift 2
	local roles=("$@")
	for ((i = 0; i < ${#roles[@]}; i++)); do run_one "$c" "${roles[(i + r) % ${#roles[@]}]}" "$r"; done
}

CASES=(dsr4-udp-1 dsr4-udp-64k limits4-udp-64k acl4-udp-64k dsr4-udp-1m dsr4-syn-64k dsr4-ack-64k lc4-ack-64k ipip4-udp-1 ipip4-udp-64k ipip4-udp-64k-ring251 ipip4-udp-1m dsr6-udp-64k
	ipip6-udp-64k)
# BENCH_CASES="dsr4-udp-1 dsr4-ack-64k" runs a subset (the 8M table as 8m, nftables as nft4-udp-1 and nft4-udp-64k).
read -r -a CASES <<<"${BENCH_CASES:-${CASES[*]} 8m nft4-udp-1 nft4-udp-64k}"
for c in "${CASES[@]}"; do [[ $c == 8m ]] || case_frames "$c" >/dev/null; done

echo "== live frames through a veth pair, 64-byte frames, generator pinned to CPU $CPU, median (min-max) of $REPS"
echo "backends: $BACKENDS a VIP"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, kernel $(uname -r)"
echo "each case beside its own reflector run (IPIP IPv4 also the floor), order rotated each repetition;" \
	"kernel.bpf_stats_enabled=1 throughout"
: >"$DIR/results"
# What the statistics cost by themselves: the kernel times every program a packet meets (generator,
# l0's, sink). The reflector with dsr4-udp-1's frames, the sysctl off and on, in the order 0 1 1 0.
read -r -a frames <<<"$(case_frames dsr4-udp-1)"
# A kernel that refuses live frames (EPERM, as some sandboxed VMs do) gives no figure: said, and 77.
attach reflector
probe=0
gen "${frames[@]:0:4}" 1 --expect-mac "$GMAC" >/dev/null 2>&1 || probe=$?
detach reflector
if ((probe == 77)); then
	echo "bench-traffic: this kernel refuses BPF_PROG_TEST_RUN's live frames (EPERM): no live-frames figures here" \
		"(bench_prog's walked rows measure the program without them)"
	exit 77
fi
for s in 0 1 1 0; do
	sysctl -qw kernel.bpf_stats_enabled=$s
	attach reflector
	echo "calibration stats$s 0 $(gen "${frames[@]}" --expect-mac "$GMAC")" >>"$DIR/results"
	detach reflector
done
sysctl -qw kernel.bpf_stats_enabled=1
lbd_cases=()
for c in "${CASES[@]}"; do [[ $c == 8m || $c == nft4-* ]] || lbd_cases+=("$c"); done
if ((${#lbd_cases[@]})); then
	lbd_start "$P" 1048576
	for ((r = 0; r < REPS; r++)); do
		for c in "${lbd_cases[@]}"; do
			if [[ $c == ipip4-* ]]; then run_group "$c" "$r" reflector xlb floor
			else run_group "$c" "$r" reflector xlb; fi
		done
	done
	lbd_stop
	rm -rf "/sys/fs/bpf/$P"
fi
if [[ " ${CASES[*]} " == *" nft4-"* ]]; then
	nft_start
	for ((r = 0; r < REPS; r++)); do
		for c in "${CASES[@]}"; do [[ $c != nft4-* ]] || run_group "$c" "$r" reflector nft; done
	done
	nft_stop
fi
if [[ " ${CASES[*]} " == *" 8m "* ]]; then
	lbd_start "$P-8m" 8388608
	for ((r = 0; r < REPS; r++)); do run_group dsr4-udp-64k-8m "$r" reflector xlb; done
	lbd_stop
	rm -rf "/sys/fs/bpf/$P-8m"
fi

# stat CASE ROLE FIELD: "median min max" of FIELD over those runs ("- - -" if none); * for any case or role.
stat() {
	awk -v c="$1" -v r="$2" -v k="$3" '($1 == c || c == "*") && ($2 == r || r == "*") {
		for (i = 4; i < NF; i++) if ($i == k && $(i + 1) ~ /^[0-9.]+$/) print $(i + 1) }' "$DIR/results" |
		sort -g | awk '{ a[NR] = $1 } END {
			if (!NR) { print "- - -"; exit }
			print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2), a[1], a[NR] }'
}
last() {	# CASE ROLE FIELD: FIELD of the last such run
	awk -v c="$1" -v r="$2" -v k="$3" '$1 == c && $2 == r { for (i = 4; i < NF; i++) if ($i == k) v = $(i + 1) }
		END { print v }' "$DIR/results"
}
names=()
for c in "${CASES[@]}"; do [[ $c == 8m ]] && c=dsr4-udp-64k-8m; names+=("$c"); done
role_of() { [[ $1 == nft4-* ]] && echo nft || echo xlb; }

read -r off _ _ <<<"$(stat calibration stats0 mpps)"
read -r on _ _ <<<"$(stat calibration stats1 mpps)"
awk -v a="$off" -v b="$on" 'BEGIN { if (a > 0 && b > 0) printf "kernel.bpf_stats_enabled=1 costs %+.1f ns a packet here" \
	" (reflector %.3f Mpps with it off, %.3f on): in every Mpps figure below, cancelled in the differences\n",
	1000 / b - 1000 / a, a, b }'
echo
echo "Mpps against each case's own reflector runs (medians); added ns = 1e3/case Mpps - 1e3/reflector Mpps"
printf '%-18s %8s %8s %9s %7s %9s %s\n' case Mpps ratio "added ns" wrong lost "spread (per backend)"
read -r m _ _ <<<"$(stat '*' reflector mpps)"
read -r _ _ w <<<"$(stat '*' reflector wrong)"
read -r l _ _ <<<"$(stat '*' reflector lost)"
awk -v m="$m" -v w="$w" -v l="$l" 'BEGIN { printf "%-18s %8.3f %8s %9s %7d %9d %s\n", "reflector", m, "-", "-", w, l,
	"(all its runs; each case is stated against its own)" }'
errors=()
for c in "${names[@]}"; do
	role=$(role_of "$c")
	read -r m _ _ <<<"$(stat "$c" "$role" mpps)"
	read -r rm _ _ <<<"$(stat "$c" reflector mpps)"
	read -r _ _ w <<<"$(stat "$c" "$role" wrong)"
	read -r l _ _ <<<"$(stat "$c" "$role" lost)"
	spread=$(last "$c" "$role" targets)
	verdict=$(awk -v m="$m" -v r="$rm" 'BEGIN {
		if (m == "-" || m <= 0) print "none"; else if (r == "-" || r <= 0) print "norefl"
		else if (m > r) print "faster"; else print "ok" }')
	awk -v c="$c" -v m="$m" -v r="$rm" -v w="$w" -v l="$l" -v s="$spread" -v v="$verdict" 'BEGIN {
		if (v == "ok") printf "%-18s %8.3f %8.2f %+9.1f %7d %9d %s\n", c, m, m / r, 1000 / m - 1000 / r, w, l, s
		else printf "%-18s %8.3f %8s %9s %7d %9d %s\n", c, m, "-", "-", w, l, s }'
	case $verdict in
	faster) errors+=("$c: method error: faster than the reflector ($m against $rm Mpps, medians of $REPS): not a result") ;;
	norefl) errors+=("$c: method error: its reflector runs brought no frame back: not a result") ;;
	none) errors+=("$c: no frame came back") ;;
	esac
done
echo "(wrong: the most in any run; lost: frames the veth dropped on the way, median; spread: the last run)"
for e in "${errors[@]}"; do echo "  $e"; done

range() {	# "median min max" [DECIMALS]: "median (min-max)", or "-"
	awk -v s="$1" -v d="${2:-3}" 'BEGIN { split(s, a); if (a[1] == "-") { print "-"; exit }
		f = "%." d "f"; printf(f " (" f "-" f ")\n", a[1], a[2], a[3]) }'
}
echo
echo "in-program ns per packet: run_time_ns / run_cnt of l0's XDP program over each run, beside that run's Mpps;"
echo "the floor (bpf/floor.bpf.c) is the least an IPv4 IPIP balancer does; medians (min-max)"
printf '  %-16s | %-21s %-19s | %-21s %-19s | %-21s %-19s | %9s %10s\n' case "case Mpps" "case ns" \
	"reflector Mpps" "reflector ns" "floor Mpps" "floor ns" "case-refl" "case-floor"
for c in "${names[@]}"; do
	role=$(role_of "$c")
	cn=$(stat "$c" "$role" prog_ns) rn=$(stat "$c" reflector prog_ns) fn=$(stat "$c" floor prog_ns)
	[[ $role == nft ]] && cn="- - -"	# xdp_pass only hands frames to the stack: nftables' cost is not in it
	fm=$(stat "$c" floor mpps)
	read -r a _ _ <<<"$cn"
	read -r b _ _ <<<"$rn"
	read -r f _ _ <<<"$fn"
	printf '  %-16s | %-21s %-19s | %-21s %-19s | %-21s %-19s | %9s %10s\n' "$c" "$(range "$(stat "$c" "$role" mpps)")" \
		"$(range "$cn" 1)" "$(range "$(stat "$c" reflector mpps)")" "$(range "$rn" 1)" "$(range "$fm")" "$(range "$fn" 1)" \
		"$(awk -v a="$a" -v b="$b" 'BEGIN { print (a == "-" || b == "-") ? "-" : sprintf("%+.1f", a - b) }')" \
		"$(awk -v a="$a" -v f="$f" 'BEGIN { print (a == "-" || f == "-") ? "-" : sprintf("%+.1f", a - f) }')"
	read -r fmm _ _ <<<"$fm"
	read -r rmm _ _ <<<"$(stat "$c" reflector mpps)"
	if awk -v f="$fmm" -v r="$rmm" 'BEGIN { exit !(f != "-" && r != "-" && f > r) }'; then
		echo "    floor for $c: method error: faster than the reflector ($fmm against $rmm Mpps)"
	fi
done
# Every run's sink verdict, not only the cases': a reflector or floor run with frames gone wrong measures nothing.
awk '{ for (i = 4; i < NF; i++) if ($i == "wrong" && $(i + 1) > 0) printf "  %s %s run %d: %s frames wrong\n", $1, $2, $3 + 1, $(i + 1) }' \
	"$DIR/results"
awk '$2 == "xlb" { for (i = 4; i < NF; i++) if ($i == "prog" && $(i + 1) != "xlb_xdp") printf "  %s run %d measured program %s, not xlb_xdp\n", $1, $3 + 1, $(i + 1) }
	$4 == "tables_changed" { printf "  %s run %d: lbd changed its tables during the run: not the steady state\n", $1, $3 + 1 }' \
	"$DIR/results"

# The chart's data: the IPv4 UDP cases, whose flow counts differ and nothing else.
data=$(bench_data_begin "$build" throughput "live-frames throughput (Mpps, median min max of $REPS) against flows, 64-byte IPv4 UDP frames, one core" \
	"series flows mpps mpps_min mpps_max")
for c in "${names[@]}"; do
	case $c in
	dsr4-udp-1 | dsr4-udp-64k | dsr4-udp-1m) series=(xlb_DSR reflector) ;;
	*-ring251) continue ;;	# another ring size, not another flow count
	ipip4-udp-*) series=(xlb_IPIP) ;;
	nft4-udp-*) series=(nftables_DNAT) ;;
	*) continue ;;
	esac
	read -r -a frames <<<"$(case_frames "$c")"
	for s in "${series[@]}"; do
		role=$(role_of "$c")
		[[ $s == reflector ]] && role=reflector
		read -r m lo hi <<<"$(stat "$c" "$role" mpps)"
		[[ $m == - ]] || echo "$s ${frames[3]} $m $lo $hi" >>"$data"
	done
done
bench_data_end "$data"
