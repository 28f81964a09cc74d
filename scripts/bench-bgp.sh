#!/usr/bin/env bash
# BGP failover figures for BENCHMARKS.md (not a test: nothing is asserted).
# The cluster bed (scripts/cluster.sh) with two xlb nodes, lb and lb2, that
# both announce 198.18.1.1 (a UDP VIP on port 7000 and a TCP VIP on port 80,
# one route) to the router, which spreads flows over them by ECMP. The
# client sends 8 UDP flows (scripts/bgp_outage.py: 8 new source ports a
# run, a datagram every 10 ms on each); ECMP puts some through lb2, the
# victim, and the rest through lb (an nft set on the router records which;
# a run with all 8 on one node starts again on new ports). The bridge does
# not flood unknown unicast to the nodes' ports, as their NICs' MAC
# filters would not let it in (see below). Then lb2 fails:
#   stop      lbd on lb2 gets SIGTERM (it withdraws, waits withdraw-delay, exits)
#   crash     lbd and BIRD on lb2 get SIGKILL together (the XDP program stays)
#   link      lb2's eth0 goes down (the node dies): the router waits the hold time (3 s)
#   link+bfd  the same with BFD on every session (100 ms x 3, CL_BFD=1)
#   health    nftables in lb2 drops its probes to the backends (XDP_TX frames
#             skip netfilter, so the data path still works) until lbd
#             withdraws the VIP (check interval 1 s x fall 3, 20 ms tick);
#             the VIPs fail open (the default): lb2 forwards on meanwhile
#   health-drop  the same with the UDP VIP on `all-down drop`: its table
#             empties with its last verdict (the route, shared with the TCP
#             VIP on the same address, goes with the later of the two); the
#             flows that exist stay on their backends (for 3 s after a change
#             lbd takes an unknown UDP flow on a moved slot for an old one),
#             only new flows would be dropped
# For each: when the router's route lost lb2's next hop (polled every ~10 ms
# from the failure), and the client outage: the longest silence of a flow
# through lb2; "others" is the same for the flows through lb (the noise
# floor). Median of REPS runs (min-max after it); lb2 is restored between
# runs and the router must have both next hops again.
# BENCH_BGP_CASES="stop crash ..." runs only some cases.
# For scripts/charts.sh it writes bgp.dat (scripts/bench-data.sh) into
# BENCH_RESULTS (default BUILD/bench): for each case, in the run whose
# outage was the median, the silence before each answer of the flow through
# lb2 that waited longest, against the time since the failure.
set -euo pipefail
build=${1:-build}
REPS=${BENCH_REPS:-3}
CASES=${BENCH_BGP_CASES:-stop crash link link+bfd health health-drop}
root=$(cd "$(dirname "$0")/.." && pwd)
export TB_BUILD TB_DIR=/tmp/xlb-bench-bgp.$$ TB_QUIET=1
TB_BUILD=$(cd "$build" && pwd)
# shellcheck source=cluster.sh
source "$root/scripts/cluster.sh"
# shellcheck source=bench-data.sh
source "$root/scripts/bench-data.sh"
P=xb-bgp
VIP=$TB_VIP4
UKEY="$VIP:7000/udp"
TKEY="$VIP:80/tcp"
HOLD_DOWN=1s WDELAY=1s
VICTIM_HOP=$(cl_node_addr lb2 4)
if ! command -v bird >/dev/null || ! command -v birdc >/dev/null || ! command -v nft >/dev/null; then
	echo "skip BGP failover: BIRD 2 or nft missing (make deps installs bird2 and nftables)"
	exit 0
fi
DIR=$(tb_dir $P)
FLOW_PID=
cleanup() {
	set +e	# a trap must get through every step
	[[ -n $FLOW_PID ]] && kill "$FLOW_PID" 2>/dev/null
	cl_down $P >/dev/null 2>&1
	rm -rf "$TB_DIR"
	tb_bpffs_down
}
tb_bpffs_up
trap cleanup EXIT
trap 'exit 130' INT TERM
cl_down $P >/dev/null 2>&1 || true

