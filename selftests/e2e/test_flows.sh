#!/usr/bin/env bash
# Established flows stay put: a long-lived TCP connection keeps its backend
# while backends are added, removed and reweighted; a drained backend keeps
# its connections (TCP and UDP) and gets no new ones; the ring slots such
# changes mark go back to plain once nothing needs them.
E2E_PREFIX=xe-flows E2E_SUITE=flows
source "$(dirname "$0")/lib.sh"
e2e_start 4
KEY="$TB_VIP4:80/tcp"
lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" >/dev/null
for i in 1 2 3; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
# Forget idle flows after 2 s (not 900), so moved slots can be seen going back to plain.
echo "conn-timeout 2" >>"$(tb_dir "$E2E_PREFIX")/$(tb_lbd_base).conf"
lbctl config reload >/dev/null

# moved_slots: the moved ring slots of every VIP, from `lbctl -j vip list`.
moved_slots() {
	lbctl -j vip list | grep -o '"moved_slots": *[0-9]*' | grep -o '[0-9]*$' | awk '{ n += $1 } END { print n + 0 }'
}

# Backends added one by one before any traffic (each in the table once its MAC is
# resolved): no flow can be on the slots that moved.
for ((t = 0; t < 50; t++)); do
	(($(lbctl backend list "$KEY" | grep -c ' active ') == 3)) && break
	sleep 0.1
done
moved=$(moved_slots)
expect fresh_vip_has_no_moved_slots "$moved slots marked moved before any packet reached the VIP" \
	test "$moved" = 0

# stream_start NAME SECONDS: a streaming GET in the background (not in a subshell: we wait for it).
stream_start() {
	ip netns exec "$E2E_PREFIX-cli" curl -sS -N --max-time 30 \
		"http://$TB_VIP4/stream?seconds=$2&interval=0.05" >"$TB_DIR/$1.out" 2>"$TB_DIR/$1.err" &
	echo $! >"$TB_DIR/$1.pid"
}

# stream_owner NAME: the backend that answered the stream's first line.
stream_owner() {
	local t
	for ((t = 0; t < 50; t++)); do
		[[ -s $TB_DIR/$1.out ]] && break
		sleep 0.1
	done
	awk 'NR == 1 { print $1 }' "$TB_DIR/$1.out"
}

# stream_intact NAME OWNER: the stream ended cleanly, every line from OWNER, none missing.
stream_intact() {
	local pid rc
	pid=$(cat "$TB_DIR/$1.pid")
	wait "$pid"
	rc=$?
	((rc == 0)) || { echo "     curl exited $rc: $(cat "$TB_DIR/$1.err")"; return 1; }
	awk -v owner="$2" '$1 != owner || $2 != NR - 1 { bad = 1 } END { exit bad || NR < 20 }' \
		"$TB_DIR/$1.out"
}

stream_start keep 5
owner=$(stream_owner keep)
if [[ -z $owner ]]; then
	fail long_lived_keeps_backend "the stream did not start"
else
	other=1
	[[ $owner == be1 ]] && other=2
	lbctl backend add "$KEY" "$(tb_backend_addr 4 4)" >/dev/null
	curl_many "$TB_VIP4" 30 >"$TB_DIR/after_add.names"
	lbctl backend del "$KEY" "$(tb_backend_addr $other 4)" >/dev/null
	curl_many "$TB_VIP4" 30 >>"$TB_DIR/after_add.names"
	lbctl backend set "$KEY" "$(tb_backend_addr 4 4)" --weight 3 >/dev/null
	lbctl backend add "$KEY" "$(tb_backend_addr $other 4)" >/dev/null
	curl_many "$TB_VIP4" 30 >>"$TB_DIR/after_add.names"
	expect long_lived_keeps_backend "the stream on $owner broke or moved" stream_intact keep "$owner"
	expect added_backend_takes_new_flows "be4 got none of 90 new flows" \
		grep -qx be4 "$TB_DIR/after_add.names"
	expect changes_fail_no_request "some of 90 requests failed during the changes" \
		test "$(wc -l <"$TB_DIR/after_add.names")" -eq 90
fi

# 9 s: longer than conn-timeout (2 s) plus a sweep (every 5 s), so a sweep
# runs while the drained backend's stream is remembered and must keep it.
stream_start drain 9
owner=$(stream_owner drain)
if [[ -z $owner ]]; then
	fail drained_backend_keeps_flows "the stream did not start"
