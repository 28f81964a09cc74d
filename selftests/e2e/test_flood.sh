#!/usr/bin/env bash
# Under a SYN flood: xlbgen sends SYNs from ever new sources (198.19.0.0/16,
# 60000 ports each) as fast as this rig lets it, into a connection table of
# 65536, while 20 long downloads (10 begun before a drain moved be1's slots,
# 10 after) and a loop of new curl connections run through the VIP. Every
# download must come whole from one backend, the curl loop must succeed
# (its rate is printed), and the downloads must still be remembered after
# the flood: the flood's SYNs stay in syn_map and never push a connection
# out of conn_map (before syn_map, every SYN went into conn_map, and the
# flood evicted them all).
E2E_PREFIX=xe-flood E2E_SUITE=flood
source "$(dirname "$0")/lib.sh"
P=$E2E_PREFIX
flood_pid= loop_pid=
# At any exit: the loops stop, and the generator's round ends before its namespace goes.
stop_all() {
	touch "$TB_DIR/flood.stop" 2>/dev/null
	[[ -z $loop_pid ]] || kill "$loop_pid" 2>/dev/null
	[[ -z $flood_pid ]] || wait "$flood_pid" 2>/dev/null
	ip netns del $P-gen 2>/dev/null
	e2e_finish
}
trap stop_all EXIT
trap 'exit 130' INT TERM
tb_bpffs_up
tb_down $P >/dev/null 2>&1
ip netns del $P-gen 2>/dev/null
if ! tb_up $P 3; then
	fail setup "the test bed did not come up"
	exit 1
fi
echo "conn-table-size 65536" >"$(tb_dir $P)/lbd.conf"
tb_lbd_start $P || { fail setup "lbd did not start"; exit 1; }
for i in 1 2 3; do tb_wait_http $P "$i" || { fail setup "backend be$i does not answer HTTP"; exit 1; }; done
# The generator: a port of its own on the switch, XDP on the switch's side so that live frames can cross the veth.
ip netns add $P-gen
tb_port $P $P-gen gen
ip -n $P-gen addr add 198.18.0.50/24 dev eth0
ip -n $P-sw link set gen xdp obj "$TB_BUILD/xdp_pass.bpf.o" sec xdp
KEY="$TB_VIP4:80/tcp"
lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" >/dev/null
for i in 1 2 3; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
active_within "$KEY" 3 || fail setup "the backends did not all come into the table"
LMAC=$(ip -n $P-lb link show eth0 | awk '/link\/ether/ { print $2 }')
if live_frames_refused $P-gen eth0 "$LMAC"; then
	skip flood "this kernel refuses BPF_PROG_TEST_RUN's live frames (EPERM): xlbgen cannot send the flood"
	exit 0
fi
pin=$(tb_pin_dir $P)
entries() { bpftool map dump pinned "$pin/$1" 2>/dev/null | grep -c '"key"'; }

S=10 I=0.05
MIN_LINES=$(awk -v s=$S -v i=$I 'BEGIN { printf "%d", s / i * 0.9 }')
DL=()
# downloads N FIRST_PORT: N long downloads from ports FIRST_PORT.., in the background.
downloads() {
	local i
	for ((i = 0; i < $1; i++)); do
		ip netns exec $P-cli curl -sS --max-time $((S + 15)) --local-port $(($2 + i)) \
			-o "$TB_DIR/dl${#DL[@]}.out" "http://$TB_VIP4/stream?seconds=$S&interval=$I" 2>"$TB_DIR/dl${#DL[@]}.err" &
		DL+=($!)
	done
}
downloads 10 41000
sleep 0.5
lbctl backend set "$KEY" "$(tb_backend_addr 1 4)" --drain >/dev/null || fail setup "backend set --drain refused"
sleep 0.3
downloads 10 41100
sleep 0.5