# stamp: NOW = the time in ms (no fork, unlike date).
stamp() { local t=${EPOCHREALTIME/./}; NOW=$((t / 1000)); }
on() { local n=$1; shift; cl_lbctl $P "$n" "$@"; }
# hops: the router's next hops for the VIP, on one line.
hops() { ip -n $P-rt route show "$VIP" 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "via") printf "%s ", $(i + 1) }'; }
has_victim() { [[ " $(hops)" == *" $VICTIM_HOP "* ]]; }
both_hops() { [[ $(cl_router_nodes $P "$VIP") == "lb lb2" ]]; }
# wait_for MS CMD...: CMD comes true within MS (polled every 50 ms).
wait_for() {
	local end
	stamp
	end=$((NOW + $1))
	shift
	while :; do
		"$@" && return 0
		stamp
		((NOW < end)) || return 1
		sleep 0.05
	done
}

# vip_up NODE KEY CHECK [vip add options]: the VIP with the three backends.
vip_up() {
	local n=$1 key=$2 check=$3 i
	shift 3
	on "$n" vip add "$key" --forward dsr --check "$check" --interval 1s --fall 3 "$@" >/dev/null
	for i in 1 2 3; do on "$n" backend add "$key" "$(tb_backend_addr $i 4)" >/dev/null; done
}
configure() {	# NODE
	local n=$1
	on "$n" attach eth0 >/dev/null
	vip_up "$n" "$UKEY" udp
	vip_up "$n" "$TKEY" tcp
	on "$n" bgp set --bird-socket "$(cl_bird_sock $P "$n")" --include "$(cl_node_include $P "$n")" \
		--hold-down $HOLD_DOWN --withdraw-delay $WDELAY >/dev/null
}

# bird_all_conf BFD: the router's and the nodes' BIRDs reconfigured with CL_BFD=BFD.
bird_all_conf() {
	local n
	CL_BFD=$1 cl_router_conf $P
	for n in $(cl_nodes $P); do CL_BFD=$1 cl_node_conf $P "$n"; done
	for n in rt $(cl_nodes $P); do cl_birdc $P "$n" configure >/dev/null; done
}
bfd_up_count() { cl_birdc $P rt show bfd sessions 2>/dev/null | awk '$3 == "Up"' | wc -l; }
bfd_all_up() { (($(bfd_up_count) >= 4)); }	# lb and lb2, IPv4 and IPv6

# Which flows go through lb2: not what `ip route get ... sport` says. The
# router's ECMP takes a hash the packet already carries as it is, and a
# connected socket's packets carry its random txhash (skb->hash survives
# the veth into the router's namespace). So the router records the source
# ports it forwards to lb2 in a set.
router_nft() {
	ip netns exec $P-rt nft -f - <<-EOF
		table ip xb_bench {
			set via_victim { type inet_service; flags dynamic; }
			chain forward {
				type filter hook forward priority 0; policy accept;
				iifname "eth1" ip daddr $VIP udp dport 7000 rt ip nexthop $VICTIM_HOP add @via_victim { udp sport }
			}
		}
	EOF
}
# victim_ports: the source ports of the flows the router sent to lb2 lately, comma-separated.
victim_ports() {
	ip netns exec $P-rt nft flush set ip xb_bench via_victim
	sleep 0.3
	# "elements = { 42001, 42004, ... }", over several lines when long.
	ip netns exec $P-rt nft list set ip xb_bench via_victim |
		awk '/elements/ { on = 1 } on { s = s $0 } on && /}/ { on = 0 }
			END { sub(/.*elements = \{/, "", s); sub(/\}.*/, "", s); gsub(/[ \t]/, "", s); print s }'
}

fail() {	# CASE
	case $1 in
	stop) kill -TERM "$(cat "$DIR/lbd-lb2.pid")" ;;
	crash) kill -KILL "$(cat "$DIR/lbd-lb2.pid")" "$(cat "$(cl_bird_file $P lb2 pid)")" ;;
	link | link+bfd) ip -n $P-lb2 link set eth0 down ;;
	health | health-drop)
		ip netns exec $P-lb2 nft -f - <<-EOF
			table inet xb_bench {
				chain out {
					type filter hook output priority 0; policy accept;
					ip daddr { $(tb_backend_addr 1 4), $(tb_backend_addr 2 4), $(tb_backend_addr 3 4) } drop
				}
			}
		EOF
		;;
	esac
}

