#!/usr/bin/env bash
# lbd's syncs: a change rebuilds only the tables whose inputs changed; a
# restart keeps a maglev-src VIP's slots unmoved; a failed first sync never
# leads to a table built from unknown state; a config at the VIP limit can
# replace a VIP, and the VIP on the freed id carries traffic; rings nobody
# reads are dropped (by a thread of lbd); lbctl show's flow counts come
# from the sweep; a DSR backend a route change puts behind a router leaves
# its table, and trace says of it what show says.
E2E_PREFIX=xe-resync E2E_SUITE=resync
source "$(dirname "$0")/lib.sh"
e2e_start 3
P=$E2E_PREFIX
CONF=$(tb_dir "$P")/$(tb_lbd_base).conf
PIN=$(tb_pin_dir "$P")
KEY="$TB_VIP4:80/tcp" SRC_KEY="$TB_VIP4:8080/tcp"
lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" --ring-size 1021 --check http:/health --interval 200ms --timeout 150ms \
	--rise 1 --fall 1 >/dev/null
lbctl vip add "$SRC_KEY" --sched maglev-src --ring-size 1021 --check none >/dev/null
for i in 1 2 3; do
	lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null
	lbctl backend add "$SRC_KEY" "$(tb_backend_addr "$i" 4)" >/dev/null
done

# vip_field KEY FIELD: a field of the VIP in `lbctl -j vip list`.
vip_field() {
	lbctl -j vip list | python3 -c '
import json, sys
for v in json.load(sys.stdin)["vips"]:
    if v["vip"] == sys.argv[1]:
        print(v[sys.argv[2]])' "$1" "$2"
}

# active KEY: backends of KEY in the table now.
active() { lbctl backend list "$1" | grep -c ' active '; }

for ((t = 0; t < 50; t++)); do
	(($(active "$KEY") == 3 && $(active "$SRC_KEY") == 3)) && break
	sleep 0.1
done
# Traffic on both VIPs, so that marks are kept where slots move.
curl_many "$TB_VIP4" 10 >/dev/null
tb_ns "$P-cli" curl -sS --max-time 5 "http://$TB_VIP4:8080/" >/dev/null 2>&1

# A health verdict on one VIP's backend rebuilds that VIP's table and no other.
src_builds=$(vip_field "$SRC_KEY" table_builds)
builds=$(vip_field "$KEY" table_builds)
tb_health "$P" 1 503
for ((t = 0; t < 50; t++)); do
	(($(active "$KEY") == 2)) && break
	sleep 0.1
done
sleep 1.2	# a slow-start tick and a few health ticks: nothing else changed
expect health_change_rebuilds_its_vip "$builds builds before, $(vip_field "$KEY" table_builds) after" \
	test "$(vip_field "$KEY" table_builds)" -gt "$builds"
expect other_vips_are_not_rebuilt "maglev-src VIP: $src_builds builds before, $(vip_field "$SRC_KEY" table_builds) after" \
	test "$(vip_field "$SRC_KEY" table_builds)" = "$src_builds"
tb_health "$P" 1 200
for ((t = 0; t < 50; t++)); do
	(($(active "$KEY") == 3)) && break
	sleep 0.1
done

# A restart: the maglev-src VIP's hash is read back, so nothing counts as moved.
moved_before=$(vip_field "$SRC_KEY" moved_slots)
tb_lbd_stop "$P"
tb_lbd_start "$P" || fail restart "lbd did not start again"
expect restart_keeps_maglev_src_slots "moved slots $moved_before before the restart, $(vip_field "$SRC_KEY" moved_slots) after" \
	test "$(vip_field "$SRC_KEY" moved_slots)" = "$moved_before"

