#!/usr/bin/env bash
# Flow sharing between cluster nodes (sync lines; scripts/cluster.sh with
# etcd, no BGP: the router's cl_pin picks the node). Flows a node picks on
# moved slots reach its peers, which install them; so 20 long downloads
# survive a drain (slots move) and, in the same second, every flow moving
# to the other node; with sharing cut, the same double fault breaks some.
# A node that joins late gets the moved-slot flows of its peers before it
# is ready. Messages with a wrong key, cut short, replayed, too long, too
# old or from no peer are counted and install nothing; a good one does.
E2E_PREFIX=xe-sy E2E_SUITE=sync
source "$(dirname "$0")/lib.sh"
# shellcheck source=../../scripts/cluster.sh
source "$E2E_ROOT/scripts/cluster.sh"
# shellcheck source=cluster_lib.sh
source "$(dirname "$0")/cluster_lib.sh"
P=$E2E_PREFIX
DIR=$(tb_dir $P)
KEY="$TB_VIP4:80/tcp"
CKEY=/xlb/xe/config
BE1=$(tb_backend_addr 1 4) BE2=$(tb_backend_addr 2 4) BE3=$(tb_backend_addr 3 4)
PORT=7946

cl_suite_up 3 || exit 1
head -c 32 /dev/urandom | base64 >"$DIR/sync.key"
chmod 600 "$DIR/sync.key"

sync_addr() { echo "$(cl_node_addr "$1" 4):$PORT"; }
# node_conf NODE: attach, the cluster line, and sync with the two other nodes.
node_conf() {
	local n=$1 m peers=""
	for m in lb lb2 lb3; do [[ $m == "$n" ]] || peers+="${peers:+,}$(sync_addr "$m")"; done
	{
		echo "attach eth0"
		echo "cluster xe etcd $CL_ETCD cache $DIR/$n.cluster"
		echo "sync listen $(sync_addr "$n") peers $peers key-file $DIR/sync.key"
	} >"$DIR/$(TB_LB=$n tb_lbd_base).conf"
}
sfield() { on "$1" -j sync show | jpy "d[a[0]]" "$2"; }
# pfield NODE PEER FIELD: a counter of NODE's sync show for PEER (a node name).
pfield() { on "$1" -j sync show | jpy "[p[a[1]] for p in d['peers'] if p['peer'] == a[0]][0]" "$(sync_addr "$2")" "$3"; }
# counter NODE NAME: a global counter of NODE's lbctl stats (not "stat": the shell's stat(1) stays itself).
counter() { on "$1" -j stats | jpy "d['counters'][a[0]]" "$2"; }
moved_flows() { bpftool map dump pinned "$(TB_LB=$1 tb_pin_dir $P)/moved_map" 2>/dev/null | grep -c '"key"'; }

rev0=$(etcd_put "$(printf 'vip %s forward dsr\n  backend %s\n  backend %s\n  backend %s\n' "$KEY" "$BE1" "$BE2" "$BE3")")
[[ $rev0 =~ ^[0-9]+$ ]] || { fail setup "etcdctl put of the seed gave no revision: '$rev0'"; exit 1; }
for n in lb lb2 lb3; do node_conf $n; done
for n in lb lb2; do
	TB_LB=$n tb_lbd_start $P || { fail setup "lbd on $n did not start (its log above)"; exit 1; }
done
joined() { [[ $(sfield lb joined)/$(sfield lb2 joined) == true/true ]]; }
wait_until 8000 joined
expect nodes_join "lb joined '$(sfield lb joined)', lb2 '$(sfield lb2 joined)' (each waits 3 s for lb3, not up)" \
	test "$(sfield lb joined)/$(sfield lb2 joined)" = true/true
same_rings() { [[ -n $(digest lb) && $(digest lb) == "$(digest lb2)" ]]; }
wait_until 5000 same_rings
expect rings_agree "lb $(digest lb), lb2 $(digest lb2)" same_rings
expect steady_state_sends_nothing "lb sent $(pfield lb lb2 sent_flows) flows, lb2 $(pfield lb2 lb sent_flows), before any change" \
	test "$(pfield lb lb2 sent_flows)" -eq 0 -a "$(pfield lb2 lb sent_flows)" -eq 0

# ---- (6) messages a node must refuse, from lb3's sync address while its lbd is not running ----
sender() {
	ip netns exec $P-lb3 python3 "$E2E_ROOT/selftests/e2e/sync_send.py" --from "$(sync_addr lb3)" \
		--to "$(sync_addr lb)" --key-file "$DIR/sync.key" "$@" >/dev/null
}
flow() { echo "$CL_CLI4:$1,$TB_VIP4:80,tcp,$2"; }
m0=$(moved_flows lb)
port=40980
for kind in bad-key truncated oversized stale bad-count; do
	sender --kind "$kind" --flow "$(flow $port "$BE2")"
	port=$((port + 1))
