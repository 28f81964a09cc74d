#!/usr/bin/env bash
# Restarting lbd does not stop forwarding: while a UDP flow and a TCP
# stream run through the VIP, lbd is stopped, left down, and started again.
# Every datagram must be answered, the TCP stream must end intact on its
# backend, and the new lbd must adopt the same attached program and state.
# A crash (SIGSEGV) leaves its stack in the log and forwarding running.
E2E_PREFIX=xe-restart E2E_SUITE=restart
source "$(dirname "$0")/lib.sh"
e2e_start 3
UDP_KEY="$TB_VIP4:7000/udp" TCP_KEY="$TB_VIP4:80/tcp"
lbctl attach eth0 >/dev/null
for key in "$UDP_KEY" "$TCP_KEY"; do
	lbctl vip add "$key" >/dev/null
	for i in 1 2 3; do lbctl backend add "$key" "$(tb_backend_addr "$i" 4)" >/dev/null; done
done
prog_id() { lbctl -j show | python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["prog_id"])'; }
before_id=$(prog_id)
# Without the backends' rows and headers: FLOWS comes once a sweep pass has counted them.
before_show=$(lbctl show | grep -v -e '^ *[0-9.]* *[0-9]* *active' -e '^  BACKEND ')

ip netns exec "$E2E_PREFIX-cli" python3 "$E2E_ROOT/selftests/e2e/udp_stream.py" --dst "$TB_VIP4" \
	--count 1500 --rate 300 --ready "$TB_DIR/udp.ready" >"$TB_DIR/udp.out" 2>&1 &
udp_pid=$!
ip netns exec "$E2E_PREFIX-cli" curl -sS -N --max-time 30 \
	"http://$TB_VIP4/stream?seconds=5&interval=0.05" >"$TB_DIR/tcp.out" 2>"$TB_DIR/tcp.err" &
tcp_pid=$!
for ((t = 0; t < 50; t++)); do
	[[ -e $TB_DIR/udp.ready && -s $TB_DIR/tcp.out ]] && break
	sleep 0.1
done
sleep 0.5
tb_lbd_stop "$E2E_PREFIX"
attached=$(ip -n "$E2E_PREFIX-lb" link show eth0 | grep -c 'prog/xdp')
expect program_stays_attached_without_lbd "eth0 lost its XDP program when lbd stopped" test "$attached" -eq 1
sleep 1
tb_lbd_start "$E2E_PREFIX" || fail lbd_restarts "the second lbd did not start"
# The adopted counters hold every packet since the program was loaded: the
# new lbd's first sample is a base, not a rate (it reported them all as
# one second's packets). The flow runs at 300 a second.
udp_pps() {
	lbctl -j stats | python3 -c 'import json,sys
s = json.load(sys.stdin)
v = [v for v in s["vips"] if v["vip"] == sys.argv[1]][0]
print(v["pps"], v["packets"])' "$UDP_KEY"
}
max_pps=0
for ((t = 0; t < 12; t++)); do
	read -r pps packets < <(udp_pps)
	((pps > max_pps)) && max_pps=$pps
	sleep 0.2
done
expect rate_after_restart_is_not_the_total "$max_pps packets a second after the restart, of $packets since load, at 300 a second" \
	test "$max_pps" -le 450

wait $udp_pid
read -r _ sent _ answered _ backends <"$TB_DIR/udp.out"
expect udp_flow_loses_no_packet "$(cat "$TB_DIR/udp.out")" \
	test "$sent" = 1500 -a "$answered" = 1500 -a "${backends//,/}" = "$backends"
wait $tcp_pid
tcp_rc=$?
owner=$(awk 'NR == 1 { print $1 }' "$TB_DIR/tcp.out")
expect tcp_stream_survives_restart "curl exited $tcp_rc ($(cat "$TB_DIR/tcp.err")) or lines missing/moved" \
	awk -v rc=$tcp_rc -v owner="$owner" \
	'$1 != owner || $2 != NR - 1 { bad = 1 } END { exit rc || bad || NR < 50 }' "$TB_DIR/tcp.out"

expect new_lbd_adopts_program "program id $before_id before, $(prog_id) after" test "$(prog_id)" = "$before_id"
after_show=$(lbctl show | grep -v -e '^ *[0-9.]* *[0-9]* *active' -e '^  BACKEND ')
expect new_lbd_keeps_config "lbctl show differs after restart: $(diff <(echo "$before_show") <(echo "$after_show"))" test "$before_show" = "$after_show"
curl_many "$TB_VIP4" 30 >"$TB_DIR/after.names"
expect new_lbd_serves_new_flows "$(wc -l <"$TB_DIR/after.names") of 30 requests answered" \
	test "$(wc -l <"$TB_DIR/after.names")" -eq 30