# Rings nobody reads: a resize leaves one ring per VIP, a deleted VIP none.
# Rings of the default size are in ring_default_map, the others in ring_map: both count.
rings() { for m in ring_map ring_default_map; do bpftool -j map dump pinned "$PIN/$m" 2>/dev/null; done | python3 -c 'import json,sys; print(sum(len(json.loads(l)) for l in sys.stdin if l.strip()))'; }
# A thread of lbd's drops them (each waits for an RCU grace period): a moment after the command.
rings_become() {
	for ((t = 0; t < 50; t++)); do
		(($(rings) == $1)) && return 0
		sleep 0.1
	done
	return 1
}
lbctl vip add "$TB_VIP4:9000/udp" --ring-size 251 >/dev/null
sed -i "s|^\(vip $TB_VIP4:9000/udp.*ring-size\) 251|\1 1021|" "$CONF"
lbctl config reload >/dev/null
expect resize_took "ring size of $TB_VIP4:9000/udp is $(vip_field "$TB_VIP4:9000/udp" ring_size)" \
	test "$(vip_field "$TB_VIP4:9000/udp" ring_size)" = 1021
rings_become 3
expect resize_drops_old_ring "$(rings) rings for 3 VIPs after a resize" test "$(rings)" = 3
lbctl vip del "$TB_VIP4:9000/udp" >/dev/null
rings_become 2
expect deleted_vip_drops_its_ring "$(rings) rings for 2 VIPs after a delete" test "$(rings)" = 2

# Flow counts in show come from the sweep (every TCP connection is remembered from its SYN).
curl_many "$TB_VIP4" 20 >/dev/null
flows_seen() {
	lbctl -j show | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(b.get("flows", 0) for v in d["vips"] for b in v["backends"]) if "flows_age_ms" in d else -1)'
}
for ((t = 0; t < 80; t++)); do
	(($(flows_seen) >= 20)) && break
	sleep 0.1
done
expect show_counts_flows_from_sweep "show counted $(flows_seen) flows after 20 connections" \
	test "$(flows_seen)" -ge 20

# Neighbour events: a client's or stranger's ARP entry changes nothing lbd
# uses and costs no sync; a backend's does.
syncs() { lbctl -j show | python3 -c 'import json,sys; print(json.load(sys.stdin)["syncs"])'; }
before=$(syncs)
ip -n "$P-lb" neigh replace 198.18.0.250 lladdr 02:00:00:00:00:fa dev eth0 nud permanent
ip -n "$P-lb" neigh replace 198.18.0.251 lladdr 02:00:00:00:00:fb dev eth0 nud permanent
sleep 0.5
expect stranger_neighbour_costs_no_sync "syncs $before before two strangers' ARP entries, $(syncs) after" \
	test "$(syncs)" = "$before"