done
sleep 0.3
expect bad_hmac_counted "rx_bad_auth $(sfield lb rx_bad_auth) (a wrong key, and a message cut short)" \
	test "$(sfield lb rx_bad_auth)" -eq 2
expect oversized_counted "rx_oversized $(sfield lb rx_oversized)" test "$(sfield lb rx_oversized)" -eq 1
expect stale_counted "rx_stale $(sfield lb rx_stale)" test "$(sfield lb rx_stale)" -eq 1
expect malformed_counted "rx_malformed $(sfield lb rx_malformed) (a count its length does not hold)" \
	test "$(sfield lb rx_malformed)" -eq 1
expect refused_install_nothing "lb's moved_map: $m0 flows before, $(moved_flows lb) after; installed from lb3: $(pfield lb lb3 installed)" \
	test "$(moved_flows lb)" -eq "$m0" -a "$(pfield lb lb3 installed)" -eq 0
# The same good message twice: the first is taken, the second is a replay.
sender --kind replay --flow "$(flow 40986 "$BE2")"
sleep 0.2
expect replay_refused "rx_replayed $(sfield lb rx_replayed), installed from lb3 $(pfield lb lb3 installed), moved_map $m0 -> $(moved_flows lb)" \
	test "$(sfield lb rx_replayed)" -eq 1 -a "$(pfield lb lb3 installed)" -eq 1 -a "$(moved_flows lb)" -eq $((m0 + 1))
# With the key, from an address that is no peer's (the router's): counted, nothing installed.
ip netns exec $P-rt python3 "$E2E_ROOT/selftests/e2e/sync_send.py" --from "$CL_RT4:$PORT" --to "$(sync_addr lb)" \
	--key-file "$DIR/sync.key" --flow "$(flow 40987 "$BE2")" >/dev/null
sleep 0.2
expect no_peer_refused "rx_unknown_peer $(sfield lb rx_unknown_peer), moved_map $(moved_flows lb)" \
	test "$(sfield lb rx_unknown_peer)" -eq 1 -a "$(moved_flows lb)" -eq $((m0 + 1))
# A good message whose second flow names no backend of the VIP: the first is installed, the second counted.
sender --flow "$(flow 40988 "$BE3")" --flow "$(flow 40989 198.18.0.199)"
sleep 0.2
expect good_message_installed "installed from lb3 $(pfield lb lb3 installed), rx_unplaced $(sfield lb rx_unplaced), moved_map $(moved_flows lb)" \
	test "$(pfield lb lb3 installed)" -eq 2 -a "$(sfield lb rx_unplaced)" -eq 1 -a "$(moved_flows lb)" -eq $((m0 + 2))