restore() {	# CASE
	case $1 in
	stop)
		TB_LB=lb2 tb_lbd_stop $P
		TB_LB=lb2 tb_lbd_start $P >/dev/null
		;;
	crash)
		TB_LB=lb2 tb_lbd_stop $P
		cl_bird_stop $P lb2
		cl_bird_start $P lb2
		TB_LB=lb2 tb_lbd_start $P >/dev/null
		;;
	link | link+bfd)
		ip -n $P-lb2 link set eth0 up
		# A link that goes down loses its IPv6 addresses (keep_addr_on_down is 0).
		ip -n $P-lb2 addr replace "$(cl_node_addr lb2 6)/64" dev eth0 nodad
		;;
	health | health-drop) ip netns exec $P-lb2 nft delete table inet xb_bench ;;
	esac
	if ! wait_for 20000 both_hops; then
		echo "   (lb2 not back after $1: the router's next hops are '$(cl_router_nodes $P "$VIP")')" >&2
		return 1
	fi
	cl_sessions_up $P 10 >/dev/null || echo "   (after $1: a BGP session is not up again)" >&2
	return 0
}

# start_flows N: bgp_outage.py with N flows from new source ports; 0 once they are all answered.
start_flows() {
	local n=$1 ports
	ports=$(seq "$NEXT_PORT" $((NEXT_PORT + n - 1)) | paste -sd,)
	NEXT_PORT=$((NEXT_PORT + n))
	((NEXT_PORT < 60000)) || NEXT_PORT=42000
	rm -f "$DIR/ready" "$DIR/stop"
	ip netns exec $P-cli python3 "$root/scripts/bgp_outage.py" --dst "$VIP" --port 7000 --src $CL_CLI4 \
		--sports "$ports" --ready "$DIR/ready" --stop "$DIR/stop" --timeline "$DIR/timeline" >"$DIR/flows.out" &
	FLOW_PID=$!
	wait_for 11000 test -e "$DIR/ready" && return 0
	wait "$FLOW_PID" || true
	FLOW_PID=
	echo "   (the flows were not all answered: $(tr '\n' ';' <"$DIR/flows.out"))" >&2
	return 1
}
stop_flows() {
	touch "$DIR/stop"
	wait "$FLOW_PID" || true
	FLOW_PID=
}
NEXT_PORT=42000

# one_run CASE RUN: prints "gone_ms victim_ms others_ms failure_ms worst_port", or "- - -" when
# nothing was measured; keeps the answers' timeline as timeline.CASE.RUN.
one_run() {
	local c=$1 t0 gone=- victim others try worst
	VICTIM_PORTS=
	for ((try = 0; try < 3; try++)); do
		start_flows 8 || { echo "- - -"; return 0; }
		VICTIM_PORTS=$(victim_ports)
		# All 8 on one node (1 in 128): new ports.
		[[ -n $VICTIM_PORTS && $VICTIM_PORTS == *,*,*,*,*,*,*,* ]] && VICTIM_PORTS=
		[[ -n $VICTIM_PORTS ]] && break
		stop_flows
	done
	if [[ -z $VICTIM_PORTS ]]; then
		echo "   ($c: no flow went through lb2)" >&2
		echo "- - -"
		return 0
	fi
	sleep 0.5
	stamp
	t0=$NOW
	fail "$c"
	while has_victim; do
		stamp
		((NOW - t0 < 10000)) || break
		sleep 0.01
	done
	stamp
	has_victim || gone=$((NOW - t0))
	# Time for the flows to come back (the health case's outage may end after the route moved).
	sleep 1.5
	stop_flows
	victim=$(awk -v ports=",$VICTIM_PORTS," 'index(ports, "," $1 ",") && $3 > m { m = $3 } END { print m + 0 }' "$DIR/flows.out")
	worst=$(awk -v ports=",$VICTIM_PORTS," 'index(ports, "," $1 ",") && $3 >= m { m = $3; p = $1 } END { print p }' "$DIR/flows.out")
	mv "$DIR/timeline" "$DIR/timeline.$c.$2"
	others=$(awk -v ports=",$VICTIM_PORTS," '!index(ports, "," $1 ",") && $3 > m { m = $3 } END { print m + 0 }' "$DIR/flows.out")
	echo "$gone $victim $others $t0 $worst"
	{
		echo "== $c: failure at $t0, next hop gone after $gone ms; victim ports $VICTIM_PORTS"
		cat "$DIR/flows.out"
	} >>"$DIR/flows.log"
	restore "$c" || true
}

