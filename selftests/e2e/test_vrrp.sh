#!/usr/bin/env bash
# Two xlb nodes share the VIP with VRRPv3: the higher priority is master
# and holds it; when it dies the other takes over within 3 x advert + skew
# and a client pinging the VIP every 10 ms loses no more than that window;
# it preempts when it comes back, or not with --no-preempt; a graceful stop
# hands over in about Skew_Time; malformed advertisements are counted and
# change nothing; a node that cannot balance lowers its priority.
E2E_PREFIX=xe-vrrp E2E_SUITE=vrrp
source "$(dirname "$0")/lib.sh"
e2e_start 2
P=$E2E_PREFIX
KEY="$TB_VIP4:80/tcp"
ADVERT_MS=100
tb_lb_up $P lb2 198.18.0.3 2001:db8::3
TB_LB=lb2 tb_lbd_start $P || fail setup "the second lbd did not start"
# The client reaches the VIPs on the segment, wherever VRRP puts them.
ip -n $P-cli route replace $TB_VIP4/32 dev eth0
ip -n $P-cli -6 route replace $TB_VIP6/128 dev eth0

# on LB CMD...: lbctl against one of the two nodes.
on() { local lb=$1; shift; TB_LB=$lb tb_lbctl $P "$@"; }
state() { on "$1" vrrp show 2>/dev/null | awk 'NR == 1 { print $5 }'; }
now_ms() { date +%s%3N; }
# wait_state LB STATE MS [T0]: poll every 10 ms; prints the time it took since T0 (default: now).
wait_state() {
	local t0 end
	t0=${4:-$(now_ms)}
	end=$(($(now_ms) + $3))
	while (($(now_ms) < end)); do
		[[ $(state "$1") == "$2" ]] && { echo $(($(now_ms) - t0)); return 0; }
		sleep 0.01
	done
	return 1
}
configure() {
	local lb=$1 prio=$2
	shift 2
	on "$lb" attach eth0 >/dev/null
	on "$lb" vip add "$KEY" >/dev/null
	for i in 1 2; do on "$lb" backend add "$KEY" "$(tb_backend_addr $i 4)" >/dev/null; done
	on "$lb" vrrp add eth0 --vrid 51 --priority "$prio" --advert ${ADVERT_MS}ms --vip $TB_VIP4 "$@" >/dev/null
}
holds_vip() { ip -n "$P-$1" -4 addr show dev eth0 | grep -q " $TB_VIP4/32"; }
# skew and the takeover bound for the backup's priority, in ms
bound_ms() { echo $((3 * ADVERT_MS + (256 - $1) * ADVERT_MS / 256)); }

configure lb 200
configure lb2 100
# An IPv6 virtual router beside the IPv4 one (VRRPv3 keeps them apart).
KEY6="[$TB_VIP6]:80/tcp"
for lb in lb lb2; do
	on $lb vip add "$KEY6" >/dev/null
	for i in 1 2; do on $lb backend add "$KEY6" "$(tb_backend_addr $i 6)" >/dev/null; done
done
# IPv6 adverts come from the link-local address, which the kernel refuses as a source (EINVAL)
# while its duplicate address detection runs: seen to last over 6 s here. The routers start after it.
dad_done() { ! ip -n "$P-$1" -6 addr show dev eth0 tentative | grep -q inet6; }
for ((t = 0; t < 200; t++)); do dad_done lb && dad_done lb2 && break; sleep 0.1; done
on lb vrrp add eth0 --vrid 61 --priority 200 --advert ${ADVERT_MS}ms --vip $TB_VIP6 >/dev/null
on lb2 vrrp add eth0 --vrid 61 --priority 100 --advert ${ADVERT_MS}ms --vip $TB_VIP6 >/dev/null
state6() { on "$1" vrrp show 2>/dev/null | awk '$2 == "vrid" && $3 == 61 { print $5 }'; }
holds_vip6() { ip -n "$P-$1" -6 addr show dev eth0 | grep -q " $TB_VIP6/128"; }
wait_state lb master 2000 >/dev/null
wait_state lb2 backup 2000 >/dev/null
expect higher_priority_is_master "lb is $(state lb), lb2 is $(state lb2)" \
	test "$(state lb)/$(state lb2)" = master/backup
