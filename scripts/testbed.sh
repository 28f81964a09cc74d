#!/usr/bin/env bash
# The xlb test bed: clients, a balancer and backends in network namespaces
# on one bridge. Source it for the tb_* functions, or run it:
#   scripts/testbed.sh up PREFIX [BACKENDS]   build it and start lbd
#   scripts/testbed.sh down PREFIX            stop lbd, remove everything
#
# Address plan (RFC 2544 and documentation ranges only): one /24 and one /64 on the bridge
#   client  PREFIX-cli   198.18.0.10    2001:db8::10
#   lb      PREFIX-lb    198.18.0.2     2001:db8::2      (lbd, XDP on eth0)
#   backend PREFIX-beN   198.18.0.10N   2001:db8::10N    (VIPs on lo, decap XDP)
#   VIPs                 198.18.1.1     2001:db8:1::1    (routed via the lb)
# No default routes: nothing leaves the machine.
#
# The veth traps are handled here: the bridge-side peer of the lb's veth
# runs an XDP_PASS program (else XDP_TX frames are dropped), and clients
# send with transmit checksum offload off (else XDP strips the
# checksum-partial mark and the SYN arrives with a bad checksum).

TB_BUILD=${TB_BUILD:-build}
TB_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_VIP4=198.18.1.1
TB_VIP6=2001:db8:1::1
TB_LB4=198.18.0.2
TB_LB6=2001:db8::2
TB_CLI4=198.18.0.10
TB_CLI6=2001:db8::10

tb_log() { [[ -n ${TB_QUIET:-} ]] || echo "testbed: $*" >&2; }

tb_ns() { ip netns exec "$@"; }

# A namespace's port on the bridge: veth eth0 inside, PREFIX-sw/NAME outside.
tb_port() {
	local p=$1 ns=$2 side=$3
	ip -n "$p-sw" link add "$side" type veth peer name eth0 netns "$ns"
	ip -n "$p-sw" link set "$side" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
}

tb_addr() {
	local ns=$1 v4=$2 v6=$3
	ip -n "$ns" addr add "$v4/24" dev eth0
	ip -n "$ns" addr add "$v6/64" dev eth0 nodad
}

# tb_backend_addr N FAMILY: the address of backend N (1-based).
tb_backend_addr() {
	if [[ $2 == 6 ]]; then echo "2001:db8::10$1"; else echo "198.18.0.10$1"; fi
}

tb_up() {
	local p=$1 n=${2:-3} dir
	dir=$(tb_dir "$p")
	mkdir -p "$dir"
	ip netns add "$p-sw"
	ip -n "$p-sw" link add br0 type bridge
	ip -n "$p-sw" link set br0 up
	ip -n "$p-sw" link set lo up

	ip netns add "$p-cli"
	tb_port "$p" "$p-cli" cli
	tb_addr "$p-cli" $TB_CLI4 $TB_CLI6
	ip -n "$p-cli" route add $TB_VIP4/32 via $TB_LB4
	ip -n "$p-cli" -6 route add $TB_VIP6/128 via $TB_LB6
	tb_ns "$p-cli" ethtool -K eth0 tx off >/dev/null

	ip netns add "$p-lb"
	tb_port "$p" "$p-lb" lb
	tb_addr "$p-lb" $TB_LB4 $TB_LB6
	ip -n "$p-sw" link set lb xdp obj "$TB_BUILD/xdp_pass.bpf.o" sec xdp

	local i
	for ((i = 1; i <= n; i++)); do
		tb_backend_up "$p" "$i"
	done
	tb_log "$p: client, lb and $n backends up"
}

tb_backend_up() {
	local p=$1 i=$2 ns="$1-be$2"
	ip netns add "$ns"
	tb_port "$p" "$ns" "be$i"
	tb_addr "$ns" "$(tb_backend_addr "$i" 4)" "$(tb_backend_addr "$i" 6)"
	ip -n "$ns" addr add $TB_VIP4/32 dev lo
	ip -n "$ns" addr add $TB_VIP6/128 dev lo nodad
	# The VIP is on lo: never answer ARP for it, never source ARP from it.
	tb_ns "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	# The decapsulated packet arrives on eth0 for an address on lo.
	tb_ns "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
	tb_ns "$ns" ethtool -K eth0 tx off >/dev/null
	ip -n "$ns" link set eth0 xdp obj "$TB_BUILD/decap.bpf.o" sec xdp
	tb_server_start "$p" "$i"
}