# ---- a crash: its stack is in the log, and forwarding goes on without lbd ----
LOG=$(tb_dir "$E2E_PREFIX")/lbd.log
TB_SIGNAL=SEGV tb_lbd_stop "$E2E_PREFIX"
expect crash_logs_its_stack "the log's last lines: $(tail -n 5 "$LOG")" \
	awk '/^lbd: fatal signal 11 \(SEGV\)/ { said = 1 } said && /lbd\(/ { frames++ } END { exit !(frames >= 2) }' "$LOG"
curl_many "$TB_VIP4" 10 >"$TB_DIR/crashed.names"
expect forwarding_outlives_a_crash "$(wc -l <"$TB_DIR/crashed.names") of 10 requests answered with lbd dead" \
	test "$(wc -l <"$TB_DIR/crashed.names")" -eq 10

# ---- an older lbd's pinned rings: one slot an 8-byte element ----
# This lbd's rings hold four 16-bit slots an element, and an outer map of rings
# takes inner maps of its first layout only: reused, the older one would
# have the verifier refuse the program. The new lbd replaces it, attaches
# its own program in place of the one on the old rings, builds every ring
# again, and serves.
PIN=$(tb_pin_dir "$E2E_PREFIX")
rm -f "$PIN/ring_default_map"
bpftool map create "$PIN/old_ring" type array key 4 value 4 entries 65537 name old_ring flags 1024 &&
	bpftool map create "$PIN/ring_default_map" type array_of_maps key 4 value 4 entries 1024 \
		name ring_default_map inner_map pinned "$PIN/old_ring" &&
	bpftool map update pinned "$PIN/ring_default_map" key 0 0 0 0 value pinned "$PIN/old_ring"
rm -f "$PIN/old_ring"
tb_lbd_start "$E2E_PREFIX" || true
expect older_rings_replaced "the log's last lines: $(tail -n 3 "$LOG")" \
	grep -q "ring_default_map holds rings of an older lbd's layout" "$LOG"
# requests_after_upgrade FILE: 30 requests' answers into FILE, once one is
# answered (a request that met no ring yet waits out its SYN's
# retransmission, and curl gives up after 5 s).
requests_after_upgrade() {
	for ((t = 0; t < 6; t++)); do
		curl_many "$TB_VIP4" 1 | grep -q . && break
		sleep 0.1
	done
	curl_many "$TB_VIP4" 30 >"$1"
}
requests_after_upgrade "$TB_DIR/upgraded.names"
# The old program would answer them too, without lbd: lbd must run, on its own program.
expect serves_after_older_rings "$(wc -l <"$TB_DIR/upgraded.names") of 30 requests answered; lbd's program: $(prog_id 2>&1 | tail -n 1) (the old one was $before_id)" \
	bash -c "test \$(wc -l <'$TB_DIR/upgraded.names') -eq 30 && test '$(prog_id 2>/dev/null)' != '$before_id' && test -n '$(prog_id 2>/dev/null)'"

# ---- the layout before this one: two 32-bit slots an element, untagged ----
# Its ring_map (BPF_F_INNER_MAP) takes rings of any size, so only the rings
# in it tell: a ring of the last layout there must not be read as slots of
# 16 bits. Both maps start afresh again.
tb_lbd_stop "$E2E_PREFIX"
seen=$(wc -l <"$LOG")
rm -f "$PIN/ring_default_map" "$PIN/ring_map"
bpftool map create "$PIN/old_ring" type array key 4 value 8 entries 32769 name old_ring flags 1024 &&
	bpftool map create "$PIN/ring_default_map" type array_of_maps key 4 value 4 entries 1024 \
		name ring_default_map inner_map pinned "$PIN/old_ring" &&
	bpftool map create "$PIN/old_small" type array key 4 value 8 entries 126 name old_small flags 5120 &&
	bpftool map create "$PIN/ring_map" type array_of_maps key 4 value 4 entries 1024 \
		name ring_map inner_map pinned "$PIN/old_small" &&
	bpftool map update pinned "$PIN/ring_map" key 5 0 0 0 value pinned "$PIN/old_small"
rm -f "$PIN/old_ring" "$PIN/old_small"
tb_lbd_start "$E2E_PREFIX" || true
expect pair_rings_replaced "the log's last lines: $(tail -n 4 "$LOG")" \
	bash -c "tail -n +$((seen + 1)) '$LOG' | grep -q \"ring_default_map holds rings of an older lbd's layout\" &&
		tail -n +$((seen + 1)) '$LOG' | grep -q \"ring_map holds rings of an older lbd's layout\""
requests_after_upgrade "$TB_DIR/pairs.names"
expect serves_after_pair_rings "$(wc -l <"$TB_DIR/pairs.names") of 30 requests answered" \
	test "$(wc -l <"$TB_DIR/pairs.names")" -eq 30
