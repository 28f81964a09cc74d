#!/usr/bin/env bash
# xlb nodes announce their VIPs by BGP through BIRD (scripts/cluster.sh):
# the router spreads new flows over every node that announces by ECMP; a
# node whose VIP has no backend up withdraws it and comes back only after
# the hold-down; a stopping lbd withdraws before it exits; long downloads
# survive a node leaving and one joining (the nodes' rings agree: the same
# ring_digest); BIRD down, a wrong socket or a config BIRD refuses shows in
# `bgp show` while lbd goes on balancing, and the announcement catches up
# once BIRD is back; bad `bgp` lines are refused and change nothing. The
# IPv4 VIP is DSR, the IPv6 one IPIP (the backends decapsulate with XDP).
E2E_PREFIX=xe-bgp E2E_SUITE=bgp
source "$(dirname "$0")/lib.sh"
# shellcheck source=../../scripts/cluster.sh
source "$E2E_ROOT/scripts/cluster.sh"
P=$E2E_PREFIX
KEY4="$TB_VIP4:80/tcp"
KEY6="[$TB_VIP6]:80/tcp"
HOLD_MS=2000
WDELAY_MS=1000

e2e_cleanup() {
	local j
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	cl_down $P >/dev/null 2>&1
	e2e_finish
}
trap 'e2e_cleanup' EXIT
trap 'exit 130' INT TERM
if ! command -v bird >/dev/null || ! command -v birdc >/dev/null; then
	fail setup "BIRD 2 is not installed (Debian bird2; scripts/install-deps.sh)"
	exit 1
fi
tb_bpffs_up
cl_down $P >/dev/null 2>&1
if ! cl_up $P 3 3 || ! cl_sessions_up $P 15; then
	fail setup "the cluster bed did not come up"
	exit 1
fi
for i in 1 2 3; do
	tb_wait_http $P $i || { fail setup "backend be$i does not answer HTTP"; exit 1; }
done