# The backend's server (python, answering with its name); stop it to kill the service only.
tb_server_start() {
	local p=$1 i=$2 dir
	dir=$(tb_dir "$p")
	ip netns exec "$p-be$i" python3 "$TB_SCRIPTS/xlb-backend.py" --name "be$i" \
		--udp $TB_VIP4 --udp $TB_VIP6 --udp "$(tb_backend_addr "$i" 4)" --udp "$(tb_backend_addr "$i" 6)" \
		--health-file "$dir/be$i.health" >>"$dir/be$i.log" 2>&1 &
	echo $! >"$dir/be$i.pid"
}

tb_server_stop() {
	local f
	f="$(tb_dir "$1")/be$2.pid"
	[[ -e $f ]] || return 0
	kill "$(cat "$f")" 2>/dev/null || true
	rm -f "$f"
}

# tb_health PREFIX N MODE: what be N's /health answers: 200 (default), 503, hang, flap.
tb_health() { echo "$3" >"$(tb_dir "$1")/be$2.health"; }

tb_dir() { echo "${TB_DIR:-/tmp/xlb-tb}/$1"; }

# lbd pins its maps on bpffs. A run that finds it unmounted mounts it, and
# unmounts it when done (the kernel's maps.debug and progs.debug go with it).
TB_BPFFS_MOUNTED=0
# tb_pair_up PREFIX: the benchmarks' rig, two namespaces joined by one veth
# pair: PREFIX-gen's g0 (198.18.0.10) and PREFIX-lb's l0 (198.18.0.2).
tb_pair_up() {
	local p=$1 x
	ip netns add "$p-gen"
	ip netns add "$p-lb"
	ip -n "$p-gen" link add g0 type veth peer name l0 netns "$p-lb"
	for x in gen:g0 lb:l0; do
		ip -n "$p-${x%:*}" link set lo up
		ip -n "$p-${x%:*}" link set "${x#*:}" up
	done
	ip -n "$p-gen" addr add 198.18.0.10/24 dev g0
	ip -n "$p-lb" addr add 198.18.0.2/24 dev l0
}

tb_bpffs_up() {
	mountpoint -q /sys/fs/bpf && return 0
	mount -t bpf bpf /sys/fs/bpf && TB_BPFFS_MOUNTED=1
}
tb_bpffs_down() {
	# The lock directory libxdp made when lbd still attached through it; gone once empty.
	rmdir /sys/fs/bpf/xdp 2>/dev/null || true
	if ((TB_BPFFS_MOUNTED)); then
		umount /sys/fs/bpf && TB_BPFFS_MOUNTED=0
	fi
	return 0
}

# The end of a bench of P (tb_pair_up's namespaces): its lbd (DIR/lbd.pid), the namespaces, its pins, DIR.
tb_bench_down() {
	local p=$1 dir=$2
	[[ -e $dir/lbd.pid ]] && kill "$(cat "$dir/lbd.pid")" 2>/dev/null
	sleep 0.3
	ip netns del "$p-gen" 2>/dev/null
	ip netns del "$p-lb" 2>/dev/null
	rm -rf "/sys/fs/bpf/$p" "$dir"
	return 0
}

# The balancer a tb_lbd_* or tb_lbctl call is about: TB_LB=lb2 for a second one.
tb_lb() { echo "${TB_LB:-lb}"; }
tb_lbd_base() { local lb; lb=$(tb_lb); [[ $lb == lb ]] && echo lbd || echo "lbd-$lb"; }
tb_pin_dir() { local lb; lb=$(tb_lb); [[ $lb == lb ]] && echo "/sys/fs/bpf/$1" || echo "/sys/fs/bpf/$1-$lb"; }

