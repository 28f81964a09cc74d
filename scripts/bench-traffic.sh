#!/usr/bin/env bash
# Live-frames throughput for BENCHMARKS.md (not a test: nothing is asserted).
# Two namespaces joined by one veth pair: xlbgen in "gen" sends frames out
# of g0 and counts what comes back on g0 with its checking sink; "lb" runs
# on l0 either the trivial XDP_TX reflector (the rig's limit) or xlb,
# configured through lbd and lbctl as an operator would. Backends are
# static neighbours (they never need to answer: DSR and IPIP only
# address them). Reflector and xlb runs alternate; medians of REPS.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
REPS=${BENCH_REPS:-3}
PKTS=${BENCH_PACKETS:-3000000}
CPU=${BENCH_CPU:-0}
P=xb-traffic
DIR=/tmp/xlb-bench-traffic.$$
mkdir -p "$DIR"
G="ip netns exec $P-gen"
# shellcheck source=testbed.sh
source "$(dirname "$0")/testbed.sh"	# tb_pair_up, tb_bpffs_up/down
cleanup() {
	set +e	# a trap must get through every step
	[[ -e $DIR/lbd.pid ]] && kill "$(cat "$DIR/lbd.pid")" 2>/dev/null
	sleep 0.3
	ip netns del $P-gen 2>/dev/null
	ip netns del $P-lb 2>/dev/null
	rm -rf "/sys/fs/bpf/$P" "/sys/fs/bpf/$P-8m" "$DIR"
	set -e
}
tb_bpffs_up
trap 'cleanup; tb_bpffs_down' EXIT
cleanup 2>/dev/null || true
mkdir -p "$DIR"

tb_pair_up $P
ip -n $P-gen addr add 2001:db8::10/64 dev g0 nodad
ip -n $P-lb addr add 2001:db8::2/64 dev l0 nodad
MACS=() ADDR4=() ADDR6=()
for i in 1 2 3; do
	MACS+=("02:00:00:00:01:0$i") ADDR4+=("198.18.0.10$i") ADDR6+=("2001:db8::10$i")
	ip -n $P-lb neigh add "198.18.0.10$i" lladdr "02:00:00:00:01:0$i" dev l0 nud permanent
	ip -n $P-lb neigh add "2001:db8::10$i" lladdr "02:00:00:00:01:0$i" dev l0 nud permanent
done
LMAC=$(cat /sys/class/net/lo/address >/dev/null; ip -n $P-lb link show l0 | awk '/link\/ether/ { print $2 }')
GMAC=$(ip -n $P-gen link show g0 | awk '/link\/ether/ { print $2 }')
join() { local IFS=,; echo "$*"; }