expect master_holds_vip "VIP on lb: $(holds_vip lb && echo yes), on lb2: $(holds_vip lb2 && echo yes)" \
	bash -c "ip -n $P-lb -4 addr show dev eth0 | grep -q ' $TB_VIP4/32' && ! ip -n $P-lb2 -4 addr show dev eth0 | grep -q ' $TB_VIP4/32'"
# Fresh namespaces: the link-local addresses adverts come from finish DAD after a second or two.
# The wait is for the whole condition: a check of the states alone could end a moment before the address is seen.
for ((t = 0; t < 600; t++)); do
	[[ $(state6 lb)/$(state6 lb2) == master/backup ]] && holds_vip6 lb && break
	sleep 0.01
done
expect ipv6_master_holds_vip "lb v6 router $(state6 lb), lb2 $(state6 lb2)" \
	bash -c "[[ '$(state6 lb)/$(state6 lb2)' == master/backup ]] && ip -n $P-lb -6 addr show dev eth0 | grep -q ' $TB_VIP6/128'"
if ((e2e_failed)); then
	for lb in lb lb2; do
		echo "     $lb: $(on $lb -j vrrp show | python3 -c 'import json,sys; print([r for r in json.load(sys.stdin)["routers"] if r["vrid"] == 61])')"
		grep -i 'vrid 61\|v6\|IPv6\|advert' "$(tb_dir $P)/$(TB_LB=$lb tb_lbd_base).log" | head -20 | sed "s/^/     $lb: /"
	done
	ip -n $P-lb -6 addr show dev eth0 | sed 's/^/     lb addr: /'
fi
curl_many "$TB_VIP4" 20 >"$TB_DIR/before.names"
expect traffic_through_master "$(wc -l <"$TB_DIR/before.names") of 20 answered" \
	test "$(wc -l <"$TB_DIR/before.names")" -eq 20

# ---- the master dies: lbd killed, its node off the segment ----
ip netns exec $P-cli ping -n -D -i 0.01 -c 250 -W 1 $TB_VIP4 >"$TB_DIR/ping.out" 2>&1 &
ping_pid=$!
sleep 0.5
t0=$(now_ms)
kill -KILL "$(cat "$TB_DIR/$P/lbd.pid")"
ip -n $P-lb link set eth0 down
is_state() { [[ $(state "$1") == "$2" ]]; }
expect_takeover takeover_within_bound client_loss_within_window "master killed -> lb2 master" \
	"$(bound_ms 100)" "$t0" "$ping_pid" "$TB_DIR/ping.out" is_state lb2 master
expect new_master_holds_vip "lb2 lacks the VIP" holds_vip lb2
for ((t = 0; t < 100; t++)); do holds_vip6 lb2 && break; sleep 0.01; done
curl_many "[$TB_VIP6]" 10 >"$TB_DIR/after6.names"
expect ipv6_failover "lb2 v6 router $(state6 lb2), holds VIP6: $(holds_vip6 lb2 && echo yes), $(wc -l <"$TB_DIR/after6.names") of 10 answered" \
	test "$(state6 lb2)" = master -a "$(wc -l <"$TB_DIR/after6.names")" -eq 10
curl_many "$TB_VIP4" 20 >"$TB_DIR/after.names"
expect traffic_through_new_master "$(wc -l <"$TB_DIR/after.names") of 20 answered" \
	test "$(wc -l <"$TB_DIR/after.names")" -eq 20

