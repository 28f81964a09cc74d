#!/usr/bin/env bash
# Kernel pktgen for real hardware (this test bed's kernel has no pktgen:
# use build/xlbgen there). Sends 64-byte UDP frames toward an xlb VIP from
# a traffic host whose NIC is cabled to the balancer, over FLOWS source
# ports, one pktgen thread per queue.
#
#   scripts/hw/pktgen.sh DEV DST_MAC VIP [COUNT] [THREADS] [FLOWS]
#   e.g. scripts/hw/pktgen.sh enp1s0f0 02:00:00:00:00:fe 198.18.1.1 100000000 4 65536
#
# Needs CONFIG_NET_PKTGEN (modprobe pktgen). Results: /proc/net/pktgen/DEV@N.
set -euo pipefail

dev=${1:?usage: $0 DEV DST_MAC VIP [COUNT] [THREADS] [FLOWS]}
dst_mac=${2:?destination MAC: the balancer NIC}
vip=${3:?the VIP to load}
count=${4:-100000000}
threads=${5:-1}
flows=${6:-65536}
src=${SRC:-198.18.0.10}
dport=${DPORT:-80}

pg() {	# FILE COMMAND: one pktgen command, checked
	echo "$2" >"$1"
	if ! grep -q "Result: OK" "$1"; then
		echo "pktgen: '$2' on $1 failed: $(grep Result "$1")" >&2
		exit 1
	fi
}

[[ -d /proc/net/pktgen ]] || modprobe pktgen
for ((t = 0; t < threads; t++)); do
	pg "/proc/net/pktgen/kpktgend_$t" "rem_device_all"
	pg "/proc/net/pktgen/kpktgend_$t" "add_device $dev@$t"
	f="/proc/net/pktgen/$dev@$t"
	pg "$f" "count $((count / threads))"
	pg "$f" "clone_skb 0"
	pg "$f" "pkt_size 60"
	pg "$f" "delay 0"
	pg "$f" "queue_map_min $t"
	pg "$f" "queue_map_max $t"
	pg "$f" "dst_mac $dst_mac"
	pg "$f" "src_min $src"
	pg "$f" "src_max $src"
	pg "$f" "dst $vip"
	pg "$f" "udp_dst_min $dport"
	pg "$f" "udp_dst_max $dport"
	# Each thread its own slice of source ports: FLOWS distinct flows in all.
	lo=$((1024 + t * flows / threads))
	pg "$f" "udp_src_min $lo"
	pg "$f" "udp_src_max $((lo + flows / threads - 1))"
	pg "$f" "flag UDPSRC_RND"
	pg "$f" "burst 32"
done
echo "pktgen: $threads threads on $dev -> $vip:$dport, $flows flows, $count packets"
echo start >/proc/net/pktgen/pgctrl
for ((t = 0; t < threads; t++)); do
	grep -E "pps|Result" "/proc/net/pktgen/$dev@$t"
done
