#!/usr/bin/env bash
# A connection table full of live TCP connections that nothing changes is
# not read every 5 s pass: a read costs about 0.5 us an entry, and only
# moved slots (to unmark) and the per-flow schedulers (to release counted
# flows) need one each pass. conn_fill writes 600,000 live flows; lbd's
# first read of them sets the wait to 30 s (1/20 ms an entry: reads near
# 1% of a core; at most an eighth of conn-timeout), and strace shows no
# read of conn_map in the passes after it, while FLOWS keeps the counts. A
# per-flow VIP, and then moved slots, have every pass read it again.
E2E_PREFIX=xe-sweep E2E_SUITE=sweep
source "$(dirname "$0")/lib.sh"
e2e_start 2
KEY="$TB_VIP4:80/tcp"
N=600000
lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" >/dev/null
for i in 1 2; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
PIN=$(tb_pin_dir "$E2E_PREFIX")
lbd_pid=$(cat "$(tb_dir "$E2E_PREFIX")/$(tb_lbd_base).pid")
"$TB_BUILD/conn_fill" "$PIN/conn_map" $N "$TB_VIP4" 80 1 >/dev/null || fail setup "conn_fill wrote no flows"

flows_total() {
	lbctl -j show | python3 -c '
import json, sys
print(sum(b.get("flows", 0) for v in json.load(sys.stdin)["vips"] for b in v["backends"]))'
}
# conn_reads SECONDS: the sweep's batch reads of conn_map in that long (moved_map is empty: left unread).
conn_reads() {
	timeout "$1" strace -f -qq -p "$lbd_pid" -e trace=bpf -o "$TB_DIR/reads.strace" 2>/dev/null || true
	grep 'BPF_MAP_LOOKUP_BATCH' "$TB_DIR/reads.strace" | grep -c 'count=1024'
}

# A first pass may have read the table while conn_fill wrote it: wait for a whole read.
for ((t = 0; t < 225; t++)); do
	(($(show_field sweep_conn_every_ms) == N / 20)) && break
	sleep 0.2
done
expect wait_follows_the_table "sweep_conn_every_ms $(show_field sweep_conn_every_ms) after a read of $N flows" \
	test "$(show_field sweep_conn_every_ms)" -eq $((N / 20))
passes=$(show_field sweep_passes) waits=$(show_field sweep_conn_waits)
reads=$(conn_reads 9)
passes=$(($(show_field sweep_passes) - passes)) waits=$(($(show_field sweep_conn_waits) - waits))
expect steady_table_left_unread "$reads batch reads of conn_map in 9 s, over $passes passes ($waits waited)" \
	test "$reads" -eq 0 -a "$passes" -ge 1 -a "$waits" -ge 1
expect counts_kept_while_waiting "FLOWS $(flows_total) for $N flows, counted $(show_field flows_age_ms) ms ago" \
	test "$(flows_total)" -eq $N -a "$(show_field flows_age_ms)" -gt 5000
show_says_age() { lbctl show | grep -q "^FLOWS counted [0-9]* s ago"; }
expect show_says_flows_age "lbctl show: $(lbctl show | head -n 4 | tr '\n' '|')" show_says_age

# A per-flow VIP: its counted flows are released by the sweep, so every pass reads conn_map.
lbctl vip add "$TB_VIP4:81/tcp" --sched rr >/dev/null
lbctl backend add "$TB_VIP4:81/tcp" "$(tb_backend_addr 1 4)" >/dev/null
reads=$(conn_reads 7)
expect per_flow_vip_reads_each_pass "$reads batch reads of conn_map in 7 s with an rr VIP" test "$reads" -ge $((N / 1024))
lbctl vip del "$TB_VIP4:81/tcp" >/dev/null

# Moved slots: the VIP has carried traffic, a drain moves be2's slots, and
# unmarking them needs to know which hold live flows: every pass reads.
curl_many "$TB_VIP4" 10 >/dev/null
lbctl backend set "$KEY" "$(tb_backend_addr 2 4)" --drain >/dev/null
reads=$(conn_reads 7)
expect moved_slots_read_each_pass "$reads batch reads of conn_map in 7 s with moved slots" test "$reads" -ge $((N / 1024))