# ---- it comes back and preempts ----
ip -n $P-lb link set eth0 up
# Link down flushed its static IPv6 address (keep_addr_on_down=0): put it back, as a rebooted node would.
ip -n $P-lb addr add $TB_LB6/64 dev eth0 nodad 2>/dev/null
sleep 0.2
TB_LB=lb tb_lbd_stop $P 2>/dev/null	# reaps the killed one
TB_LB=lb tb_lbd_start $P || fail preempt "lbd on lb did not restart"
wait_state lb master 3000 >/dev/null
expect returning_master_preempts "lb is $(state lb), lb2 is $(state lb2)" test "$(state lb)" = master
wait_state lb2 backup 1000 >/dev/null
expect old_backup_steps_down "lb2 is $(state lb2)" test "$(state lb2)" = backup

# ---- graceful stop: priority 0, takeover after about Skew_Time ----
t0=$(now_ms)
kill -TERM "$(cat "$TB_DIR/$P/lbd.pid")"
if took=$(wait_state lb2 master 2000 "$t0"); then
	echo "     graceful stop -> lb2 master in $took ms (skew $(((256 - 100) * ADVERT_MS / 256)) ms)"
	# A crash takes at least 2 x advert + skew; priority 0 makes it Skew_Time.
	expect graceful_stop_hands_over_fast "took $took ms" test "$took" -lt $((2 * ADVERT_MS))
else
	fail graceful_stop_hands_over_fast "lb2 never became master"
fi
on lb2 -j vrrp show | grep -q '"rx_priority0":[1-9]'
expect priority0_counted "lb2 saw no priority-0 advertisement" test $? -eq 0

# ---- no preempt: the higher priority comes back as backup and stays there ----
on_conf="$TB_DIR/$P/lbd.conf"
sed -i 's/^vrrp eth0 vrid 51 .*/& no-preempt/' "$on_conf"
TB_LB=lb tb_lbd_stop $P
TB_LB=lb tb_lbd_start $P || fail no_preempt "lbd on lb did not restart"
sleep 1
expect no_preempt_stays_backup "lb is $(state lb), lb2 is $(state lb2)" \
	test "$(state lb)/$(state lb2)" = backup/master

# ---- malformed advertisements from a fake peer: counted, ignored ----
fake() { ip netns exec $P-cli python3 "$E2E_ROOT/selftests/e2e/vrrp_send.py" --src $TB_CLI4 --vrid 51 \
	--priority 250 --vip $TB_VIP4 "$@"; }
bad_case() {
	local name=$1 counter=$2 before after
	shift 2
	before=$(rej "$counter")
	fake --count 5 --every 0.05 "$@"
	sleep 0.2
	after=$(rej "$counter")
	expect "$name" "$counter $before -> $after, lb2 $(state lb2)" \
		test "$after" -ge $((before + 5)) -a "$(state lb2)" = master
}
# The fake peer would win at priority 250 over lb2 (master, 100); lb2 must not yield to these.
rej() { on lb2 -j vrrp show | python3 -c "import json,sys; print(json.load(sys.stdin)['routers'][0]['counters']['$1'])"; }
bad_case malformed_ttl bad_ttl --ttl 64
bad_case malformed_checksum bad_checksum --bad-checksum
bad_case malformed_version bad_version --version 2
bad_case malformed_type bad_type --type 2
bad_case malformed_truncated bad_length --truncate 6
bad_case malformed_addresses bad_addresses --vip 198.18.1.99
bad_case other_vrid rx_other_vrid --vrid 52
# The positive control: the same advertisement, well formed, does win.
fake --count 3 --every 0.05
wait_state lb2 backup 1000 >/dev/null
expect wellformed_fake_peer_wins "lb2 is $(state lb2)" test "$(state lb2)" = backup

# ---- a node that cannot balance lowers its priority ----
sleep 1	# the fake peer is gone: lb2 (100) or lb (200, no preempt) masters again
m=$(state lb2)
[[ $m == master ]] || wait_state lb2 master 2000 >/dev/null || wait_state lb master 2000 >/dev/null
master=lb2
[[ $(state lb) == master ]] && master=lb
before=$(on $master -j vrrp show | python3 -c "import json,sys; print(json.load(sys.stdin)['routers'][0]['priority'])")
on $master detach eth0 >/dev/null
sleep 1.5
after=$(on $master -j vrrp show | python3 -c "import json,sys; print(json.load(sys.stdin)['routers'][0]['priority'])")
expect detached_node_lowers_priority "$master priority $before -> $after" test "$after" -lt "$before" -a "$before" -ge 100