else
	idx=${owner#be}
	lbctl backend set "$KEY" "$(tb_backend_addr "$idx" 4)" --drain >/dev/null
	state=$(lbctl backend list "$KEY" | awk -v a="$(tb_backend_addr "$idx" 4)" '$1 == a { print $3 }')
	expect drain_state_shown "backend list shows '$state', not draining" test "$state" = draining
	curl_many "$TB_VIP4" 90 >"$TB_DIR/drain.names"
	expect drained_backend_gets_no_new_flows "$(grep -cx "$owner" "$TB_DIR/drain.names") of 90 new flows went to drained $owner" \
		bash -c "! grep -qx '$owner' '$TB_DIR/drain.names' && test \$(wc -l <'$TB_DIR/drain.names') -eq 90"
	expect drained_backend_keeps_flows "the stream on drained $owner broke or moved" \
		stream_intact drain "$owner"
	lbctl backend set "$KEY" "$(tb_backend_addr "$idx" 4)" --enable >/dev/null
	# Read at once: from conn-timeout (2 s) on, a sweep may unmark them.
	moved=$(moved_slots)
	curl_many "$TB_VIP4" 60 >"$TB_DIR/enable.names"
	expect enabled_backend_takes_flows_again "$owner got none of 60 flows after --enable" \
		grep -qx "$owner" "$TB_DIR/enable.names"
fi

# slots_plain_within SECONDS: every moved slot is back to plain before then.
slots_plain_within() {
	local t
	for ((t = 0; t < $1 * 10; t++)); do
		[[ $(moved_slots) == 0 ]] && return 0
		sleep 0.1
	done
	return 1
}
expect changes_mark_moved_slots "lbctl shows '$moved' moved slots after the changes under traffic" \
	test "${moved:-0}" -gt 0

# A UDP flow has no SYN: on a drained backend's moved slots it is kept by
# the 3 s window after the change, and remembered from then on. New UDP
# flows after the window follow the new ring.
UDP_KEY="$TB_VIP4:7000/udp"
lbctl vip add "$UDP_KEY" >/dev/null
for i in 1 2 3; do lbctl backend add "$UDP_KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
ip netns exec "$E2E_PREFIX-cli" python3 "$E2E_ROOT/selftests/e2e/udp_stream.py" --dst "$TB_VIP4" \
	--count 1800 --rate 300 --ready "$TB_DIR/udp.ready" >"$TB_DIR/udp.out" 2>&1 &
udp_pid=$!
for ((t = 0; t < 50; t++)); do
	[[ -s $TB_DIR/udp.ready ]] && break
	sleep 0.1
done
udp_owner=$(cat "$TB_DIR/udp.ready" 2>/dev/null)
if [[ -z $udp_owner ]]; then
	fail udp_flow_stays_on_drained_backend "the UDP flow got no answer"
	kill "$udp_pid" 2>/dev/null
else
	lbctl backend set "$UDP_KEY" "$(tb_backend_addr "${udp_owner#be}" 4)" --drain >/dev/null
	wait "$udp_pid"
	read -r _ sent _ answered _ backends <"$TB_DIR/udp.out"
	expect udp_flow_stays_on_drained_backend "$(cat "$TB_DIR/udp.out") (drained $udp_owner)" \
		test "$sent" = 1800 -a "$answered" = 1800 -a "$backends" = "$udp_owner"
	: >"$TB_DIR/udp_new.names"
	for ((f = 0; f < 12; f++)); do
		ip netns exec "$E2E_PREFIX-cli" python3 "$E2E_ROOT/selftests/e2e/udp_stream.py" --dst "$TB_VIP4" \
			--count 5 --rate 100 | awk '{ print $6 }' >>"$TB_DIR/udp_new.names"
	done
	expect udp_new_flows_avoid_drained_backend "new UDP flows went to: $(tr '\n' ' ' <"$TB_DIR/udp_new.names")" \
		bash -c "! grep -q '$udp_owner' '$TB_DIR/udp_new.names' && test \$(grep -c . '$TB_DIR/udp_new.names') -eq 12"
	# A later change that moves other slots (a slow-start step does so every
	# second) opens a window for those slots only: new flows on the slots the
	# drain moved long ago still avoid the drained backend.
	keep=1
	[[ $udp_owner == be1 ]] && keep=2
	lbctl backend set "$UDP_KEY" "$(tb_backend_addr $keep 4)" --weight 3 >/dev/null
	later_pids=()
	for ((f = 0; f < 16; f++)); do
		ip netns exec "$E2E_PREFIX-cli" python3 "$E2E_ROOT/selftests/e2e/udp_stream.py" --dst "$TB_VIP4" \
			--count 2 --rate 100 >"$TB_DIR/udp_later.$f" &
		later_pids+=($!)
	done
	wait "${later_pids[@]}"
	cat "$TB_DIR"/udp_later.* | awk '{ print $6 }' >"$TB_DIR/udp_later.names"
	expect later_change_keeps_drained_backend_out "new UDP flows right after a later change went to: $(tr '\n' ' ' <"$TB_DIR/udp_later.names")" \
		bash -c "! grep -q '$udp_owner' '$TB_DIR/udp_later.names' && test \$(grep -c . '$TB_DIR/udp_later.names') -eq 16"
fi

# No stream is left, so once conn-timeout has passed the next sweep (every 5 s) unmarks them all
# (the TCP VIP's, and the UDP VIP's once its flow's entry has gone idle).
expect moved_slots_return_to_plain "$(moved_slots) slots still marked moved 15 s after the last change" \
	slots_plain_within 15
curl_many "$TB_VIP4" 30 >"$TB_DIR/plain.names"
expect plain_slots_serve_new_flows "$(wc -l <"$TB_DIR/plain.names") of 30 requests succeeded after the sweep" \
	test "$(wc -l <"$TB_DIR/plain.names")" -eq 30

# The sweep's reads of conn_map and moved_map are its reader thread's, never
# the loop's: one batch read of a sparse hash walks every empty bucket (26
# ms at conn-table-size 8M, ~200 ms at 64M), and VRRP adverts and probes
# would wait that long. strace shows which thread makes each read; the
# sweep's are the batches of 1024 (SWEEP_BATCH), begun every 5 s.
lbd_pid=$(cat "$(tb_dir "$E2E_PREFIX")/$(tb_lbd_base).pid")
timeout 11 strace -f -qq -p "$lbd_pid" -e trace=bpf -o "$TB_DIR/sweep.strace" 2>/dev/null || true
sweep_reads() {	# WHO: main (lbd's loop) or other (its threads)
	grep 'BPF_MAP_LOOKUP_BATCH' "$TB_DIR/sweep.strace" | grep 'count=1024' |
		awk -v pid="$lbd_pid" -v who="$1" '($1 == pid) == (who == "main") { n++ } END { print n + 0 }'
}
expect sweep_reads_off_the_loop "the loop made $(sweep_reads main) of the sweep's batch reads, other threads $(sweep_reads other)" \
	test "$(sweep_reads main)" -eq 0 -a "$(sweep_reads other)" -gt 0

# A table a whole pass found empty is not read again until a flow is
# written into it (the program counts its writes: conn_written,
# moved_written): reading an empty hash map walks all its buckets (26 ms
# an 8M-entry table, every pass), and moved_map is nearly always empty.
# The requests above are forgotten by now (conn-timeout 2 s), so passes
# leave both tables unread; a new connection has the next pass read
# conn_map again.
left_after() {	# LEFT SECONDS: the passes have left more than LEFT table reads out within SECONDS
	local t
	for ((t = 0; t < $2 * 5; t++)); do
		(($(show_field sweep_tables_left) > $1)) && return 0
		sleep 0.2
	done
	return 1
}
left_after "$(($(show_field sweep_tables_left) + 1))" 20 || true
left=$(show_field sweep_tables_left)
timeout 11 strace -f -qq -p "$lbd_pid" -e trace=bpf -o "$TB_DIR/idle.strace" 2>/dev/null || true
idle_reads=$(grep 'BPF_MAP_LOOKUP_BATCH' "$TB_DIR/idle.strace" | grep -c 'count=1024')
expect empty_tables_left_unread "$idle_reads batch reads of the tables in 11 s with no flow written; table reads left out: $left, then $(show_field sweep_tables_left)" \
	test "$idle_reads" -eq 0 -a "$(show_field sweep_tables_left)" -ge $((left + 2))
# One connection: the next pass (within 5 s) reads conn_map again. (Its
# flow may be forgotten by then, not counted: conn-timeout 2 s is less
# than the 4 s between refreshes of a TCP flow's `seen`.)
timeout 8 strace -f -qq -p "$lbd_pid" -e trace=bpf -o "$TB_DIR/written.strace" 2>/dev/null &
strace_pid=$!
sleep 1
curl_many "$TB_VIP4" 1 >/dev/null
wait "$strace_pid" 2>/dev/null || true
written_reads=$(grep 'BPF_MAP_LOOKUP_BATCH' "$TB_DIR/written.strace" | grep -c 'count=1024')
expect written_table_read_again "after a connection (conn_written now $(lbctl -j stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["counters"]["conn_written"])')), $written_reads batch reads in 7 s" \
	test "$written_reads" -gt 0
