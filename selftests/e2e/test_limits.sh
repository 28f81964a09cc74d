#!/usr/bin/env bash
# Per-source limits and allow/deny lists with real curl from three client
# addresses: one client over its new-flow limit is throttled while another's
# curls all succeed; a denied prefix gets nothing through, an allowed one
# everything; the VIP's own list decides before the global one; a list of
# 100,000 prefixes from a file is taken whole; malformed lists are refused
# and change nothing; each drop is counted (stats, top, acl show, metrics).
E2E_PREFIX=xe-limits E2E_SUITE=limits
source "$(dirname "$0")/lib.sh"
e2e_start 3
P=$E2E_PREFIX
KEY="$TB_VIP4:80/tcp"
A=198.18.0.20 B=198.18.0.30 A6=2001:db8::20 B6=2001:db8::30
ip -n $P-cli addr add $A/24 dev eth0
ip -n $P-cli addr add $B/24 dev eth0
ip -n $P-cli addr add $A6/64 dev eth0 nodad
ip -n $P-cli addr add $B6/64 dev eth0 nodad
lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" >/dev/null
lbctl vip add "[$TB_VIP6]:80/tcp" >/dev/null
for i in 1 2 3; do
	lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null
	lbctl backend add "[$TB_VIP6]:80/tcp" "$(tb_backend_addr "$i" 6)" >/dev/null
done
active_within "$KEY" 3 || fail setup "the backends did not all come into the table"
active_within "[$TB_VIP6]:80/tcp" 3 || fail setup "the IPv6 backends did not all come into the table"

# answered FROM N [HOST]: how many of N connections from address FROM, one after the other, got an answer
# (PACE seconds apart). 0.8 s to connect: under the 1 s of a SYN's first retransmission, so a dropped SYN is
# a failed connection.
answered() {
	local from=$1 n=$2 host=${3:-$TB_VIP4} i ok=0
	for ((i = 0; i < n; i++)); do
		((i == 0)) || sleep "${PACE:-0}"
		ip netns exec $P-cli curl -sS -g --fail --connect-timeout 0.8 --max-time 3 --interface "$from" \
			-H 'Connection: close' -o /dev/null "http://$host/" 2>>"$TB_DIR/curl.err" && ok=$((ok + 1))
	done
	echo $ok
}
# burst FROM N: N connections from FROM at once; how many got an answer.
burst() {
	local from=$1 n=$2 i pids=() ok=0
	for ((i = 0; i < n; i++)); do
		ip netns exec $P-cli curl -sS --fail --connect-timeout 0.8 --max-time 3 --interface "$from" \
			-H 'Connection: close' -o /dev/null "http://$TB_VIP4/" 2>>"$TB_DIR/curl.err" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" && ok=$((ok + 1)); done
	echo $ok
}
counter() { lbctl -j stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["counters"][sys.argv[1]])' "$1"; }
vip_field() {
	lbctl -j stats | python3 -c '
import json, sys
print([v for v in json.load(sys.stdin)["vips"] if v["vip"] == sys.argv[1]][0][sys.argv[2]])' "$KEY" "$1"
}
top_has() {
	lbctl -j top | python3 -c '
import json, sys
rows = [c for c in json.load(sys.stdin)["clients"] if c["client"] == sys.argv[1]]
sys.exit(not rows or rows[0][sys.argv[2]] == 0)' "$1" "$2"
}

# ---- the new-flow limit: A opens 30 at once and most are refused; B, under the limit (4 a second), gets every one ----
lbctl vip set "$KEY" --limit-new-flows 5 --limit-burst 5 >/dev/null || fail limit_setup "vip set --limit-new-flows refused"
a_ok=$(burst $A 30)
b_ok=$(PACE=0.25 answered $B 10)
echo "     limit 5/s, burst 5: A got $a_ok of 30 at once, B $b_ok of 10 at 4 a second"
expect new_flow_limit_throttles "A's 30 at once: $a_ok answered (burst 5 and 0.8 s of 5/s: about 9)" \
	test "$a_ok" -ge 1 -a "$a_ok" -le 15
expect other_client_unaffected "B: $b_ok of 10 answered ($(tail -n 2 "$TB_DIR/curl.err" | tr '\n' ' '))" test "$b_ok" -eq 10
expect new_flow_drops_counted "drop_limit_new_flows $(counter drop_limit_new_flows), VIP's $(vip_field limit_new_flows_dropped)" \
	test "$(counter drop_limit_new_flows)" -gt 0 -a "$(vip_field limit_new_flows_dropped)" -gt 0
expect top_names_the_client "lbctl top: $(lbctl top | grep -v '^VIP' | head -3 | tr '\n' ' ')" top_has $A/32 new_flows_dropped
lbctl vip set "$KEY" --limit-new-flows 0 >/dev/null
sleep 1
expect limit_off_lets_all "with the limit off, A: $(answered $A 10) of 10" test "$(answered $A 10)" -eq 10