# The flood, in rounds of a million SYNs over 4 million tuples, until the downloads are done.
(
	while [[ ! -e $TB_DIR/flood.stop ]]; do
		ip netns exec $P-gen "$TB_BUILD/xlbgen" --dev eth0 --dst-mac "$LMAC" --src 198.19.0.0 \
			--dst $TB_VIP4 --dport 80 --proto syn --flows 4000000 --packets 1000000 --cpu 1 \
			--expect-mac 02:00:00:00:00:01 >>"$TB_DIR/gen.out" 2>&1 || break
	done
) &
flood_pid=$!
# The loop of new connections, one after the other.
(
	ok=0 n=0
	while :; do
		n=$((n + 1))
		ip netns exec $P-cli curl -sS --fail --max-time 5 -H 'Connection: close' -o /dev/null \
			"http://$TB_VIP4/" 2>>"$TB_DIR/loop.err" && ok=$((ok + 1))
		# Renamed into place: the kill below may come mid-write, and a truncated count reads as none.
		echo "$ok $n" >"$TB_DIR/loop.count.new" && mv -f "$TB_DIR/loop.count.new" "$TB_DIR/loop.count"
		sleep 0.1
	done
) &
loop_pid=$!

bad=0
for ((i = 0; i < ${#DL[@]}; i++)); do
	if ! wait "${DL[$i]}" || ! awk -v min="$MIN_LINES" 'NR == 1 { name = $1 } $1 != name || $2 != NR - 1 { bad = 1 }
		END { exit !(!bad && NR >= min) }' "$TB_DIR/dl$i.out"; then
		bad=$((bad + 1))
		echo "     download $i: $(wc -l <"$TB_DIR/dl$i.out") lines, $(head -c 160 "$TB_DIR/dl$i.err")"
	fi
done
kill $loop_pid 2>/dev/null; wait $loop_pid 2>/dev/null
loop_pid=
read -r loop_ok loop_n <"$TB_DIR/loop.count"
# The flood's share of the table, before it stops.
syn_n=$(entries syn_map) conn_n=$(entries conn_map) moved_n=$(entries moved_map)
# The round under way ends by itself: its xlbgen holds the sink on eth0 until then.
touch "$TB_DIR/flood.stop"
wait $flood_pid 2>/dev/null
flood_pid=
sent=$(awk '{ s += $2 } END { print s + 0 }' "$TB_DIR/gen.out")
rate=$(awk '{ s += $2; t += $10 } END { printf "%.2f", t ? s / t / 1000 : 0 }' "$TB_DIR/gen.out")
echo "     flood: $sent SYNs at $rate Mpps; curl loop $loop_ok of $loop_n; syn_map $syn_n, conn_map $conn_n, moved_map $moved_n"

kept=0
for ((i = 0; i < 10; i++)); do
	flow_remembered "$pin" $TB_CLI4 $((41000 + i)) $TB_VIP4 80 && kept=$((kept + 1))
	flow_remembered "$pin" $TB_CLI4 $((41100 + i)) $TB_VIP4 80 && kept=$((kept + 1))
done
expect flood_was_sent "xlbgen sent $sent SYNs (at least a million)" test "$sent" -ge 1000000
expect downloads_intact "$bad of 20 downloads broken under the flood" test "$bad" -eq 0
expect curl_loop_succeeds "$loop_ok of $loop_n new connections answered during the flood" \
	test "$loop_n" -ge 10 -a $((loop_ok * 100)) -ge $((loop_n * 95))
expect downloads_remembered "$kept of 20 downloads still in the table after $sent SYNs" test "$kept" -eq 20
expect flood_kept_out_of_conn_map "conn_map $conn_n entries (65536 slots), syn_map $syn_n" \
	test "$conn_n" -lt 1000 -a "$syn_n" -gt 1000
expect flood_counted "syn_confirmed $(lbctl -j stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["counters"]["syn_confirmed"])') (the real connections' first ACKs)" \
	test "$(lbctl -j stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["counters"]["syn_confirmed"])')" -gt 20
e2e_finish