be1_mac=$(ip -n "$P-be1" -j link show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
ip -n "$P-lb" neigh replace "$(tb_backend_addr 1 4)" lladdr "$be1_mac" dev eth0 nud permanent
sleep 0.5
expect backend_neighbour_syncs "syncs $before before a backend's ARP entry changed, $(syncs) after" \
	test "$(syncs)" -gt "$before"
ip -n "$P-lb" neigh del 198.18.0.250 dev eth0
ip -n "$P-lb" neigh del 198.18.0.251 dev eth0

# A DSR backend behind a router would loop (the router sends the packet,
# still to the VIP, back to us): kept out of a DSR VIP and said, fine for IPIP.
GW_BE=198.18.9.9
ip -n "$P-lb" route add $GW_BE/32 via "$(tb_backend_addr 2 4)"
lbctl vip add "$TB_VIP4:9100/tcp" --check none >/dev/null
lbctl vip add "$TB_VIP4:9101/tcp" --forward ipip --check none >/dev/null
lbctl backend add "$TB_VIP4:9100/tcp" $GW_BE >/dev/null
lbctl backend add "$TB_VIP4:9101/tcp" $GW_BE >/dev/null
sleep 0.5
gw_row=$(lbctl backend list "$TB_VIP4:9100/tcp" | grep "$GW_BE")
expect dsr_through_router_refused "backend row: $gw_row" \
	bash -c "grep -q 'unreachable' <<<'$gw_row' && grep -q 'through router $(tb_backend_addr 2 4)' <<<'$gw_row' && grep -q ' 0.00%' <<<'$gw_row'"
expect ipip_through_router_serves "backend row: $(lbctl backend list "$TB_VIP4:9101/tcp" | grep "$GW_BE")" \
	bash -c "'$TB_BUILD/lbctl' -s '$(tb_dir "$P")/$(tb_lbd_base).sock' backend list '$TB_VIP4:9101/tcp' | grep '$GW_BE' | grep -q active"
lbctl vip del "$TB_VIP4:9100/tcp" >/dev/null
lbctl vip del "$TB_VIP4:9101/tcp" >/dev/null

# A DSR backend that a route change puts behind a router: it leaves the
# table (it kept its slots), and a flow remembered on it is traced to it
# with the state show says, unreachable (trace said active).
NEW_GW_BE=198.18.0.252 GW_KEY=$TB_VIP4:9102/tcp
ip -n "$P-lb" neigh replace $NEW_GW_BE lladdr 02:00:00:00:00:fc dev eth0 nud permanent
lbctl vip add "$GW_KEY" --check none >/dev/null
lbctl backend add "$GW_KEY" $NEW_GW_BE >/dev/null
lbctl backend add "$GW_KEY" "$(tb_backend_addr 1 4)" >/dev/null
sleep 0.5
# traced PORT [--syn]: the backend, its state and where the flow is remembered, of a flow from the client.
traced() {
	lbctl -j trace "$TB_CLI4:$1" "$GW_KEY" "${@:2}" | python3 -c 'import json, sys
t = json.load(sys.stdin)
print(t.get("backend"), t.get("backend_state"), t.get("conn"))'
}
for ((port = 40077; port < 40177; port++)); do [[ $(traced $port --syn) == "$NEW_GW_BE "* ]] && break; done
# Its SYNs go to a MAC nobody has: the connection table remembers the flow all the same.
tb_ns "$P-cli" curl -s --max-time 1 --local-port $port "http://$TB_VIP4:9102/" >/dev/null
ip -n "$P-lb" route add $NEW_GW_BE/32 via "$(tb_backend_addr 2 4)"
# gw_row: NEW_GW_BE's state and share, as lbctl -j show gives them.
gw_row() {
	lbctl -j show | python3 -c 'import json, sys
print(next("%s %g" % (b["state"], b["share"]) for v in json.load(sys.stdin)["vips"] for b in v["backends"] if b["address"] == sys.argv[1]))' $NEW_GW_BE
}
for ((t = 0; t < 30; t++)); do [[ $(gw_row) == "unreachable 0" ]] && break; sleep 0.1; done
row=$(gw_row)
expect dsr_behind_new_router_leaves_table "show's state and share of $NEW_GW_BE: $row" test "$row" = "unreachable 0"
tr=$(traced $port)
expect trace_state_is_shown_state "show says '${row% *}'; trace of port $port says backend, state, conn: $tr" \
	test "${row% *}" = unreachable -a "${tr% *}" = "$NEW_GW_BE unreachable"
ip -n "$P-lb" route del $NEW_GW_BE/32
lbctl vip del "$GW_KEY" >/dev/null
ip -n "$P-lb" neigh del $NEW_GW_BE dev eth0

# IPIP with no outer source of the backends' family is said, not sent from ::.
lbctl vip add "[$TB_VIP6]:9200/tcp" --forward ipip --check none >/dev/null
lbctl backend add "[$TB_VIP6]:9200/tcp" "$(tb_backend_addr 1 6)" >/dev/null
src6_missing() { lbctl -j show | python3 -c 'import json,sys; print(json.load(sys.stdin)["ipip_source6_missing"])'; }
expect ipip_source_present "ipip_source6_missing is $(src6_missing) with $TB_LB6 on eth0" test "$(src6_missing)" = False
ip -n "$P-lb" addr del "$TB_LB6/64" dev eth0
sleep 0.5
expect ipip_without_source_is_said "ipip_source6_missing is $(src6_missing) with no IPv6 address on eth0" \
	test "$(src6_missing)" = True
expect ipip_without_source_is_logged "no warning in lbd's log" \
	grep -q 'no IPv6 outer source' "$(tb_dir "$P")/$(tb_lbd_base).log"
ip -n "$P-lb" addr add "$TB_LB6/64" dev eth0 nodad
sleep 0.5
expect ipip_source_back "ipip_source6_missing is $(src6_missing) once the address is back" test "$(src6_missing)" = False
lbctl vip del "[$TB_VIP6]:9200/tcp" >/dev/null

# A failed first sync (an interface named by attach is missing) and then a
# health verdict: the tables stay as the data plane had them.
tb_lbd_stop "$P"
echo "attach xe-nosuch0" >>"$CONF"
tb_lbd_start "$P" || fail restart_missing_iface "lbd did not start"
tb_health "$P" 2 503
sleep 1	# several failed checks at 200 ms: a verdict, and the rebuild it asks for
curl_many "$TB_VIP4" 20 >"$TB_DIR/missing.names"
expect failed_sync_keeps_tables "$(wc -l <"$TB_DIR/missing.names") of 20 requests answered after a verdict" \
	test "$(wc -l <"$TB_DIR/missing.names")" -eq 20
expect failed_sync_is_said "lbd's log does not name the missing interface" \
	grep -q 'xe-nosuch0' "$(tb_dir "$P")/$(tb_lbd_base).log"
tb_health "$P" 2 200
tb_lbd_stop "$P"
sed -i '/xe-nosuch0/d' "$CONF"
tb_lbd_start "$P" || fail restart_fixed "lbd did not start"

# At the VIP limit, a reload that replaces one VIP (a new port) goes through.
{
	grep -v '^vip\|^  backend' "$CONF"
	for ((i = 0; i < 512; i++)); do echo "vip 198.18.7.$((i / 200 + 1)):$((1000 + i))/udp ring-size 251"; done
} >"$TB_DIR/full.conf"
cp "$TB_DIR/full.conf" "$CONF"
expect reload_at_vip_limit "$(lbctl config reload 2>&1)" lbctl config reload
sed -i 's|^vip 198.18.7.1:1000/udp|vip 198.18.7.1:999/udp|' "$CONF"
expect reload_replaces_vip_at_limit "$(lbctl config reload 2>&1)" lbctl config reload
has_vip() { lbctl vip list | grep -q "^$1 "; }
expect replaced_vip_is_there "198.18.7.1:999/udp missing from vip list" has_vip 198.18.7.1:999/udp

# The id the replaced VIP freed goes at once to the VIP that replaces it
# (the only free one): its new ring must not be one of the rings dropped
# for the VIP that had the id. Here the replacing VIP carries traffic.
{
	grep -v '^vip\|^  backend' "$CONF"
	for ((i = 0; i < 511; i++)); do echo "vip 198.18.7.$((i / 200 + 1)):$((1000 + i))/udp ring-size 251"; done
	echo "vip $TB_VIP4:8080/tcp ring-size 1021 check none"
	echo "  backend $(tb_backend_addr 1 4)"
} >"$TB_DIR/full-vip4.conf"
cp "$TB_DIR/full-vip4.conf" "$CONF"
expect reload_full_with_vip4 "$(lbctl config reload 2>&1)" lbctl config reload
sed -i "s|^vip $TB_VIP4:8080/tcp|vip $TB_VIP4:80/tcp|" "$CONF"
expect reload_vip4_onto_freed_id "$(lbctl config reload 2>&1)" lbctl config reload
sleep 0.5	# the dropped rings are gone by now
curl_many "$TB_VIP4" 20 >"$TB_DIR/reused.names"
expect vip_on_reused_id_carries_traffic "$(wc -l <"$TB_DIR/reused.names") of 20 requests answered" \
	test "$(wc -l <"$TB_DIR/reused.names")" -eq 20