# ---- the packet-rate limit: A's download sends more ACKs than 50 a second ----
lbctl vip set "$KEY" --limit-pps 50 >/dev/null
pps0=$(counter drop_limit_pps)
ip netns exec $P-cli curl -sS --interface $A --max-time 4 -o /dev/null \
	"http://$TB_VIP4/stream?seconds=2&interval=0.002" 2>/dev/null
b_ok=$(answered $B 5)
expect pps_limit_drops "drop_limit_pps went $pps0 -> $(counter drop_limit_pps); B then $b_ok of 5" \
	test "$(counter drop_limit_pps)" -gt "$pps0" -a "$b_ok" -eq 5
lbctl vip set "$KEY" --limit-pps 0 >/dev/null

# ---- deny and allow lists of the VIP ----
lbctl vip set "$KEY" --deny $A/32 >/dev/null || fail deny_setup "vip set --deny refused"
a_ok=$(answered $A 5) b_ok=$(answered $B 5)
expect deny_keeps_out "deny $A/32: A $a_ok of 5, B $b_ok of 5" test "$a_ok/$b_ok" = 0/5
expect denied_counted "drop_denied $(counter drop_denied), VIP's denied $(vip_field denied)" \
	test "$(counter drop_denied)" -gt 0 -a "$(vip_field denied)" -gt 0