# tb_lb_up PREFIX NAME ADDR4 ADDR6: another balancer namespace on the bridge.
tb_lb_up() {
	local p=$1 name=$2
	ip netns add "$p-$name"
	tb_port "$p" "$p-$name" "$name"
	tb_addr "$p-$name" "$3" "$4"
	ip -n "$p-sw" link set "$name" xdp obj "$TB_BUILD/xdp_pass.bpf.o" sec xdp
}

# tb_lbd_start PREFIX [lbd args...]: lbd in the lb namespace, host mounts kept
# (nsenter, not ip netns exec, so its bpffs pins outlive it).
tb_lbd_start() {
	local p=$1 dir base lb
	shift
	dir=$(tb_dir "$p")
	base=$dir/$(tb_lbd_base)
	lb=$(tb_lb)
	[[ -e $base.conf ]] || : >"$base.conf"
	# TB_LBD_WRAP: a command lbd runs under (e.g. setpriv with the unit's capabilities).
	# shellcheck disable=SC2086 # the wrapper is words on purpose
	nsenter --net="/run/netns/$p-$lb" ${TB_LBD_WRAP:-} "$TB_BUILD/lbd" --foreground --config "$base.conf" \
		--socket "$base.sock" --pin-dir "$(tb_pin_dir "$p")" --log-level info "$@" \
		>>"$base.log" 2>&1 &
	echo $! >"$base.pid"
	disown $!	# tests kill it on purpose: no "Killed" notice from the shell
	local t
	for ((t = 0; t < 100; t++)); do
		[[ -S $base.sock ]] && tb_lbctl "$p" vip list >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$base.pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "testbed: lbd did not come up; its log:" >&2
	cat "$base.log" >&2
	return 1
}

# Stops lbd the way an operator's restart does (SIGTERM): XDP stays attached.
# TB_SIGNAL=KILL kills it instead, as a crash would.
tb_lbd_stop() {
	local base pid t
	base=$(tb_dir "$1")/$(tb_lbd_base)
	[[ -e $base.pid ]] || return 0
	pid=$(cat "$base.pid")
	kill -"${TB_SIGNAL:-TERM}" "$pid" 2>/dev/null || true
	for ((t = 0; t < 50; t++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$base.pid"
}

tb_lbctl() {
	local p=$1
	shift
	"$TB_BUILD/lbctl" -s "$(tb_dir "$p")/$(tb_lbd_base).sock" "$@"
}

# tb_curl PREFIX URL-HOST [curl args]: one request from the client; prints the body.
tb_curl() {
	local p=$1 host=$2
	shift 2
	tb_ns "$p-cli" curl -sS -g --max-time 5 "$@" "http://$host/"
}

tb_wait_http() {
	local p=$1 i=$2 t
	for ((t = 0; t < 50; t++)); do
		tb_ns "$p-be$i" curl -s -o /dev/null --max-time 1 "http://127.0.0.1/" && return 0
		sleep 0.1
	done
	return 1
}

tb_down() {
	local p=$1 dir f
	dir=$(tb_dir "$p")
	for f in "$dir"/lbd*.pid; do
		[[ -e $f ]] || continue
		f=$(basename "$f" .pid)
		if [[ $f == lbd ]]; then TB_LB=lb tb_lbd_stop "$p"; else TB_LB=${f#lbd-} tb_lbd_stop "$p"; fi
	done
	for f in "$dir"/*.pid; do
		[[ -e $f ]] || continue
		kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep -E "^$p-(sw|cli|lb[0-9]*|be[0-9]+|ka[0-9]*)$"); do
		ip netns del "$ns"
	done
	rm -rf "/sys/fs/bpf/$p" "/sys/fs/bpf/$p"-lb*
	rm -rf "$dir"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	case ${1:-} in
	up) tb_up "$2" "${3:-3}" && tb_lbd_start "$2" ;;
	down) tb_down "$2" ;;
	*) echo "usage: $0 up PREFIX [BACKENDS] | down PREFIX" >&2; exit 2 ;;
	esac
fi