# ---- (5) the double fault: a drain moves slots, and in the same second every flow moves to lb2 ----
S=6 I=0.05
MIN_LINES=$(awk -v s=$S -v i=$I 'BEGIN { printf "%d", s / i * 0.9 }')
DL=()
# downloads N PORTS: N long downloads from PORTS (in cl_pin's range), in the background (DL: their PIDs).
# Each batch has ports of its own: a tuple used before is remembered, by its node and by the peer it went to.
downloads() {
	local i
	for ((i = 0; i < $1; i++)); do
		ip netns exec $P-cli curl -sS --max-time $((S + 10)) --local-port "$2" \
			-o "$DIR/dl${#DL[@]}.out" "http://$TB_VIP4/stream?seconds=$S&interval=$I" 2>"$DIR/dl${#DL[@]}.err" &
		DL+=($!)
	done
}
# broken: BAD is how many of DL did not come whole (one backend from the first line to the last, no gap); DL emptied.
broken() {
	local i
	BAD=0
	for ((i = 0; i < ${#DL[@]}; i++)); do
		if ! wait "${DL[$i]}" || ! awk -v min="$MIN_LINES" 'NR == 1 { name = $1 } $1 != name || $2 != NR - 1 { bad = 1 }
			END { exit !(!bad && NR >= min) }' "$DIR/dl$i.out"; then
			BAD=$((BAD + 1))
			echo "     download $i: $(wc -l <"$DIR/dl$i.out") lines, $(head -c 160 "$DIR/dl$i.err")"
		fi
	done
	DL=()
}
applied_on_both() { same_rings && [[ $(on lb -j show | jpy "d['cluster']['revision']") == $(on lb2 -j show | jpy "d['cluster']['revision']") ]]; }
cl_pin $P lb
shared0=$(counter lb shared)
downloads 10 40000-40099
sleep 1
on lb backend set "$KEY" "$BE1" --drain || fail double_fault "backend set --drain refused"
wait_until 2000 applied_on_both
downloads 10 40100-40199
sleep 0.5
inst0=$(pfield lb2 lb installed)
lb2_pkts=$(vip_stat lb2 packets)
cl_pin $P lb2
sleep 1
carried=$(($(vip_stat lb2 packets) - lb2_pkts))
broken
expect double_fault_downloads_intact "$BAD of 20 broken; lb2 carried $carried packets after the move" \
	test "$BAD" -eq 0 -a "$carried" -gt 100
expect double_fault_flows_shared "lb handed $(($(counter lb shared) - shared0)) flows over, lb2 installed $inst0 from lb" \
	test $(($(counter lb shared) - shared0)) -gt 0 -a "$inst0" -gt 0

# The same with sharing cut (lb2 drops sync): the downloads on moved slots break.
ip netns exec $P-lb2 nft -f - <<-NFT
	table inet xe_sync_cut {
		chain in {
			type filter hook input priority 0;
			udp dport $PORT drop
		}
	}
NFT
# be2 drained too: its slots (half the ring) move to be3, and lb2 would keep their unknown flows on be2.
on lb backend set "$KEY" "$BE2" --drain || fail control "backend set --drain refused"
wait_until 2000 applied_on_both
cl_pin $P lb
downloads 20 40200-40299
sleep 1
cl_pin $P lb2
broken
ip netns exec $P-lb2 nft delete table inet xe_sync_cut
echo "     with sharing cut: $BAD of 20 downloads broken"
expect cut_sharing_breaks_moved_flows "$BAD of 20 broken without sharing (about half are on a moved slot)" test "$BAD" -gt 0
cl_unpin $P

# ---- a node that joins late (its first start: no moved slot of its own) gets the peers' flows first ----
# Downloads on every backend through lb; be2 drained: its flows stay on it, on slots that moved.
on lb backend set "$KEY" "$BE1" --enable >/dev/null && on lb backend set "$KEY" "$BE2" --enable >/dev/null ||
	fail join "backend set --enable refused"
wait_until 2000 applied_on_both
S=8
MIN_LINES=$(awk -v s=$S -v i=$I 'BEGIN { printf "%d", s / i * 0.9 }')
cl_pin $P lb
downloads 10 40500-40599
sleep 1
on lb backend set "$KEY" "$BE2" --drain >/dev/null || fail join "backend set --drain refused"
wait_until 2000 applied_on_both
sleep 0.5
m_lb=$(moved_flows lb)
# lb's reads for lb3's dump are a thread's, never its loop's: a read of a sparse
# hash walks every empty bucket (moved_map, nearly always almost empty, is as
# large as conn_map: ~200 ms a read at 64M), and the loop must go on sending
# adverts. strace shows which thread makes each read; nothing else walks a
# table on lb's loop meanwhile.
lb_pid=$(cat "$DIR/lbd.pid")
timeout 8 strace -f -qq -p "$lb_pid" -e trace=bpf -o "$DIR/dump.strace" 2>/dev/null &
strace_pid=$!
sleep 1
TB_LB=lb3 tb_lbd_start $P || fail join "lbd on lb3 did not start"
lb3_in() { [[ $(sfield lb3 joined) == true ]]; }
wait_until 5000 lb3_in
sleep 0.5
kill "$strace_pid" 2>/dev/null
wait "$strace_pid" 2>/dev/null
# lb's fds of its flow tables: those whose map id is the pinned moved_map's or conn_map's.
mapfile -t flow_fds < <(map_fds "$lb_pid" "$(tb_pin_dir $P)/moved_map" "$(tb_pin_dir $P)/conn_map")
table_walks() {	# WHO: main (lbd's loop) or other (its threads): their reads that walk a flow table
	map_calls "$DIR/dump.strace" "$lb_pid" "$1" 'GET_NEXT_KEY|LOOKUP_BATCH' "${flow_fds[@]}"
}
expect join_dump_read_off_the_loop "lb's loop made $(table_walks main) reads of its flow tables (fds ${flow_fds[*]}) during lb3's join, its threads $(table_walks other); lb3 had $(pfield lb3 lb received_flows) flows from lb" \
	test "$(table_walks main)" -eq 0 -a "$(table_walks other)" -gt 0 -a "$(pfield lb3 lb received_flows)" -gt 0
# Every download moves to lb3, whose ring sends be2's slots elsewhere: only what its peers sent keeps them.
cl_pin $P lb3
broken
expect join_keeps_flows_of_moved_slots "$BAD of 10 broken through lb3; it marked $(sfield lb3 marked) slots for its peers' flows" \
	test "$BAD" -eq 0 -a "$(sfield lb3 marked)" -gt 0
cl_unpin $P
answered=$(on lb3 -j sync show | jpy "sum(p['answered'] for p in d['peers'])")
expect join_asks_every_peer "lb3 joined '$(sfield lb3 joined)', $answered of 2 peers sent their flows" \
	test "$(sfield lb3 joined)" = true -a "$answered" -eq 2
expect join_gets_moved_flows "lb3's moved_map: $(moved_flows lb3) flows, lb's $m_lb; installed from lb $(pfield lb3 lb installed)" \
	test "$(moved_flows lb3)" -ge "$m_lb" -a "$m_lb" -gt 0
expect join_logged "lb3's log: $(grep 'sync:' "$DIR/lbd-lb3.log" | tail -n 1)" \
	grep -q 'the flows of every peer are in' "$DIR/lbd-lb3.log"

# ---- (5, VRRP) a pair failing over right after a drain, and failing back ----
# lb master (priority 200), lb2 backup; the router reaches the VIP on the segment, at the master's MAC.
state() { on "$1" -j vrrp show | jpy "d['routers'][0]['state']"; }
on lb backend set "$KEY" "$BE1" --enable >/dev/null && on lb backend set "$KEY" "$BE2" --enable >/dev/null ||
	fail vrrp_setup "backend set --enable refused"
for n in lb lb2; do
	prio=$([[ $n == lb ]] && echo 200 || echo 100)
	on $n vrrp add eth0 --vrid 51 --priority $prio --advert 100ms --vip $TB_VIP4 >/dev/null ||
		fail vrrp_setup "vrrp add refused on $n"
done
ip -n $P-rt route replace $TB_VIP4/32 dev eth0
lb_master() { [[ $(state lb)/$(state lb2) == master/backup ]]; }
wait_until 5000 lb_master || fail vrrp_setup "lb $(state lb), lb2 $(state lb2): want master/backup"
wait_until 3000 applied_on_both
on lb backend set "$KEY" "$BE1" --drain >/dev/null || fail vrrp_setup "backend set --drain refused"
wait_until 2000 applied_on_both
S=8
MIN_LINES=$(awk -v s=$S -v i=$I 'BEGIN { printf "%d", s / i * 0.9 }')
# Batch 1 through lb; lb stops (it hands over: priority 0), lb2 takes them with what lb shared.
downloads 10 40300-40399
sleep 0.5
t0=$(now_ms)
TB_LB=lb tb_lbd_stop $P
lb2_master() { [[ $(state lb2) == master ]]; }
wait_until 3000 lb2_master
echo "     lb stopped: lb2 master after $(($(now_ms) - t0)) ms"
# Batch 2 begins on lb2 while lb is away: what lb2 shares meanwhile is lost to lb, but for the join's dump.
downloads 10 40400-40499
sleep 0.5
lb2_sent=$(pfield lb2 lb sent_flows)
TB_LB=lb tb_lbd_start $P || fail vrrp_failback "lbd on lb did not start again"
back() { [[ $(state lb) == master ]]; }
wait_until 8000 back
held=$(grep -c 'the flows of every peer are in\|going on without' "$DIR/lbd.log")
echo "     lb back: $(state lb), lb2 $(state lb2); lb installed $(pfield lb lb2 installed) of lb2's flows"
broken
expect vrrp_failover_downloads_intact "$BAD of 20 broken (10 begun on lb, 10 on lb2 while lb was away)" test "$BAD" -eq 0
# Every flow lb2 began while lb was away came back to lb in the join, also those its ring alone placed (conn_map):
# lb's marks may differ from lb2's, and a slot lb still has marked would send such a flow to its previous backend.
known=0
for ((port = 40400; port < 40410; port++)); do flow_remembered "$(TB_LB=lb tb_pin_dir $P)" $CL_CLI4 $port $TB_VIP4 80 && known=$((known + 1)); done
expect vrrp_join_brings_every_flow "lb knows $known of the 10 flows lb2 began without it" test "$known" -eq 10
expect vrrp_failback_after_join "lb $(state lb) after its restart, join logged $held times; lb2 had sent $lb2_sent flows" \
	test "$(state lb)" = master -a "$held" -ge 1
# What lb2 holds (lb's flows it got before, its own since) came back to lb: known or new, each one.
expect vrrp_join_took_peers_flows "lb received $(pfield lb lb2 received_flows) flows from lb2 ($(pfield lb lb2 installed) new to it)" \
	test "$(pfield lb lb2 received_flows)" -gt 0 -a "$(on lb -j sync show | jpy "[p['answered'] for p in d['peers'] if p['peer'] == a[0]][0]" "$(sync_addr lb2)")" = true