lbd_start() {	# PIN CONN_TABLE_SIZE
	printf 'conn-table-size %s\n' "$2" >"$DIR/lbd.conf"
	nsenter --net=/run/netns/$P-lb "$build/lbd" --foreground --config "$DIR/lbd.conf" --socket "$DIR/lbd.sock" \
		--pin-dir "/sys/fs/bpf/$1" --log-level warn >>"$DIR/lbd.log" 2>&1 &
	echo $! >"$DIR/lbd.pid"
	for ((t = 0; t < 100; t++)); do
		"$build/lbctl" -s "$DIR/lbd.sock" vip list >/dev/null 2>&1 && break
		sleep 0.1
	done
	local c="$build/lbctl -s $DIR/lbd.sock"
	$c attach l0 >/dev/null
	for v in "198.18.1.1:80/udp dsr" "198.18.1.1:80/tcp dsr" "198.18.1.2:80/udp ipip" \
		"[2001:db8:1::1]:80/udp dsr" "[2001:db8:1::2]:80/udp ipip"; do
		$c vip add ${v% *} --forward ${v#* } --check none >/dev/null
		local fam=4
		[[ $v == \[* ]] && fam=6
		for i in 0 1 2; do
			if [[ $fam == 4 ]]; then $c backend add ${v% *} "${ADDR4[$i]}" >/dev/null
			else $c backend add ${v% *} "${ADDR6[$i]}" >/dev/null; fi
		done
	done
	sleep 1
}
lbd_stop() {
	kill "$(cat "$DIR/lbd.pid")"
	while kill -0 "$(cat "$DIR/lbd.pid")" 2>/dev/null; do sleep 0.1; done
	rm -f "$DIR/lbd.pid"
	"$build/lbctl" -s "$DIR/lbd.sock" detach l0 >/dev/null 2>&1 || true
	ip -n $P-lb link set l0 xdp off 2>/dev/null || true
}

gen() {	# SRC DST PROTO FLOWS PACKETS EXPECT...
	$G "$build/xlbgen" --dev g0 --dst-mac "$LMAC" --src "$1" --dst "$2" --dport 80 --proto "$3" --flows "$4" \
		--packets "$5" --cpu "$CPU" "${@:6}"
}
reflector() {
	ip -n $P-lb link set l0 xdp obj "$build/reflector.bpf.o" sec xdp
	gen 198.18.0.10 198.18.1.1 udp 1 "$PKTS" --expect-mac "$GMAC"
	ip -n $P-lb link set l0 xdp off
}
# The balancer a user of this kernel would otherwise set up: nftables DNAT
# (numgen round robin over conntrack), forwarding back out of l0 to the same
# static neighbours. l0 needs an XDP program to take the generator's XDP
# frames at all (TESTBED.md); xdp_pass hands them to the stack. No
# masquerade: the sink never answers, so this is nftables' cheapest form.
nft_start() {
	ip -n $P-lb link set l0 xdp obj "$build/xdp_pass.bpf.o" sec xdp
	# The generator leaves L4 checksums stale; conntrack would call those packets invalid.
	ip netns exec $P-lb sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.l0.send_redirects=0 net.netfilter.nf_conntrack_checksum=0
	ip netns exec $P-lb nft -f - <<NFT
table ip xb_traffic {
    chain pre {
        type nat hook prerouting priority dstnat;
        ip daddr 198.18.1.1 udp dport 80 dnat to numgen inc mod 3 map { 0 : ${ADDR4[0]}, 1 : ${ADDR4[1]}, 2 : ${ADDR4[2]} }
    }
}
NFT
}
nft_stop() {
	ip netns exec $P-lb nft delete table ip xb_traffic
	ip netns exec $P-lb conntrack -F >/dev/null 2>&1 || true
	ip -n $P-lb link set l0 xdp off
}

# case NAME: the xlbgen line for one case against xlb (or nftables: nft4-*).
xlb_case() {
	case $1 in
	dsr4-udp-1) gen 198.18.0.10 198.18.1.1 udp 1 "$PKTS" --expect-mac "$(join "${MACS[@]}")" ;;
	dsr4-udp-64k) gen 198.18.0.10 198.18.1.1 udp 65536 "$PKTS" --expect-mac "$(join "${MACS[@]}")" ;;
	dsr4-udp-1m) gen 198.18.0.10 198.18.1.1 udp 1048576 $((PKTS * 2)) --expect-mac "$(join "${MACS[@]}")" ;;
	dsr4-syn-64k) gen 198.18.0.10 198.18.1.1 syn 65536 "$PKTS" --expect-mac "$(join "${MACS[@]}")" ;;
	dsr4-ack-64k) gen 198.18.0.10 198.18.1.1 ack 65536 "$PKTS" --expect-mac "$(join "${MACS[@]}")" ;;
	ipip4-udp-64k) gen 198.18.0.10 198.18.1.2 udp 65536 "$PKTS" --expect-ipip "$(join "${ADDR4[@]}")" --vip 198.18.1.2 ;;
	dsr6-udp-64k) gen 2001:db8::10 2001:db8:1::1 udp 65536 "$PKTS" --expect-mac "$(join "${MACS[@]}")" ;;
	ipip6-udp-64k) gen 2001:db8::10 2001:db8:1::2 udp 65536 "$PKTS" --expect-ipip "$(join "${ADDR6[@]}")" --vip 2001:db8:1::2 ;;
	nft4-udp-1) gen 198.18.0.10 198.18.1.1 udp 1 $((PKTS / 4)) --expect-mac "$(join "${MACS[@]}")" ;;
	nft4-udp-64k) gen 198.18.0.10 198.18.1.1 udp 65536 $((PKTS / 4)) --expect-mac "$(join "${MACS[@]}")" ;;
	esac
}
CASES=(dsr4-udp-1 dsr4-udp-64k dsr4-udp-1m dsr4-syn-64k dsr4-ack-64k ipip4-udp-64k dsr6-udp-64k ipip6-udp-64k)
# BENCH_CASES="dsr4-udp-1 dsr4-ack-64k" runs a subset (the 8M table as 8m, nftables as nft4-udp-1 and nft4-udp-64k).
read -r -a CASES <<<"${BENCH_CASES:-${CASES[*]} 8m nft4-udp-1 nft4-udp-64k}"

field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : 0) }'; }

echo "== live frames through a veth pair, 64-byte frames, generator pinned to CPU $CPU, median of $REPS"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, kernel $(uname -r)"
: >"$DIR/results"
for ((r = 0; r < REPS; r++)); do
	echo "reflector $(reflector)" >>"$DIR/results"
	lbd_start "$P" 1048576
	for c in "${CASES[@]}"; do [[ $c == 8m || $c == nft4-* ]] || echo "$c $(xlb_case "$c")" >>"$DIR/results"; done
	lbd_stop
	rm -rf "/sys/fs/bpf/$P"
	if [[ " ${CASES[*]} " == *" nft4-"* ]]; then
		nft_start
		for c in "${CASES[@]}"; do [[ $c != nft4-* ]] || echo "$c $(xlb_case "$c")" >>"$DIR/results"; done
		nft_stop
	fi
	[[ " ${CASES[*]} " == *" 8m "* ]] || continue
	lbd_start "$P-8m" 8388608
	echo "dsr4-udp-64k-8m $(xlb_case dsr4-udp-64k)" >>"$DIR/results"
	lbd_stop
	rm -rf "/sys/fs/bpf/$P-8m"
done
refl=$(grep '^reflector ' "$DIR/results" | field mpps | median)
printf '%-18s %8s %8s %9s %7s %9s %s\n' case Mpps ratio "added ns" wrong lost "spread (per backend)"
printf '%-18s %8s %8s %9s %7s %9s\n' reflector "$refl" 1.00 0 \
	"$(grep '^reflector ' "$DIR/results" | field wrong | median)" "$(grep '^reflector ' "$DIR/results" | field lost | median)"
for c in "${CASES[@]}"; do
	[[ $c == 8m ]] && c=dsr4-udp-64k-8m
	m=$(grep "^$c " "$DIR/results" | field mpps | median)
	w=$(grep "^$c " "$DIR/results" | field wrong | sort -n | tail -1)
	l=$(grep "^$c " "$DIR/results" | field lost | median)
	spread=$(grep "^$c " "$DIR/results" | tail -1 | field targets)
	awk -v c="$c" -v m="$m" -v r="$refl" -v w="$w" -v l="$l" -v s="$spread" 'BEGIN {
		printf "%-18s %8.3f %8.2f %+9.1f %7d %9d %s\n", c, m, m / r, (m > 0 ? 1000 / m - 1000 / r : 0), w, l, s }'
done
echo "(wrong: the most in any run; lost: frames the veth dropped on the way, median)"