# stats FILE COLUMN: "median (min-max)" of that column over the runs that measured it.
stats() {
	awk -v c="$2" '$c != "-" { print $c }' "$1" | sort -n |
		awk '{ a[NR] = $1 } END { if (!NR) print "-"; else if (NR == 1) print a[1]; else printf "%d (%d-%d)\n", a[int((NR + 1) / 2)], a[1], a[NR] }'
}
median() { awk -v c="$2" '$c != "-" { print $c }' "$1" | sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "-") }'; }
# timeline CASE: bgp.dat's rows for the median run of CASE (by the outage of the flows through lb2):
# each answer of its worst flow through lb2, its time since the failure (s) and the silence before it (ms).
timeline() {
	local k t0 port
	k=$(bench_median_run "$DIR/runs.$1" 2)
	[[ -n $k ]] || return 0
	read -r t0 port <<<"$(awk -v k="$k" 'NR == k { print $4, $5 }' "$DIR/runs.$1")"
	awk -v s="$1" -v t0="$t0" -v p="$port" '$1 == p { printf "%s %.3f %.1f\n", s, ($2 - t0) / 1000, $3 }' \
		"$DIR/timeline.$1.$((k - 1))"
}

cl_up $P 2 3 >/dev/null
cl_sessions_up $P 15
for i in 1 2 3; do tb_wait_http $P $i; done
for n in lb lb2; do
	TB_LB=$n tb_lbd_start $P >/dev/null
	configure $n
done
# A node's NIC drops frames for other MACs; a veth does not, and lbd's XDP
# program balances whatever reaches it. Without this, the bridge floods the
# frames for a dead lb2's MAC (its port gone, its FDB entry flushed) to lb,
# which balances them (and, rewriting the source MAC to the frame's
# destination, teaches the bridge lb2's MAC on lb's port): no outage at all.
for n in lb lb2; do ip netns exec $P-sw bridge link set dev $n flood off; done
router_nft
if ! wait_for 15000 both_hops; then
	echo "BGP failover: the router never had both nodes' next hops ('$(cl_router_nodes $P "$VIP")')" >&2
	exit 1
fi

echo "== BGP failover: lb2 of 2 nodes fails; 8 UDP flows (ECMP puts some through lb2), a datagram every 10 ms each; median (min-max) of $REPS"
echo "   hold time 3 s, keepalive 1 s; lbd hold-down $HOLD_DOWN, withdraw-delay $WDELAY; checks udp and tcp every 1 s, fall 3"
printf '%-12s %-20s %-20s %s\n' case "next hop gone ms" "client outage ms" "others ms"
data=$(bench_data_begin "$build" bgp "BGP failover: silence before each answer (ms) of the worst flow through lb2 against the time since lb2 failed (s), median run" \
	"series seconds_since_failure silence_ms")
bfd=0 all_down=open
for c in $CASES; do
	want=0
	[[ $c == *bfd* ]] && want=1
	if ((want != bfd)); then
		bird_all_conf $want
		bfd=$want
		cl_sessions_up $P 15 >/dev/null || true
		if ((bfd)); then
			wait_for 10000 bfd_all_up || true
			echo "   (BFD: $(bfd_up_count) sessions Up at the router)"
		fi
		wait_for 15000 both_hops || true
	fi
	if [[ $c == health-drop && $all_down != drop ]]; then
		for n in lb lb2; do
			on $n vip del "$UKEY" >/dev/null
			vip_up $n "$UKEY" udp --all-down drop
		done
		all_down=drop
		wait_for 15000 both_hops || true
	fi
	: >"$DIR/runs.$c"
	for ((k = 0; k < REPS; k++)); do
		one_run "$c" "$k" >>"$DIR/runs.$c"
		sleep 0.3
	done
	printf '%-12s %-20s %-20s %s\n' "$c" "$(stats "$DIR/runs.$c" 1)" "$(stats "$DIR/runs.$c" 2)" "$(stats "$DIR/runs.$c" 3)"
	timeline "$c" >>"$data"
done
bench_data_end "$data"

m() { if [[ -e $DIR/runs.$1 ]]; then median "$DIR/runs.$1" "$2"; else echo -; fi; }
echo "summary: a graceful stop costs the client $(m stop 2) ms and a crash of lbd and BIRD $(m crash 2) ms: the"
echo "  router drops the next hop at once (a withdrawal; a session the kernel closes) while lb2's XDP"
echo "  program forwards on; a dead node costs the hold time, $(m link 2) ms, or $(m link+bfd 2) ms with BFD"
echo "  100 ms x 3; failing checks withdraw lb2 after $(m health 1) ms (interval x fall and a tick) and,"
echo "  failing open, cost $(m health 2) ms; with all-down drop $(m health-drop 2) ms. The flows through lb:"
echo "  at most $(cat "$DIR"/runs.* 2>/dev/null | awk '$3 != "-" && $3 > x { x = $3 } END { print x + 0 }') ms of silence (the noise floor)."