# on, now_ms, wait_until, jpy (its digest and vip_stat take the VIP: defined below).
# shellcheck source=cluster_lib.sh
source "$(dirname "$0")/cluster_lib.sh"
bgp_vip() { on "$1" -j bgp show | jpy "[v[a[1]] for v in d['vips'] if v['vip'] == a[0]][0]" "$2" "$3"; }
announced() { bgp_vip "$1" "$2" announced; }
bird_state() { on "$1" -j bgp show | jpy "d['bird']['state']"; }
bird_field() { on "$1" -j bgp show | jpy "d['bird'][a[0]]" "$2"; }
# vip_stat NODE KEY FIELD: a counter of the VIP in the node's stats; 0 when lbd does not answer.
vip_stat() { on "$1" -j stats | jpy "[v[a[1]] for v in d['vips'] if v['vip'] == a[0]][0]" "$2" "$3" || echo 0; }
digest() { on "$1" -j vip list | jpy "[v['ring_digest'] for v in d['vips'] if v['vip'] == a[0]][0]" "$2"; }
nodes4() { cl_router_nodes $P $TB_VIP4; }
nodes6() { cl_router_nodes $P $TB_VIP6; }
is_nodes4() { [[ $(nodes4) == "$1" ]]; }
is_nodes6() { [[ $(nodes6) == "$1" ]]; }
is_state() { [[ $(bird_state "$1") == "$2" ]]; }
# count_ok FILE: requests curls answered (its output).
count_ok() { wc -l <"$1"; }
# curls HOST N [curl args]: curl_many, bounded as a whole: a VIP that does
# not answer costs 1 s a request, never more than 5 + N/10 s in all.
curls() {
	local host=$1 n=$2 urls=() i
	shift 2
	for ((i = 0; i < n; i++)); do urls+=("http://$host/"); done
	timeout $((5 + n / 10)) ip netns exec $P-cli curl -sS -g --fail --connect-timeout 1 --max-time 5 \
		-H 'Connection: close' "$@" "${urls[@]}" 2>>"$TB_DIR/curl.err"
}
# pinned_curl HOST N: N new connections from ports cl_pin routes to one node; prints the answers.
# (new_flows is no count of these: a SYN on a 5-tuple the node still remembers is no new flow.)
pinned_curl() { curls "$1" "$2" --local-port $CL_PIN_PORTS; }
bgp_set() {
	local n=$1
	shift
	on "$n" bgp set --bird-socket "$(cl_bird_sock $P "$n")" --include "$(cl_node_include $P "$n")" \
		--hold-down ${HOLD_MS}ms --withdraw-delay ${WDELAY_MS}ms "$@"
}
# configure NODE I...: the two VIPs with backends I... in that order, and bgp.
configure() {
	local n=$1 i
	shift
	on "$n" attach eth0 || return 1
	on "$n" vip add "$KEY4" --forward dsr --announce healthy || return 1
	on "$n" vip add "$KEY6" --forward ipip || return 1
	for i in "$@"; do
		on "$n" backend add "$KEY4" "$(tb_backend_addr "$i" 4)" || return 1
		on "$n" backend add "$KEY6" "$(tb_backend_addr "$i" 6)" || return 1
	done
	bgp_set "$n"
}
# vip_packets KEY NODE...: the packets the nodes gave the VIP's backends, summed.
vip_packets() {
	local key=$1 n sum=0
	shift
	for n in "$@"; do sum=$((sum + $(vip_stat "$n" "$key" packets))); done
	echo $sum
}
# pinned_check NAME HOST KEY: 20 connections pinned to lb2 all answered, lb2 carried them, no other node did.
pinned_check() {
	local name=$1 host=$2 key=$3 b2 bo d2 dx n
	b2=$(vip_packets "$key" lb2) bo=$(vip_packets "$key" lb lb3)
	pinned_curl "$host" 20 >"$TB_DIR/$name.names"
	n=$(count_ok "$TB_DIR/$name.names")
	d2=$(($(vip_packets "$key" lb2) - b2)) dx=$(($(vip_packets "$key" lb lb3) - bo))
	# A connection is at least 4 packets from the client: SYN, ACK, request, FIN.
	expect "$name" "through lb2: $n of 20 answered; packets through lb2 +$d2, through lb and lb3 +$dx" \
		test "$n" -eq 20 -a "$d2" -ge 80 -a "$dx" -eq 0
}
# set_admin NODE KEY down|auto: every backend of the VIP on NODE.
set_admin() {
	local n=$1 key=$2 how=$3 i fam=4
	[[ $key == \[* ]] && fam=6
	for i in 1 2 3; do on "$n" backend set "$key" "$(tb_backend_addr $i $fam)" "--$how" || return 1; done
}

# The nodes are given the same backends in different orders: their rings must still agree.
for n in lb lb2; do
	TB_LB=$n tb_lbd_start $P || { fail setup "lbd on $n did not start"; exit 1; }
done
configure lb 1 2 3 || { fail setup "lb: the VIPs or 'bgp set' were refused"; exit 1; }
configure lb2 3 1 2 || { fail setup "lb2: the VIPs or 'bgp set' were refused"; exit 1; }
[[ -n $(bird_state lb) ]] || { fail setup "lbd has no 'bgp show': $(on lb -j bgp show 2>&1 | head -c 200)"; exit 1; }
# always: announced with no backend up; never: not announced with every backend up.
on lb vip add 198.18.1.8:80/tcp --announce always >/dev/null &&
	on lb backend add 198.18.1.8:80/tcp 198.18.0.101 >/dev/null &&
	on lb backend set 198.18.1.8:80/tcp 198.18.0.101 --down >/dev/null || fail setup "the announce-always VIP"
# A ring that must differ: lb2 has one backend more.
for n in lb lb2; do
	on $n vip add 198.18.1.9:80/tcp --announce never >/dev/null || fail setup "the announce-never VIP on $n"
	on $n backend add 198.18.1.9:80/tcp 198.18.0.101 >/dev/null
	on $n backend add 198.18.1.9:80/tcp 198.18.0.102 >/dev/null
done
on lb2 backend add 198.18.1.9:80/tcp 198.18.0.103 >/dev/null

# ---- (1) both nodes announce; the router's ECMP route spreads new flows over both ----
wait_until 10000 is_nodes4 "lb lb2"
expect router_ecmp_v4 "the router's next hops for $TB_VIP4: '$(nodes4)'" is_nodes4 "lb lb2"
wait_until 5000 is_nodes6 "lb lb2"
expect router_ecmp_v6 "the router's next hops for $TB_VIP6: '$(nodes6)'" is_nodes6 "lb lb2"
if [[ -z $(nodes4)$(nodes6) ]]; then
	fail setup "no route to the VIPs on the router: nothing else can be checked"
	exit 1
fi
expect bgp_show_announced "lb: state $(bird_state lb), $KEY4 announced $(announced lb "$KEY4"); lb2: state $(bird_state lb2), $KEY6 announced $(announced lb2 "$KEY6")" \
	test "$(bird_state lb)/$(announced lb "$KEY4")/$(announced lb "$KEY6")/$(bird_state lb2)/$(announced lb2 "$KEY4")/$(announced lb2 "$KEY6")" = ok/true/true/ok/true/true
fields=$(on lb -j bgp show | jpy "(d['hold_down_ms'] == $HOLD_MS and d['withdraw_delay_ms'] == $WDELAY_MS and
	d['bird_socket'] == a[0] and d['include'] == a[1] and d['bird']['configures'] >= 1 and
	[v['prefix'] for v in d['vips'] if v['vip'] in (a[2], a[3])] == [a[4], a[5]])" \
	"$(cl_bird_sock $P lb)" "$(cl_node_include $P lb)" "$KEY4" "$KEY6" "$TB_VIP4/32" "$TB_VIP6/128")
expect bgp_show_fields "lb -j bgp show: $(on lb -j bgp show)" test "$fields" = true
expect bgp_show_text "lbctl bgp show printed nothing" test -n "$(on lb bgp show)"
expect bird_has_static_route "lb's BIRD: $(cl_birdc $P lb show route protocol xlb4 2>&1 | tail -n +2 | tr '\n' ' ')" \
	bash -c "birdc -s '$(cl_bird_sock $P lb)' show route protocol xlb4 | grep -q '^$TB_VIP4/32'"
expect announce_always "198.18.1.8 (always, no backend up): announced $(bgp_vip lb 198.18.1.8:80/tcp announced), router next hops '$(cl_router_nodes $P 198.18.1.8)'" \
	test "$(bgp_vip lb 198.18.1.8:80/tcp announced)/$(cl_router_nodes $P 198.18.1.8)" = "true/lb"
expect announce_never "198.18.1.9 (never): announced on lb $(bgp_vip lb 198.18.1.9:80/tcp announced), lb2 $(bgp_vip lb2 198.18.1.9:80/tcp announced), router next hops '$(cl_router_nodes $P 198.18.1.9)'" \
	test "$(bgp_vip lb 198.18.1.9:80/tcp announced)/$(bgp_vip lb2 198.18.1.9:80/tcp announced)/$(cl_router_nodes $P 198.18.1.9)" = "false/false/"
# vip set changes the announcement alone: the VIP comes and goes without being added again.
nodes9() { [[ $(cl_router_nodes $P 198.18.1.9) == "$1" ]]; }
on lb vip set 198.18.1.9:80/tcp --announce healthy >/dev/null || fail vip_set_announces "vip set refused"
wait_until 3000 nodes9 lb
expect vip_set_announces "198.18.1.9 after vip set --announce healthy on lb: router next hops '$(cl_router_nodes $P 198.18.1.9)', saved as '$(on lb config show | grep '^vip 198.18.1.9')'" \
	test "$(cl_router_nodes $P 198.18.1.9)/$(on lb config show | grep -c '^vip 198.18.1.9:80/tcp.*announce')" = lb/0
on lb vip set 198.18.1.9:80/tcp --announce never >/dev/null
wait_until 3000 nodes9 ""
expect vip_set_withdraws "198.18.1.9 after vip set --announce never: router next hops '$(cl_router_nodes $P 198.18.1.9)'" \
	test -z "$(cl_router_nodes $P 198.18.1.9)"

# A backend still being looked up keeps a new VIP's route back: announced
# now, the table would change under the flows the route brought. One that
# is never found (no host has the address) holds it no longer than the
# kernel takes to give the neighbour up.
K10=198.18.1.10:80/tcp
on lb vip add $K10 --announce never >/dev/null && on lb backend add $K10 198.18.0.101 >/dev/null &&
	on lb backend add $K10 198.18.0.109 >/dev/null && on lb vip set $K10 --announce healthy >/dev/null ||
	fail setup "the VIP with an unknown backend"
early="$(bgp_vip lb $K10 announced) ($(bgp_vip lb $K10 why))"
expect lookup_holds_new_route "198.18.1.10 with 198.18.0.109 being looked up: announced $early" \
	test "${early%% *}" = false -a "$(bgp_vip lb $K10 why | grep -c 'looked up')" = 1
t0=$(now_ms)
announced10() { [[ $(announced lb $K10) == true ]]; }
wait_until 8000 announced10
t_ann=$(($(now_ms) - t0))
expect lookup_holds_at_most_grace "announced after $t_ann ms: $(bgp_vip lb $K10 announced) ($(bgp_vip lb $K10 why))" \
	test "$(bgp_vip lb $K10 announced)" = true -a $t_ann -le 6000
# Announced already: a backend added now is looked up with the route kept.
on lb backend add $K10 198.18.0.108 >/dev/null
expect lookup_keeps_announced_route "after 198.18.0.108 was added: announced $(bgp_vip lb $K10 announced) ($(bgp_vip lb $K10 why))" \
	test "$(bgp_vip lb $K10 announced)" = true
on lb vip del $K10 >/dev/null

N=300
for fam in 4 6; do
	key=$KEY4 host=$TB_VIP4
	[[ $fam == 6 ]] && key=$KEY6 host="[$TB_VIP6]"
	b1=$(vip_stat lb "$key" new_flows) b2=$(vip_stat lb2 "$key" new_flows)
	curls "$host" $N >"$TB_DIR/spread$fam.names"
	d1=$(($(vip_stat lb "$key" new_flows) - b1)) d2=$(($(vip_stat lb2 "$key" new_flows) - b2))
	echo "     IPv$fam: $(count_ok "$TB_DIR/spread$fam.names") of $N answered; new flows on lb $d1, lb2 $d2"
	expect "curls_succeed_v$fam" "$(count_ok "$TB_DIR/spread$fam.names") of $N answered" \
		test "$(count_ok "$TB_DIR/spread$fam.names")" -eq $N
	# Hashing 300 flows over two next hops: fewer than 60 on one is beyond chance.
	expect "every_node_carries_v$fam" "new flows on lb $d1, lb2 $d2 (of $N)" \
		test $d1 -ge 60 -a $d2 -ge 60 -a $((d1 + d2)) -ge $((N * 95 / 100))
done

# ---- (5) the same backends in another order: the same ring ----
expect ring_digest_v4_agrees "lb $(digest lb "$KEY4"), lb2 $(digest lb2 "$KEY4")" \
	test -n "$(digest lb "$KEY4")" -a "$(digest lb "$KEY4")" = "$(digest lb2 "$KEY4")"
expect ring_digest_v6_agrees "lb $(digest lb "$KEY6"), lb2 $(digest lb2 "$KEY6")" \
	test -n "$(digest lb "$KEY6")" -a "$(digest lb "$KEY6")" = "$(digest lb2 "$KEY6")"
expect ring_digest_differs "198.18.1.9 with 2 and 3 backends: lb $(digest lb 198.18.1.9:80/tcp), lb2 $(digest lb2 198.18.1.9:80/tcp)" \
	test -n "$(digest lb 198.18.1.9:80/tcp)" -a "$(digest lb 198.18.1.9:80/tcp)" != "$(digest lb2 198.18.1.9:80/tcp)"

# ---- (2) no backend up on lb2: it withdraws the VIP, and announces it again only after the hold-down ----
set_admin lb2 "$KEY4" down || fail withdraw_on_no_backend "backend set --down refused"
wait_until 3000 is_nodes4 lb
expect withdraw_on_no_backend "router next hops for $TB_VIP4: '$(nodes4)'; lb2 announced $(announced lb2 "$KEY4") ($(bgp_vip lb2 "$KEY4" why))" \
	test "$(nodes4)/$(announced lb2 "$KEY4")" = lb/false
expect withdrawal_is_per_vip "router next hops for $TB_VIP6 (lb2's v6 backends are up): '$(nodes6)'" is_nodes6 "lb lb2"
expect withdraw_says_why "lb2's why for $KEY4 is empty" test -n "$(bgp_vip lb2 "$KEY4" why)"
curls $TB_VIP4 100 >"$TB_DIR/withdrawn.names"
expect curls_after_withdraw "$(count_ok "$TB_DIR/withdrawn.names") of 100 answered" test "$(count_ok "$TB_DIR/withdrawn.names")" -eq 100
t0=$(now_ms)
set_admin lb2 "$KEY4" auto || fail hold_down "backend set --auto refused"
# Well inside the hold-down: still withdrawn, at lbd and at the router.
sleep "$(awk -v h=$HOLD_MS 'BEGIN { print (h - 700) / 1000 }')"
early="$(announced lb2 "$KEY4")/$(nodes4)"
expect not_before_hold_down "$(($(now_ms) - t0)) ms after the backends came back (hold-down $HOLD_MS ms): announced/next hops $early" \
	test "$early" = "false/lb"
if wait_until 5000 is_nodes4 "lb lb2"; then
	took=$(($(now_ms) - t0))
	echo "     re-announced $took ms after the backends came back (hold-down $HOLD_MS ms)"
	expect reannounce_after_hold_down "took $took ms" test $took -ge $((HOLD_MS - 100)) -a $took -le $((HOLD_MS + 2000))
else
	fail reannounce_after_hold_down "router next hops '$(nodes4)' $((HOLD_MS + 5000)) ms after; lb2 announced $(announced lb2 "$KEY4")"
fi

# ---- (3) SIGTERM: the routes go before lbd does; the client sees no failure ----
loop_end=$(($(now_ms) + 4000))
(
	while (($(now_ms) < loop_end)); do
		echo "20 $(curls $TB_VIP4 20 | wc -l)"
	done >"$TB_DIR/loop.counts"
) &
loop_pid=$!
sleep 0.5
pid=$(cat "$(tb_dir $P)/lbd-lb2.pid")
t0=$(now_ms)
kill -TERM "$pid"
t_gone="" t_exit=""
while (($(now_ms) < t0 + 6000)); do
	[[ -z $t_gone ]] && ! [[ $(nodes4) == *lb2* ]] && t_gone=$(($(now_ms) - t0))
	if ! cl_alive "$pid"; then
		t_exit=$(($(now_ms) - t0))
		break
	fi
	sleep 0.02
done
echo "     SIGTERM: next hop gone at ${t_gone:-never} ms, lbd exited at ${t_exit:-never} ms (withdraw-delay $WDELAY_MS ms)"
expect stop_withdraws_before_exit "next hop gone at ${t_gone:-never} ms, exit at ${t_exit:-never} ms" \
	test -n "$t_gone" -a -n "$t_exit" -a "${t_gone:-0}" -lt "${t_exit:-0}"
expect stop_waits_withdraw_delay "exit $((${t_exit:-0} - ${t_gone:-0})) ms after the next hop went (delay $WDELAY_MS ms)" \
	test -n "$t_exit" -a $((${t_exit:-0} - ${t_gone:-0})) -ge $((WDELAY_MS - 300))
expect stop_withdraws_v6 "router next hops for $TB_VIP6: '$(nodes6)'" is_nodes6 lb
wait "$loop_pid"
asked=$(awk '{ n += $1 } END { print n + 0 }' "$TB_DIR/loop.counts")
answered=$(awk '{ n += $2 } END { print n + 0 }' "$TB_DIR/loop.counts")
expect no_failed_curl_on_stop "$answered of $asked answered" test "$asked" -ge 40 -a "$answered" -eq "$asked"
TB_LB=lb2 tb_lbd_stop $P
TB_LB=lb2 tb_lbd_start $P || fail restart "lbd on lb2 did not start again"
wait_until 8000 is_nodes4 "lb lb2"
wait_until 3000 is_nodes6 "lb lb2"
expect restart_reannounces "router next hops after lb2's lbd restarted: '$(nodes4)' / '$(nodes6)'" \
	test "$(nodes4)/$(nodes6)" = "lb lb2/lb lb2"

# ---- a restart (SIGQUIT, as for an upgrade): the route stays while lbd is away and once it is back ----
rm -f "$TB_DIR/quit.stop"
(
	while [[ ! -e $TB_DIR/quit.stop ]]; do
		nodes4
		sleep 0.02
	done
) >"$TB_DIR/quit.nodes" &
watch_pid=$!
pid=$(cat "$(tb_dir $P)/lbd-lb2.pid")
kill -QUIT "$pid"
for ((t = 0; t < 50; t++)); do
	cl_alive "$pid" || break
	sleep 0.1
done
quit_alive=$(cl_alive "$pid" && echo yes || echo no)
rm -f "$(tb_dir $P)/lbd-lb2.pid"
TB_LB=lb2 tb_lbd_start $P || fail restart "lbd on lb2 did not start again after SIGQUIT"
sleep 1
touch "$TB_DIR/quit.stop"
wait "$watch_pid"
samples=$(grep -c . "$TB_DIR/quit.nodes")
missing=$(grep -vc 'lb2' "$TB_DIR/quit.nodes")
expect quit_keeps_route "SIGQUIT: lbd still running $quit_alive; lb2 missing from the router's next hops in $missing of $samples samples" \
	test "$quit_alive" = no -a "$samples" -ge 10 -a "$missing" -eq 0
expect quit_restart_state "after the restart: announced $(announced lb2 "$KEY4"), BIRD $(bird_state lb2)" \
	test "$(announced lb2 "$KEY4")/$(bird_state lb2)" = true/ok

# ---- (4) long downloads while a node leaves and another joins ----
S=7 I=0.05
MIN_LINES=$(awk -v s=$S -v i=$I 'BEGIN { printf "%d", s / i * 0.9 }')
TB_LB=lb3 tb_lbd_start $P || fail setup "lbd on lb3 did not start"
p2=$(($(vip_stat lb2 "$KEY4" packets) + $(vip_stat lb2 "$KEY6" packets)))
dl_pids=()
for ((i = 0; i < 20; i++)); do
	host=$TB_VIP4
	((i % 4 == 3)) && host="[$TB_VIP6]"
	ip netns exec $P-cli curl -sS -g --max-time $((S + 10)) -o "$TB_DIR/dl$i.out" \
		"http://$host/stream?seconds=$S&interval=$I" 2>"$TB_DIR/dl$i.err" &
	dl_pids+=($!)
done
sleep 1.5
p2_mid=$(($(vip_stat lb2 "$KEY4" packets) + $(vip_stat lb2 "$KEY6" packets)))
on lb2 bgp del || fail node_leaves "bgp del refused on lb2"
wait_until 3000 is_nodes4 lb
left="$(nodes4)/$(nodes6)"
sleep 1
# lb3 joins: its own order of the backends.
configure lb3 2 3 1 || fail node_joins "lb3: the VIPs or 'bgp set' were refused"
p3=$(($(vip_stat lb3 "$KEY4" packets) + $(vip_stat lb3 "$KEY6" packets)))
wait_until 4000 is_nodes4 "lb lb3"
joined="$(nodes4)"
sleep 0.5
p3_mid=$(($(vip_stat lb3 "$KEY4" packets) + $(vip_stat lb3 "$KEY6" packets)))
bad=0 rcs=""
for ((i = 0; i < 20; i++)); do
	wait "${dl_pids[$i]}"
	rc=$?
	rcs+="$rc "
	# Intact: curl ended well, one backend from the first line to the last, no gap, no repeat.
	if ((rc != 0)) || ! awk -v min="$MIN_LINES" 'NR == 1 { name = $1 } $1 != name || $2 != NR - 1 { bad = 1 }
		END { exit !(!bad && NR >= min) }' "$TB_DIR/dl$i.out"; then
		bad=$((bad + 1))
		echo "     download $i: curl $rc, $(wc -l <"$TB_DIR/dl$i.out") lines, $(head -c 200 "$TB_DIR/dl$i.err")"
	fi
done
p3_end=$(($(vip_stat lb3 "$KEY4" packets) + $(vip_stat lb3 "$KEY6" packets)))
echo "     downloads: lb2 carried $((p2_mid - p2)) packets before it left; the router went '$left' then '$joined'; lb3 carried $((p3_end - p3)) packets"
expect node_leaves "the router's next hops after lb2's bgp del: '$left'" test "$left" = "lb/lb"
expect node_joins "the router's next hops after lb3 joined: '$joined'" test "$joined" = "lb lb3"
expect downloads_used_leaving_node "lb2 carried $((p2_mid - p2)) packets of the downloads" test $((p2_mid - p2)) -gt 0
expect downloads_moved_to_new_node "lb3 carried $((p3_mid - p3)) packets of the downloads after it joined" test $((p3_mid - p3)) -gt 0
expect downloads_intact "$bad of 20 broken (curl exit codes: $rcs)" test $bad -eq 0
expect ring_digest_joined_agrees "lb $(digest lb "$KEY4"), lb3 $(digest lb3 "$KEY4")" \
	test -n "$(digest lb3 "$KEY4")" -a "$(digest lb "$KEY4")" = "$(digest lb3 "$KEY4")"

# ---- (6) bad bgp lines: refused, nothing changed ----
show_lb() { on lb -j bgp show | jpy "(d['bird_socket'], d['include'], d['hold_down_ms'], d['withdraw_delay_ms'])"; }
conf_sum() { cksum <"$(tb_dir $P)/lbd.conf"; }
before_show=$(show_lb) before_conf=$(on lb config show) before_sum=$(conf_sum)
sock=$(cl_bird_sock $P lb) inc=$(cl_node_include $P lb)
bad_line() {
	local name=$1 rc
	shift
	on lb bgp set "$@" >/dev/null 2>"$TB_DIR/bad.err"
	rc=$?
	expect "$name" "exit $rc ($(head -c 160 "$TB_DIR/bad.err")); bgp show $(show_lb), was $before_show" \
		test $rc -ne 0 -a -s "$TB_DIR/bad.err" -a "$(show_lb)" = "$before_show" -a "$(on lb config show)" = "$before_conf" \
		-a "$(conf_sum)" = "$before_sum"
}
bad_line bad_bgp_no_include --bird-socket "$sock" --hold-down 3s
bad_line bad_bgp_no_socket --include "$inc"
bad_line bad_bgp_relative_include --bird-socket "$sock" --include xlb.conf
bad_line bad_bgp_relative_socket --bird-socket bird.ctl --include "$inc"
bad_line bad_bgp_duration --bird-socket "$sock" --include "$inc" --hold-down 5parsecs
bad_line bad_bgp_option --bird-socket "$sock" --include "$inc" --hold-up 2s
expect bad_bgp_keeps_route "router next hops after the refused lines: '$(nodes4)'" is_nodes4 "lb lb3"

# ---- (6) a wrong socket path: failing, lbd balances on, and catches up when set right ----
cl_pin $P lb2
on lb2 bgp set --bird-socket "$(tb_dir $P)/no-such-bird.ctl" --include "$(cl_node_include $P lb2)" \
	--hold-down ${HOLD_MS}ms --withdraw-delay ${WDELAY_MS}ms || fail wrong_socket "bgp set refused"
wait_until 4000 is_state lb2 failing
expect wrong_socket_failing "lb2: state $(bird_state lb2), last_error '$(bird_field lb2 last_error)'" \
	test "$(bird_state lb2)" = failing -a -n "$(bird_field lb2 last_error)"
pinned_check wrong_socket_balances "$TB_VIP4" "$KEY4"
bgp_set lb2 || fail wrong_socket_fixed "bgp set with the right socket refused"
wait_until $((HOLD_MS + 4000)) is_nodes4 "lb lb2 lb3"
expect wrong_socket_fixed "lb2: state $(bird_state lb2), router next hops '$(nodes4)'" \
	test "$(bird_state lb2)/$(nodes4)" = "ok/lb lb2 lb3"
# The rest starts from lb2 announced, whatever lbd did here.
is_nodes4 "lb lb2 lb3" || { cl_birdc $P lb2 configure >/dev/null; wait_until 3000 is_nodes4 "lb lb2 lb3"; }

# ---- (6) BIRD not running: failing, lbd balances on, catches up when BIRD is back ----
cl_bird_stop $P lb2
wait_until 3000 is_nodes4 "lb lb3"
fails=$(bird_field lb2 failures)
set_admin lb2 "$KEY4" down	# a change lbd must tell BIRD
wait_until 4000 is_state lb2 failing
expect bird_down_failing "lb2: state $(bird_state lb2), last_error '$(bird_field lb2 last_error)', failures $fails -> $(bird_field lb2 failures)" \
	test "$(bird_state lb2)" = failing -a -n "$(bird_field lb2 last_error)" -a "$(bird_field lb2 failures)" -gt "$fails"
pinned_check bird_down_balances "[$TB_VIP6]" "$KEY6"
cl_bird_start $P lb2 || fail bird_back "BIRD on lb2 did not start again"
wait_until 10000 is_state lb2 ok
wait_until 5000 is_nodes6 "lb lb2 lb3"
expect bird_back_ok "lb2: state $(bird_state lb2), router next hops for $TB_VIP6 '$(nodes6)', for $TB_VIP4 '$(nodes4)'" \
	test "$(bird_state lb2)/$(nodes6)/$(nodes4)" = "ok/lb lb2 lb3/lb lb3"
set_admin lb2 "$KEY4" auto
wait_until $((HOLD_MS + 4000)) is_nodes4 "lb lb2 lb3"
expect bird_back_catches_up "router next hops for $TB_VIP4 after lb2's backends came back: '$(nodes4)'" is_nodes4 "lb lb2 lb3"

# ---- (6) BIRD refuses the configuration: failing, catches up once it is valid again ----
conf=$(cl_bird_file $P lb2 conf)
cp "$conf" "$TB_DIR/bird-lb2.conf.good"
echo "this is not a bird configuration;" >>"$conf"
fails=$(bird_field lb2 failures)
set_admin lb2 "$KEY4" down
wait_until 4000 is_state lb2 failing
expect bird_refuses_failing "lb2: state $(bird_state lb2), last_error '$(bird_field lb2 last_error)', failures $fails -> $(bird_field lb2 failures)" \
	test "$(bird_state lb2)" = failing -a -n "$(bird_field lb2 last_error)" -a "$(bird_field lb2 failures)" -gt "$fails"
echo "     BIRD kept its old configuration: the router's next hops for $TB_VIP4 are '$(nodes4)'"
pinned_check bird_refuses_balances "[$TB_VIP6]" "$KEY6"
cp "$TB_DIR/bird-lb2.conf.good" "$conf"
t0=$(now_ms)
wait_until 15000 is_nodes4 "lb lb3"
wait_until 2000 is_state lb2 ok
echo "     valid again: withdrawn after $(($(now_ms) - t0)) ms (lbd's retry)"
expect bird_valid_catches_up "lb2: state $(bird_state lb2), router next hops for $TB_VIP4 '$(nodes4)'" \
	test "$(bird_state lb2)/$(nodes4)" = "ok/lb lb3"
cl_unpin $P