expect top_names_denied "lbctl top: $(lbctl top | grep "$A" | head -1)" top_has $A/32 denied
lbctl vip set "$KEY" --deny none --allow $B/32 >/dev/null || fail allow_setup "vip set --allow refused"
a_ok=$(answered $A 5) b_ok=$(answered $B 5) c_ok=$(answered $TB_CLI4 3)
expect allow_only_lets_listed "allow $B/32: A $a_ok of 5, B $b_ok of 5, $TB_CLI4 $c_ok of 3" test "$a_ok/$b_ok/$c_ok" = 0/5/0
# The most specific prefix decides: a deny inside an allowed /24.
lbctl vip set "$KEY" --allow 198.18.0.0/24 --deny $A/32 >/dev/null
a_ok=$(answered $A 3) b_ok=$(answered $B 3)
expect longest_prefix_decides "allow 198.18.0.0/24, deny $A/32: A $a_ok of 3, B $b_ok of 3" test "$a_ok/$b_ok" = 0/3
hits=$(lbctl -j acl show | python3 -c '
import json, sys
for l in json.load(sys.stdin)["lists"]:
    for e in l["entries"]:
        if e["prefix"] == sys.argv[1]:
            print(e["hits"])' "$A/32")
expect acl_show_counts_hits "acl show: $A/32 decided ${hits:-none} packets" test "${hits:-0}" -gt 0

# ---- IPv6: a /128 denied, the next address through ----
lbctl vip set "[$TB_VIP6]:80/tcp" --deny $A6/128 >/dev/null
a_ok=$(answered $A6 3 "[$TB_VIP6]") b_ok=$(answered $B6 3 "[$TB_VIP6]")
expect ipv6_deny "deny $A6/128: A6 $a_ok of 3, B6 $b_ok of 3" test "$a_ok/$b_ok" = 0/3
lbctl vip set "[$TB_VIP6]:80/tcp" --deny none >/dev/null

# ---- the global lists: every VIP's, after the VIP's own ----
lbctl vip set "$KEY" --allow none --deny none >/dev/null
lbctl acl set --deny $B/32 >/dev/null || fail global_setup "acl set --deny refused"
a_ok=$(answered $A 3) b_ok=$(answered $B 3) b6_ok=$(answered $B6 3 "[$TB_VIP6]")
expect global_deny "global deny $B/32: A $a_ok of 3, B $b_ok of 3, B6 (not in it) $b6_ok of 3" test "$a_ok/$b_ok/$b6_ok" = 3/0/3
lbctl vip set "$KEY" --allow $B/32 >/dev/null
b_ok=$(answered $B 3)
expect vip_list_before_global "the VIP allows $B/32, the global list denies it: B $b_ok of 3" test "$b_ok" = 3
lbctl vip set "$KEY" --allow none >/dev/null
lbctl acl del >/dev/null
expect global_del "after acl del, B: $(answered $B 3) of 3" test "$(answered $B 3)" = 3

# ---- bad input: refused whole, nothing applied ----
before=$(lbctl config show)
out1=$(lbctl vip set "$KEY" --deny 198.18.0.1/24 2>&1)
out2=$(lbctl vip set "$KEY" --allow $A/32 --deny $A/32 2>&1)
out3=$(lbctl vip set "$KEY" --deny @/nonexistent/deny.lst 2>&1)
out4=$(lbctl vip set "$KEY" --deny 198.18.0.0/33 2>&1)
printf '%s\n198.18.0.0/16\nnot-a-prefix\n' "$A/32" >"$TB_DIR/bad.lst"
out5=$(lbctl vip set "$KEY" --deny "@$TB_DIR/bad.lst" 2>&1)
expect host_bits_refused "$out1" grep -q "host bits set: did you mean 198.18.0.0/24" <<<"$out1"
expect both_lists_refused "$out2" grep -q "in both the allow and the deny list" <<<"$out2"
expect missing_file_refused "$out3" grep -q "cannot read the list /nonexistent/deny.lst" <<<"$out3"
expect bad_length_refused "$out4" grep -q "prefix length must be 0 to 32" <<<"$out4"
expect bad_file_line_refused "$out5" grep -q "bad.lst:3: 'not-a-prefix' is not a prefix" <<<"$out5"
expect bad_input_changes_nothing "config after the refusals: $(diff <(echo "$before") <(lbctl config show) | head -3)" \
	test "$before" = "$(lbctl config show)"
expect bad_input_keeps_serving "A after the refusals: $(answered $A 3) of 3" test "$(answered $A 3)" = 3

# ---- lists are written by lbd's map worker, never by its loop ----
# A write a prefix: a list of a million held the loop (its VRRP adverts, its
# health checks) for seconds. strace says which thread makes each call on
# acl_map; the reply still comes once the list is in.
lb_pid=$(cat "$(tb_dir $P)/$(tb_lbd_base).pid")
mapfile -t acl_fds < <(map_fds "$lb_pid" "$(tb_pin_dir $P)/acl_map")
python3 -c 'import sys
with open(sys.argv[1], "w") as f:
    f.writelines(f"198.19.{i >> 8}.{i & 255}\n" for i in range(2000))
    f.write(sys.argv[2] + "/32\n")' "$TB_DIR/mid.lst" "$A"
timeout 60 strace -f -qq -p "$lb_pid" -e trace=bpf -o "$TB_DIR/acl.strace" 2>/dev/null &
strace_pid=$!
sleep 1
lbctl vip set "$KEY" --deny "@$TB_DIR/mid.lst" >/dev/null || fail worker_list "vip set --deny @mid.lst refused"
a_in=$(answered $A 3) b_in=$(answered $B 3)
lbctl vip set "$KEY" --deny none >/dev/null
a_out=$(answered $A 3)
kill "$strace_pid" 2>/dev/null
wait "$strace_pid" 2>/dev/null
acl_calls() {	# WHO: main (lbd's loop) or other (its threads): their writes, deletes and walks of acl_map
	map_calls "$TB_DIR/acl.strace" "$lb_pid" "$1" 'UPDATE_ELEM|DELETE_ELEM|GET_NEXT_KEY' "${acl_fds[@]}"
}
expect acl_written_off_the_loop "2001 prefixes in and out: lbd's loop made $(acl_calls main) writes, deletes and walks of acl_map (fds ${acl_fds[*]}), its threads $(acl_calls other); A $a_in of 3 and B $b_in of 3 while listed, A $a_out of 3 after" \
	test "$(acl_calls main)" -eq 0 -a "$(acl_calls other)" -ge 4002 -a "$a_in/$b_in/$a_out" = 0/3/3

# ---- a list of 100,000 prefixes from a file ----
python3 - "$TB_DIR/big.lst" "$A" <<-'PY'
	import sys
	with open(sys.argv[1], "w") as f:
	    f.write("# 65536 IPv4 hosts, 34463 IPv6 ones, and client A\n")
	    for i in range(65536):
	        f.write(f"198.19.{i >> 8}.{i & 255}\n")
	    for i in range(34463):
	        f.write(f"2001:db8:ffff::{i:x}/128\n")
	    f.write(sys.argv[2] + "/32\n")
	PY
t0=$(date +%s%N)
lbctl vip set "$KEY" --deny "@$TB_DIR/big.lst" >/dev/null || fail big_list "vip set --deny @big.lst refused"
took=$((($(date +%s%N) - t0) / 1000000))
echo "     100,000 prefixes applied in $took ms"
n=$(lbctl -j acl show | python3 -c '
import json, sys
print(sum(l["prefixes"] for l in json.load(sys.stdin)["lists"] if l["scope"] == sys.argv[1]))' "$KEY")
a_ok=$(answered $A 3) b_ok=$(answered $B 3)
expect big_list_applied "the VIP's list holds $n prefixes; A $a_ok of 3, B $b_ok of 3" test "$n/$a_ok/$b_ok" = 100000/0/3
lbctl vip set "$KEY" --deny none >/dev/null
left=$(bpftool map dump pinned "$(tb_pin_dir $P)/acl_map" 2>/dev/null | grep -c '"key"')
expect big_list_removed "after --deny none: acl_map holds $left entries; A $(answered $A 3) of 3" \
	test "$left" -eq 0 -a "$(answered $A 3)" = 3

# ---- the metrics name every kind of drop ----
lbctl metrics set --listen 198.18.0.2:9105 >/dev/null
m=$(ip netns exec $P-lb curl -sS --max-time 3 http://198.18.0.2:9105/metrics)
expect metrics_limit_series "$(grep 'xlb_vip_limit_dropped_total{vip="198.18.1.1:80/tcp"' <<<"$m" | tr '\n' ' ')" \
	test "$(grep -c 'xlb_vip_limit_dropped_total{vip="198.18.1.1:80/tcp",limit="\(new_flows\|packets\|denied\)"} [1-9]' <<<"$m")" -eq 3
lbctl metrics del >/dev/null
e2e_finish
