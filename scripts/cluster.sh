#!/usr/bin/env bash
# The cluster test bed: two or three xlb nodes that announce the VIPs by BGP
# (a BIRD 2 each) to a router, which spreads the client's flows over them by
# ECMP. Source it after scripts/testbed.sh for the cl_* functions (the tb_*
# helpers do the namespaces, backends and lbd: TB_LB=lb2 tb_lbd_start ...),
# or run it:
#   scripts/cluster.sh up PREFIX [NODES] [BACKENDS]   build it, start the BIRDs (not lbd)
#   scripts/cluster.sh down PREFIX                    remove everything
#
#          PREFIX-cli 198.18.2.10  2001:db8:2::10  (eth0, tx checksum offload off)
#              |      routes to the VIPs only, via the router
#          PREFIX-rt  198.18.2.1   2001:db8:2::1   (eth1)   AS 65000, BIRD, ECMP
#              |      198.18.0.1   2001:db8::1     (eth0)
#   ---------- PREFIX-sw/br0: 198.18.0.0/24, 2001:db8::/64 ----------
#     |                  |                      |
#   PREFIX-lb  .2 ::2  AS 65001       PREFIX-beN  198.18.0.10N 2001:db8::10N
#   PREFIX-lb2 .3 ::3  AS 65002       (VIPs 198.18.1.1, 2001:db8:1::1 on lo,
#   PREFIX-lb3 .4 ::4  AS 65003        routes to the client's net via the router)
#
# Each node's BIRD includes the node's announcements file (cl_node_include:
# what lbd writes) and exports to the router only the routes of the
# protocols named xlb4 (ipv4) and xlb6 (ipv6); it imports nothing. The
# router imports everything, exports nothing, and its kernel protocols merge
# equal BGP paths into one multipath route. IPv4 prefixes ride IPv4 sessions,
# IPv6 prefixes IPv6 sessions.
#
# BGP timers are cut for tests: hold time 3 s, keepalive 1 s, connect delay
# and retry 1 s, error wait 1-2 s (BIRD's default waits 60 s after a session
# error before it tries again: a restarted peer would stay down for a minute).
# Graceful restart is off: with it the router would keep a dead node's
# routes (stale) for up to 120 s, which is what these tests must not see.
# CL_BFD=1, set when the configurations are written (cl_up, or
# cl_router_conf and cl_node_conf then `cl_birdc ... configure`), adds BFD
# to every session at both ends: 100 ms x 3, so a dead peer is down in
# ~300 ms instead of the hold time. Unset, there is no BFD.
#
# The files of a node or the router (NAME = rt, lb, lb2, lb3) are in tb_dir:
#   bird-NAME.conf  bird-NAME.ctl (control socket)  bird-NAME.pid  bird-NAME.log
#   bird-NAME.include (nodes only: the announcements file, empty at first)

CL_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! declare -F tb_backend_up >/dev/null; then
	# shellcheck source=testbed.sh
	source "$CL_SCRIPTS/testbed.sh"
fi
CL_RT4=198.18.0.1
CL_RT6=2001:db8::1
CL_CLI4=198.18.2.10
CL_CLI6=2001:db8:2::10
CL_CLINET4=198.18.2.0/24
CL_CLINET6=2001:db8:2::/64
CL_AS_RT=65000
# Client flows from these source ports take the node cl_pin chose, whatever BGP says.
CL_PIN_PORTS=40000-40999

# cl_node_name I: the name of node I (1-based): lb, lb2, lb3.
cl_node_name() { if (($1 == 1)); then echo lb; else echo "lb$1"; fi; }
# cl_node_idx NAME: the inverse.
cl_node_idx() { if [[ $1 == lb ]]; then echo 1; else echo "${1#lb}"; fi; }
# cl_node_addr NAME 4|6: the node's address on the bridge.
cl_node_addr() {
	local i
	i=$(cl_node_idx "$1")
	if [[ $2 == 6 ]]; then echo "2001:db8::$((i + 1))"; else echo "198.18.0.$((i + 1))"; fi
}
cl_node_as() { echo $((65000 + $(cl_node_idx "$1"))); }
# cl_nodes PREFIX: the nodes cl_up made, one a line.
cl_nodes() { cat "$(tb_dir "$1")/cl.nodes" 2>/dev/null; }