# ---- the virtual MAC: clients keep one MAC for the VIP across a failover ----
VIPV=198.18.1.2
ip -n $P-cli route replace $VIPV/32 dev eth0
state71() { on "$1" vrrp show 2>/dev/null | awk '$2 == "vrid" && $3 == 71 { print $5 }'; }
on lb2 vrrp add eth0 --vrid 71 --priority 200 --advert ${ADVERT_MS}ms --vmac --vip $VIPV >/dev/null
on lb vrrp add eth0 --vrid 71 --priority 100 --advert ${ADVERT_MS}ms --vmac --vip $VIPV >/dev/null
for ((t = 0; t < 300; t++)); do [[ $(state71 lb2) == master ]] && break; sleep 0.01; done
ip netns exec $P-cli ping -n -q -c 2 -W 1 $VIPV >/dev/null 2>&1
mac=$(ip -n $P-cli neigh show $VIPV | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')
expect vmac_answers_for_vip "lb2 vrid 71 $(state71 lb2); client's MAC for $VIPV: '$mac'" \
	test "$(state71 lb2)" = master -a "$mac" = 00:00:5e:00:01:47
ip netns exec $P-cli ping -n -D -i 0.01 -c 150 -W 1 $VIPV >"$TB_DIR/ping-vmac.out" 2>&1 &
ping_pid=$!
sleep 0.3
kill -KILL "$(cat "$TB_DIR/$P/lbd-lb2.pid")"
ip -n $P-lb2 link set eth0 down
for ((t = 0; t < 300; t++)); do [[ $(state71 lb) == master ]] && break; sleep 0.01; done
wait $ping_pid
outage=$(ping_outage_ms "$TB_DIR/ping-vmac.out")
mac2=$(ip -n $P-cli neigh show $VIPV | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')
echo "     virtual MAC failover: longest silence $outage ms, client's MAC $mac -> $mac2"
expect vmac_failover_keeps_mac "lb vrid 71 $(state71 lb), MAC $mac -> $mac2, silence $outage ms" \
	test "$(state71 lb)" = master -a "$mac2" = "$mac" -a "$outage" -le $(($(bound_ms 100) + 100))

# ---- a reload that turns the virtual MAC off and on again ----
# The router restarts with the devices the new setting needs: the macvlan
# goes, the VIP is then held on eth0 itself; back on, the macvlan returns.
CONF_LB=$(tb_dir $P)/lbd.conf
has_vrrp71() { ip -n $P-lb link show vrrp.71 >/dev/null 2>&1; }
sed -i '/vrid 71 /s/ vmac//' "$CONF_LB"
on lb config reload >/dev/null
for ((t = 0; t < 300; t++)); do [[ $(state71 lb) == master ]] && ! has_vrrp71 && break; sleep 0.01; done
expect vmac_off_removes_macvlan "vrrp.71 still there or lb vrid 71 $(state71 lb) after vmac went off" \
	bash -c "! ip -n $P-lb link show vrrp.71 >/dev/null 2>&1 && test '$(state71 lb)' = master"
expect vmac_off_vip_on_eth0 "$VIPV not on lb's eth0 after vmac went off" \
	bash -c "ip -n $P-lb addr show dev eth0 | grep -q 'inet $VIPV/'"
sed -i '/vrid 71 /s/ vip / vmac vip /' "$CONF_LB"
on lb config reload >/dev/null
for ((t = 0; t < 300; t++)); do [[ $(state71 lb) == master ]] && has_vrrp71 && break; sleep 0.01; done
expect vmac_on_adds_macvlan "no vrrp.71 on lb after vmac went on again (state $(state71 lb))" has_vrrp71
