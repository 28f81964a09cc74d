#!/usr/bin/env bash
# The per-flow schedulers with real curl: rr takes the backends in turn,
# wrr by weight and interleaved, lc sends no new flow to a backend holding
# long downloads while the others hold fewer, every download keeps its
# backend to the end, and the active flows go back to zero when the flows
# end (FIN, or the sweep for a UDP flow idle past conn-timeout).
E2E_PREFIX=xe-sched E2E_SUITE=sched
source "$(dirname "$0")/lib.sh"
e2e_start 3
KEY="$TB_VIP4:80/tcp"
lbctl attach eth0 >/dev/null

# active BACKEND_NUMBER: the backend's active flows in `lbctl -j backend list`.
active() {
	lbctl -j backend list "$KEY" | python3 -c '
import json, sys
for b in json.load(sys.stdin)["backends"]:
    if b["address"] == sys.argv[1]:
        print(b.get("active_flows", "none"))' "$(tb_backend_addr "$1" 4)"
}
all_active() { echo "$(active 1) $(active 2) $(active 3)"; }
# ---- rr: 30 new connections go be1 be2 be3 in turn, each backend 10 ----
lbctl vip add "$KEY" --sched rr >/dev/null
for i in 1 2 3; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
active_within "$KEY" 3 || fail setup "the backends did not all come into the table"
curl_many "$TB_VIP4" 30 >"$TB_DIR/rr.names"
first=$(head -1 "$TB_DIR/rr.names")
# The turn starts where it stands; from there, the order of the config, round and round.
order=$(tr '\n' ' ' <"$TB_DIR/rr.names")
want="" n=${first#be}
for ((i = 0; i < 30; i++)); do want+="be$(((n - 1 + i) % 3 + 1)) "; done
expect rr_in_turn "30 connections went: $order" test "$order" = "$want"
# vip set: the scheduler changes in place, and the VIP goes on serving.
lbctl vip set "$KEY" --sched lc >/dev/null
curl_many "$TB_VIP4" 6 >"$TB_DIR/set.names"
expect vip_set_changes_sched "after vip set --sched lc: $(lbctl config show | grep "^vip $KEY"); $(grep -c . "$TB_DIR/set.names") of 6 answered" \
	test "$(lbctl config show | grep -c "^vip $KEY .*sched lc")/$(grep -c . "$TB_DIR/set.names")" = 1/6
lbctl vip set "$KEY" --sched rr >/dev/null
lbctl vip list >"$TB_DIR/vips"
expect vip_list_shows_sched "vip list: $(grep "$TB_VIP4" "$TB_DIR/vips")" grep -q "$TB_VIP4:80/tcp  *dsr  *rr " "$TB_DIR/vips"
sleep 0.5
expect rr_counts_back_to_zero "active flows after the connections closed: $(all_active)" test "$(all_active)" = "0 0 0"
lbctl vip del "$KEY" >/dev/null

# ---- wrr: weights 3 1 1 over 15 connections: be1 be1 be2 be1 be3, five times ----
lbctl vip add "$KEY" --sched wrr >/dev/null
lbctl backend add "$KEY" "$(tb_backend_addr 1 4)" --weight 3 >/dev/null
for i in 2 3; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
active_within "$KEY" 3 || fail setup "the backends did not all come into the table"
curl_many "$TB_VIP4" 15 >"$TB_DIR/wrr.names"
counts=$(for i in 1 2 3; do grep -cx "be$i" "$TB_DIR/wrr.names"; done | tr '\n' ' ')
# The interleaving: no backend of weight 3 three times in a row anywhere in the cycle.
runs=$(uniq -c "$TB_DIR/wrr.names" | awk '$1 > 2' | wc -l)
expect wrr_by_weight "15 connections per backend: $counts; order $(tr '\n' ' ' <"$TB_DIR/wrr.names")" \
	test "$counts" = "9 3 3 " -a "$runs" = 0
lbctl vip del "$KEY" >/dev/null

# ---- lc: be1 holds 5 long downloads; new connections go to be2 and be3 ----
lbctl vip add "$KEY" --sched lc >/dev/null
for i in 1 2 3; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
active_within "$KEY" 3 || fail setup "the backends did not all come into the table"
# Only be1 in the table while the downloads start: they all go to it.
lbctl backend set "$KEY" "$(tb_backend_addr 2 4)" --down >/dev/null
lbctl backend set "$KEY" "$(tb_backend_addr 3 4)" --down >/dev/null
active_within "$KEY" 1 || fail setup "be2 and be3 did not leave the table"
dl_pids=()
for ((i = 0; i < 5; i++)); do
	ip netns exec "$E2E_PREFIX-cli" curl -sS --max-time 20 -o "$TB_DIR/dl$i.out" \
		"http://$TB_VIP4/stream?seconds=6&interval=0.1" 2>"$TB_DIR/dl$i.err" &
	dl_pids+=($!)
done
sleep 1
held=$(all_active)
lbctl backend set "$KEY" "$(tb_backend_addr 2 4)" --auto >/dev/null
lbctl backend set "$KEY" "$(tb_backend_addr 3 4)" --auto >/dev/null
active_within "$KEY" 3 || fail setup "be2 and be3 did not come back"
curl_many "$TB_VIP4" 20 >"$TB_DIR/lc.names"
to1=$(grep -cx be1 "$TB_DIR/lc.names")
expect lc_downloads_counted "active flows with 5 downloads on be1: $held" test "$held" = "5 0 0"
expect lc_spares_loaded_backend "20 short connections while be1 held 5: $to1 to be1, $(grep -c . "$TB_DIR/lc.names") answered" \
	test "$to1" = 0 -a "$(grep -c . "$TB_DIR/lc.names")" = 20
bad=0
for ((i = 0; i < 5; i++)); do
	wait "${dl_pids[$i]}" || bad=$((bad + 1))
	# One backend from the first line to the last: be1.
	awk 'NR == 1 { n = $1 } $1 != n || n != "be1" { bad = 1 } END { exit bad || NR < 30 }' "$TB_DIR/dl$i.out" ||
		bad=$((bad + 1))
done
expect lc_flows_keep_backend "$bad of 5 downloads broken or moved" test $bad = 0
sleep 0.5
expect lc_counts_back_to_zero "active flows after every download ended: $(all_active)" test "$(all_active)" = "0 0 0"
lbctl vip del "$KEY" >/dev/null

# ---- persistence: a client's connections stay on one backend, whatever rr says ----
lbctl vip add "$KEY" --sched rr --persist 3s >/dev/null
for i in 1 2 3; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
active_within "$KEY" 3 || fail setup "the backends did not all come into the table"
curl_many "$TB_VIP4" 50 >"$TB_DIR/persist.names"
kept=$(sort -u "$TB_DIR/persist.names" | tr '\n' ' ')
expect persist_keeps_backend "50 connections from one client went to: $kept($(grep -c . "$TB_DIR/persist.names") answered)" \
	test "$(sort -u "$TB_DIR/persist.names" | wc -l)/$(grep -c . "$TB_DIR/persist.names")" = 1/50
lbctl -j persist show "$KEY" >"$TB_DIR/persist.json"
shown=$(python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["clients"]; print(len(c), c[0]["client"] if c else "")' "$TB_DIR/persist.json")
expect persist_show_lists_client "persist show: $shown" test "$shown" = "1 $TB_CLI4"
flushed=$(lbctl persist flush "$KEY" | tail -1)
after=$(curl_many "$TB_VIP4" 1)
expect persist_flush_forgets "flush said '$flushed'; the next connection went to $after (kept was $kept)" \
	test "$flushed" = "flushed 1" -a -n "$after" -a "$after " != "$kept"
sleep 3.5
late=$(curl_many "$TB_VIP4" 1)
expect persist_expires "after 3.5 s quiet the next connection went to $late (before: $after)" \
	test -n "$late" -a "$late" != "$after"
lbctl vip del "$KEY" >/dev/null
lbctl vip add "$KEY" >/dev/null
out=$(lbctl persist show "$KEY" 2>&1)
expect persist_show_needs_persistence "persist show on a VIP without it: $out" \
	bash -c "[[ '$out' == *'has no persistence'* ]]"
lbctl vip del "$KEY" >/dev/null

# ---- a flow that never ends (UDP) is counted until the sweep forgets it ----
UKEY="$TB_VIP4:5353/udp"
echo "conn-timeout 2" >>"$(tb_dir "$E2E_PREFIX")/$(tb_lbd_base).conf"
lbctl config reload >/dev/null
lbctl vip add "$UKEY" --sched lc --check none >/dev/null
lbctl backend add "$UKEY" "$(tb_backend_addr 1 4)" >/dev/null
active_within "$UKEY" 1 || fail setup "be1 did not come into the UDP VIP's table"
uactive() { lbctl -j backend list "$UKEY" | python3 -c 'import json, sys; print(json.load(sys.stdin)["backends"][0]["active_flows"])'; }
for p in 40001 40002 40003; do
	ip netns exec "$E2E_PREFIX-cli" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", int(sys.argv[2]))); s.sendto(b"x", (sys.argv[1], 5353))' \
		"$TB_VIP4" "$p"
done
counted=$(uactive)
gone=""
for ((t = 0; t < 120; t++)); do
	[[ $(uactive) == 0 ]] && { gone=$((t / 10)); break; }
	sleep 0.1
done
expect udp_flows_counted "3 UDP flows: $counted active" test "$counted" = 3
expect sweep_releases_counts "active flows after conn-timeout 2 s: $(uactive) (gone after ${gone:-never} s)" test -n "$gone"
lbctl vip del "$UKEY" >/dev/null

# ---- bad input ----
out=$(lbctl vip add "$KEY" --sched fastest 2>&1)
expect bad_sched_refused "lbctl vip add --sched fastest: $out" \
	bash -c "[[ '$out' == *'sched'*'fastest'*'rr'* ]]"
e2e_finish