cl_bird_file() { echo "$(tb_dir "$1")/bird-$2.$3"; }
# cl_node_include PREFIX NODE: the announcements file the node's bird.conf includes.
cl_node_include() { cl_bird_file "$1" "$2" include; }
cl_bird_sock() { cl_bird_file "$1" "$2" ctl; }
# cl_birdc PREFIX NAME CMD...: birdc against the router's (rt) or a node's BIRD.
cl_birdc() {
	local p=$1 n=$2
	shift 2
	birdc -s "$(cl_bird_sock "$p" "$n")" "$@"
}

# The BGP settings both ends share; see the header for why each is there.
cl_bgp_timers() {
	cat <<-EOF
		hold time 3;
		startup hold time 3;
		keepalive time 1;
		connect delay time 1;
		connect retry time 1;
		error wait time 1, 2;
		graceful restart off;
	EOF
	if [[ ${CL_BFD:-0} == 1 ]]; then echo "bfd on;"; fi
}

# cl_bfd_proto: the BFD protocol both ends run with CL_BFD=1; nothing without.
cl_bfd_proto() {
	if [[ ${CL_BFD:-0} == 1 ]]; then
		echo 'protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }'
	fi
}

cl_router_conf() {
	local p=$1 n f
	f=$(cl_bird_file "$p" rt conf)
	{
		echo "log \"$(cl_bird_file "$p" rt log)\" all;"
		echo "router id $CL_RT4;"
		echo "protocol device { scan time 10; }"
		echo "protocol kernel kernel4 { ipv4 { import none; export all; }; merge paths yes; }"
		echo "protocol kernel kernel6 { ipv6 { import none; export all; }; merge paths yes; }"
		cl_bfd_proto
		echo "template bgp node4 {"
		echo "	local $CL_RT4 as $CL_AS_RT;"
		cl_bgp_timers | sed 's/^/\t/'
		echo "	ipv4 { import all; export none; };"
		echo "}"
		echo "template bgp node6 {"
		echo "	local $CL_RT6 as $CL_AS_RT;"
		cl_bgp_timers | sed 's/^/\t/'
		echo "	ipv6 { import all; export none; };"
		echo "}"
		for n in $(cl_nodes "$p"); do
			echo "protocol bgp ${n}_4 from node4 { neighbor $(cl_node_addr "$n" 4) as $(cl_node_as "$n"); }"
			echo "protocol bgp ${n}_6 from node6 { neighbor $(cl_node_addr "$n" 6) as $(cl_node_as "$n"); }"
		done
	} >"$f"
}

cl_node_conf() {
	local p=$1 n=$2 f
	f=$(cl_bird_file "$p" "$n" conf)
	{
		echo "log \"$(cl_bird_file "$p" "$n" log)\" all;"
		echo "router id $(cl_node_addr "$n" 4);"
		echo "protocol device { scan time 10; }"
		echo "# The VIPs lbd announces: protocols xlb4 and xlb6, rewritten by lbd."
		echo "include \"$(cl_node_include "$p" "$n")\";"
		cl_bfd_proto
		echo "protocol bgp rt4 {"
		echo "	local $(cl_node_addr "$n" 4) as $(cl_node_as "$n");"
		echo "	neighbor $CL_RT4 as $CL_AS_RT;"
		cl_bgp_timers | sed 's/^/\t/'
		echo "	ipv4 { import none; export where proto = \"xlb4\"; };"
		echo "}"
		echo "protocol bgp rt6 {"
		echo "	local $(cl_node_addr "$n" 6) as $(cl_node_as "$n");"
		echo "	neighbor $CL_RT6 as $CL_AS_RT;"
		cl_bgp_timers | sed 's/^/\t/'
		echo "	ipv6 { import none; export where proto = \"xlb6\"; };"
		echo "}"
	} >"$f"
	[[ -e $(cl_node_include "$p" "$n") ]] || : >"$(cl_node_include "$p" "$n")"
}

# cl_alive PID: the process runs (a zombie, whose parent is gone, does not count).
cl_alive() {
	local s
	kill -0 "$1" 2>/dev/null || return 1
	s=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[[ -n $s && $s != Z ]]
}

# cl_wait_gone STEPS PID...: waits until the PIDs have ended, at most STEPS
# times 0.1 s; prints those still running then, one a line.
cl_wait_gone() {
	local steps=$1 t pid pids left
	shift
	pids=("$@")
	for ((t = 0; t < steps && ${#pids[@]}; t++)); do
		left=()
		for pid in "${pids[@]}"; do cl_alive "$pid" && left+=("$pid"); done
		pids=("${left[@]}")
		((${#pids[@]})) && sleep 0.1
	done
	if ((${#pids[@]})); then printf '%s\n' "${pids[@]}"; fi
	return 0
}

# cl_bird_start PREFIX NAME: BIRD in PREFIX-NAME (rt or a node) with its
# bird.conf; returns once it answers on its control socket (at most 5 s).
cl_bird_start() {
	local p=$1 n=$2 pidf sock t
	pidf=$(cl_bird_file "$p" "$n" pid)
	sock=$(cl_bird_sock "$p" "$n")
	rm -f "$pidf" "$sock"
	# In the foreground, as a child of this shell: it is reaped when it ends.
	ip netns exec "$p-$n" bird -f -c "$(cl_bird_file "$p" "$n" conf)" -s "$sock" -P "$pidf" \
		>>"$(cl_bird_file "$p" "$n" log)" 2>&1 &
	disown $!
	for ((t = 0; t < 50; t++)); do
		[[ -S $sock && -s $pidf ]] && birdc -s "$sock" show status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "cluster: BIRD in $p-$n did not come up; its log:" >&2
	tail -n 20 "$(cl_bird_file "$p" "$n" log)" >&2
	return 1
}

# cl_bird_stop PREFIX NAME: SIGTERM (BIRD closes its sessions with a Cease),
# SIGKILL after 3 s. CL_SIGNAL=KILL kills it at once, as a crash would.
cl_bird_stop() {
	local p=$1 n=$2 pidf pid t
	pidf=$(cl_bird_file "$p" "$n" pid)
	[[ -s $pidf ]] || return 0
	pid=$(cat "$pidf")
	kill -"${CL_SIGNAL:-TERM}" "$pid" 2>/dev/null || true
	for ((t = 0; t < 30; t++)); do
		cl_alive "$pid" || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidf" "$(cl_bird_sock "$p" "$n")"
}

# cl_up PREFIX NODES BACKENDS: the bed above with NODES xlb nodes (1-3) and
# BACKENDS backends (1-9), every BIRD started; lbd is not.
cl_up() {
	local p=$1 nn=${2:-2} nb=${3:-3} dir i n
	dir=$(tb_dir "$p")
	if ((nn < 1 || nn > 3 || nb < 1 || nb > 9)); then
		echo "cluster: 1-3 nodes and 1-9 backends, not $nn and $nb" >&2
		return 1
	fi
	mkdir -p "$dir" || return 1
	: >"$dir/cl.nodes"
	for ((i = 1; i <= nn; i++)); do cl_node_name "$i" >>"$dir/cl.nodes"; done
	ip netns add "$p-sw" || return 1
	ip -n "$p-sw" link add br0 type bridge
	ip -n "$p-sw" link set br0 up
	ip -n "$p-sw" link set lo up

	for n in $(cl_nodes "$p"); do
		tb_lb_up "$p" "$n" "$(cl_node_addr "$n" 4)" "$(cl_node_addr "$n" 6)" || return 1
	done

	ip netns add "$p-rt"
	tb_port "$p" "$p-rt" rt
	tb_addr "$p-rt" $CL_RT4 $CL_RT6
	ip netns add "$p-cli"
	ip -n "$p-rt" link add eth1 type veth peer name eth0 netns "$p-cli"
	ip -n "$p-rt" link set eth1 up
	ip -n "$p-rt" addr add 198.18.2.1/24 dev eth1
	ip -n "$p-rt" addr add 2001:db8:2::1/64 dev eth1 nodad
	# rp_filter off: the backends' answers come from the VIP, for which the
	# router may have no route at all between a withdrawal and the next
	# announcement; strict mode would drop them.
	tb_ns "$p-rt" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0 || return 1

	ip -n "$p-cli" link set lo up
	ip -n "$p-cli" link set eth0 up
	ip -n "$p-cli" addr add $CL_CLI4/24 dev eth0
	ip -n "$p-cli" addr add $CL_CLI6/64 dev eth0 nodad
	ip -n "$p-cli" route add $TB_VIP4/32 via 198.18.2.1
	ip -n "$p-cli" -6 route add $TB_VIP6/128 via 2001:db8:2::1
	tb_ns "$p-cli" ethtool -K eth0 tx off >/dev/null
	# Only cl_pin's flows may come from its ports (the range covers IPv6 too).
	tb_ns "$p-cli" sysctl -qw net.ipv4.ip_local_port_range="41000 60999"

	for ((i = 1; i <= nb; i++)); do
		tb_backend_up "$p" "$i" || return 1
		# DSR: the backend answers the client itself, through the router.
		ip -n "$p-be$i" route add $CL_CLINET4 via $CL_RT4
		ip -n "$p-be$i" -6 route add $CL_CLINET6 via $CL_RT6
	done

	cl_router_conf "$p"
	cl_bird_start "$p" rt || return 1
	for n in $(cl_nodes "$p"); do
		cl_node_conf "$p" "$n"
		cl_bird_start "$p" "$n" || return 1
	done
	tb_log "$p: router, client, $nn nodes (BIRD running$([[ ${CL_BFD:-0} == 1 ]] && echo ", BFD on"), no lbd) and $nb backends up"
}

# cl_sessions_up PREFIX [SECS]: every BGP session of the router is
# Established within SECS (default 15); prints the ones that are not, if not.
cl_sessions_up() {
	local p=$1 end=$((SECONDS + ${2:-15})) down
	while :; do
		down=$(cl_birdc "$p" rt show protocols 2>/dev/null | awk '$2 == "BGP" && $6 != "Established" { print $1 }')
		[[ -z $down ]] && cl_birdc "$p" rt show protocols >/dev/null 2>&1 && return 0
		((SECONDS < end)) || break
		sleep 0.2
	done
	echo "cluster: BGP sessions not established: $down" >&2
	return 1
}

# cl_router_nexthops PREFIX VIP: the next hops of the router's kernel route
# to VIP (an address, v4 or v6), one a line, sorted; nothing when it has none.
cl_router_nexthops() {
	local p=$1 vip=$2 fam=-4
	[[ $vip == *:* ]] && fam=-6
	ip -n "$p-rt" "$fam" route show "$vip" 2>/dev/null |
		awk '{ for (i = 1; i < NF; i++) if ($i == "via") print $(i + 1) }' | sort
}

# cl_router_nodes PREFIX VIP: the same next hops as node names, sorted, on
# one line ("lb lb2"); a next hop that is no node's address shows as itself.
# An IPv6 next hop may be a node's link-local address: that maps too.
cl_router_nodes() {
	local p=$1 vip=$2 hop n name out=()
	for hop in $(cl_router_nexthops "$p" "$vip"); do
		name=$hop
		for n in $(cl_nodes "$p"); do
			if [[ $hop == "$(cl_node_addr "$n" 4)" || $hop == "$(cl_node_addr "$n" 6)" ]] ||
				{ [[ $hop == fe80:* ]] && ip -n "$p-$n" -6 addr show dev eth0 scope link | grep -q "inet6 $hop/"; }; then
				name=$n
				break
			fi
		done
		out+=("$name")
	done
	printf '%s\n' "${out[@]}" | sort | paste -sd' '
}

# cl_pin PREFIX NODE: the router sends the client's TCP flows from source
# ports 40000-40999 (curl --local-port 40000-40999) to NODE, whatever BGP
# says: a way to reach a node the routes leave out. cl_unpin PREFIX undoes it.
cl_pin() {
	local p=$1 n=$2
	cl_unpin "$p"
	ip -n "$p-rt" route add $TB_VIP4/32 via "$(cl_node_addr "$n" 4)" table 100
	ip -n "$p-rt" -6 route add $TB_VIP6/128 via "$(cl_node_addr "$n" 6)" table 100
	ip -n "$p-rt" rule add pref 100 iif eth1 ipproto tcp sport $CL_PIN_PORTS lookup 100
	ip -n "$p-rt" -6 rule add pref 100 iif eth1 ipproto tcp sport $CL_PIN_PORTS lookup 100
}
cl_unpin() {
	ip -n "$1-rt" rule del pref 100 2>/dev/null || true
	ip -n "$1-rt" -6 rule del pref 100 2>/dev/null || true
	ip -n "$1-rt" route flush table 100 2>/dev/null || true
	ip -n "$1-rt" -6 route flush table 100 2>/dev/null || true
}

# cl_lbctl PREFIX NODE ARGS...: lbctl against NODE's lbd.
cl_lbctl() {
	local p=$1 n=$2
	shift 2
	TB_LB=$n tb_lbctl "$p" "$@"
}

# etcd for the cluster tests: one member in PREFIX-rt, clients on the
# router's bridge address (CL_ETCD), its peer port on the router's loopback.
# Its files in tb_dir: etcd.data/ (kept across a stop and start), etcd.pid,
# etcd.log. cl_down ends it with the other processes of the namespaces.
CL_ETCD=http://$CL_RT4:2379

# cl_etcdctl PREFIX ARGS...: etcdctl against it, from the router's namespace.
cl_etcdctl() {
	local p=$1
	shift
	ip netns exec "$p-rt" etcdctl --endpoints "$CL_ETCD" --command-timeout 3s "$@"
}

# cl_etcd_start PREFIX: etcd started (again, on the same data, after a
# stop); returns once it says it is healthy (at most 15 s).
cl_etcd_start() {
	local p=$1 dir t
	dir=$(tb_dir "$p")
	# ip netns exec execs etcd: $! is etcd's own PID.
	ip netns exec "$p-rt" etcd --name xe-cl --data-dir "$dir/etcd.data" \
		--listen-client-urls "$CL_ETCD" --advertise-client-urls "$CL_ETCD" \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster xe-cl=http://127.0.0.1:2380 >>"$dir/etcd.log" 2>&1 &
	echo $! >"$dir/etcd.pid"
	disown $!
	for ((t = 0; t < 75; t++)); do
		cl_etcdctl "$p" endpoint health >/dev/null 2>&1 && return 0
		cl_alive "$(cat "$dir/etcd.pid")" || break
		sleep 0.2
	done
	echo "cluster: etcd in $p-rt did not come up; its log:" >&2
	tail -n 20 "$dir/etcd.log" >&2
	return 1
}

# cl_etcd_stop PREFIX: SIGTERM, SIGKILL after 3 s (CL_SIGNAL=KILL at once).
cl_etcd_stop() {
	local f pid
	f=$(tb_dir "$1")/etcd.pid
	[[ -s $f ]] || return 0
	pid=$(cat "$f")
	kill -"${CL_SIGNAL:-TERM}" "$pid" 2>/dev/null || true
	for pid in $(cl_wait_gone 30 "$pid"); do kill -KILL "$pid" 2>/dev/null || true; done
	rm -f "$f"
}

# cl_etcd_block PREFIX NODE: NODE's TCP with etcd's client port is dropped
# both ways, in NODE's namespace, with no reset: a partition, for NODE
# alone. cl_etcd_unblock PREFIX NODE lifts it.
cl_etcd_block() {
	ip netns exec "$1-$2" nft -f - <<-EOF
		table inet xe_etcd_block {
			chain out {
				type filter hook output priority 0;
				ip daddr $CL_RT4 tcp dport 2379 drop
			}
			chain in {
				type filter hook input priority 0;
				ip saddr $CL_RT4 tcp sport 2379 drop
			}
		}
	EOF
}
cl_etcd_unblock() { ip netns exec "$1-$2" nft delete table inet xe_etcd_block; }

# cl_down PREFIX: every lbd (SIGTERM, together, so their withdraw delays
# overlap), every BIRD, the namespaces and the files. Also cleans what a
# run with the same prefix left behind without its files: a process still
# inside one of the prefix's namespaces is one of that run's, ended by PID.
cl_down() {
	local p=$1 dir f pid ns pids=()
	dir=$(tb_dir "$p")
	for f in "$dir"/lbd*.pid; do
		[[ -s $f ]] || continue
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
	done
	cl_wait_gone 60 "${pids[@]}" >/dev/null
	for f in "$dir"/bird-*.pid; do
		[[ -e $f ]] || continue
		f=$(basename "$f" .pid)
		cl_bird_stop "$p" "${f#bird-}"
	done
	for ns in $(ip netns list | awk '{ print $1 }' | grep -E "^$p-(sw|cli|rt|lb[0-9]*|be[0-9]+)$"); do
		pids=()
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
		done
		for pid in $(cl_wait_gone 30 "${pids[@]}"); do kill -KILL "$pid" 2>/dev/null || true; done
	done
	tb_down "$p"
	ip netns del "$p-rt" 2>/dev/null || true
	return 0
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -uo pipefail
	case ${1:-} in
	up) cl_down "$2" 2>/dev/null; cl_up "$2" "${3:-2}" "${4:-3}" && cl_sessions_up "$2" ;;
	down) cl_down "$2" ;;
	*) echo "usage: $0 up PREFIX [NODES] [BACKENDS] | down PREFIX" >&2; exit 2 ;;
	esac
fi
