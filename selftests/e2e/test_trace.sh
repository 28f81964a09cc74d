#!/usr/bin/env bash
# lbctl trace gives the data plane's answer: for 10,000 random flows (TCP
# SYNs and ACKs from 198.18.0.0/15) `lbctl -j trace --file` names a
# backend, and the program attached to the balancer's interface, run on
# each flow's frame (BPF_PROG_TEST_RUN by xdp_run, which builds its frames
# with its own code), sends it to that backend's MAC. Three rounds: a plain
# ring; after a backend is added, so slots move while flows are remembered
# (remembered flows and flows from before the move stay); after a backend
# is marked down with `backend set --down` (remembered flows stay on it and
# trace says it is admin-down; no new connection goes there). Tracing
# changes nothing: the connection table and the counters are as before.
E2E_PREFIX=xe-trace E2E_SUITE=trace
source "$(dirname "$0")/lib.sh"
e2e_start 5
KEY="$TB_VIP4:80/tcp"
FLOWS=${TRACE_FLOWS:-10000}
lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" >/dev/null
for i in 1 2 3 4; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done

active_within "$KEY" 4 || { fail setup "4 backends did not become active"; exit 1; }

# Each backend's MAC, by address: where the real program sends its flows.
macs=$(for i in 1 2 3 4 5; do
	printf '%s %s\n' "$(tb_backend_addr "$i" 4)" "$(ip -n "$E2E_PREFIX-be$i" -j link show eth0 |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["address"])')"
done)

# flows FILE SEED: FLOWS distinct random flows to the VIP, half of them SYNs.
flows() {
	python3 - "$1" "$2" "$FLOWS" "$TB_VIP4" <<'EOF'
import ipaddress, random, sys
path, seed, n, vip = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rnd, seen = random.Random(seed), set()
base = int(ipaddress.ip_address("198.18.0.0"))
with open(path, "w") as f:
    while len(seen) < n:
        flow = (str(ipaddress.ip_address(base + rnd.randrange(1 << 17))), rnd.randrange(1024, 65536))
        if flow in seen:
            continue
        seen.add(flow)
        f.write("%s:%d %s:80/tcp%s\n" % (flow[0], flow[1], vip, " --syn" if rnd.random() < 0.5 else ""))
EOF
}

# conn_entries: the flows the connection tables hold (all three), from lbd's pins.
conn_entries() {
	local n=0 m
	for m in conn_map moved_map syn_map; do
		m=$(bpftool -j map dump pinned "$(tb_pin_dir "$E2E_PREFIX")/$m" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
		n=$((n + m))
	done
	echo "$n"
}
# counters: those of lbctl -j stats a frame to the VIP moves (health checks' frames move others).
counters() {
	lbctl -j stats | python3 -c 'import json, sys
c = json.load(sys.stdin)["counters"]
print(" ".join("%s=%s" % (k, c.get(k)) for k in ("tx_dsr", "ring_stable", "conn_hit", "conn_miss", "conn_prev",
                                                "conn_repick", "drop_no_backend")))'
}

# round NAME FILE: trace every flow of FILE, then run each through the attached program; the summary in NAME.sum.
round() {
	local name=$1 file=$2 before_conn before_stats
	before_conn=$(conn_entries)
	before_stats=$(counters)
	if ! lbctl -j trace --file "$file" >"$TB_DIR/$name.trace" 2>"$TB_DIR/$name.err"; then
		fail "${name}_traced" "lbctl trace --file failed: $(head -c 300 "$TB_DIR/$name.err")"
		return 1
	fi
	expect "${name}_trace_changes_no_flow" "the tables held $before_conn flows before the trace, $(conn_entries) after" \
		test "$(conn_entries)" = "$before_conn"
	expect "${name}_trace_counts_nothing" "lbctl stats moved during the trace" test "$(counters)" = "$before_stats"
	if ! ip netns exec "$E2E_PREFIX-lb" "$TB_BUILD/xdp_run" eth0 "$file" >"$TB_DIR/$name.run" 2>"$TB_DIR/$name.err"; then
		fail "${name}_run" "xdp_run failed: $(head -c 300 "$TB_DIR/$name.err")"
		return 1
	fi
	python3 - "$TB_DIR/$name.trace" "$TB_DIR/$name.run" "$file" "$macs" >"$TB_DIR/$name.sum" <<'EOF'
import collections, json, sys
flows = json.load(open(sys.argv[1]))["flows"]
runs = [l.split() for l in open(sys.argv[2])]
lines = [l for l in open(sys.argv[3]) if l.strip()]
mac = dict(l.split() for l in sys.argv[4].splitlines())
s = collections.Counter(flows=len(flows), runs=len(runs), lines=len(lines))
by_backend = collections.Counter()
wrong = []
for f, (action, out_mac), line in zip(flows, runs, lines):
    be = f.get("backend", "none")
    if f["action"] != "tx" or action != "tx" or mac.get(be) != out_mac:
        s["wrong"] += 1
        wrong.append("%s: trace %s %s, program %s to %s" % (line.strip(), f["action"], be, action, out_mac))
    by_backend[be] += 1
    s["moved"] += f.get("slot_moved", False)
    for note in f["notes"].split():
        s[note] += 1
    s["conn_" + f.get("conn", "none")] += 1
    s["state_" + f.get("backend_state", "none")] += 1
    s["syn_to_" + be] += "--syn" in line and f.get("conn") == "none"
s["backends"] = len(by_backend)
print(json.dumps({"summary": s, "by_backend": by_backend, "wrong": wrong[:5]}))
EOF
	echo "     $name: $(cat "$TB_DIR/$name.sum")" | head -c 1500
	echo
}

# sum NAME EXPR: EXPR (Python) over NAME's summary s and by_backend b.
sum() {
	python3 -c 'import collections, json, sys
d = json.load(open(sys.argv[1]))
s, b = collections.Counter(d["summary"]), d["by_backend"]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$TB_DIR/$1.sum" "$2"
}

# check NAME: every flow traced, each to the backend the program sent it to.
check() {
	expect "$1_every_flow_traced" "$(cat "$TB_DIR/$1.sum")" sum "$1" "s['flows'] == s['runs'] == s['lines'] == $FLOWS"
	expect "$1_trace_names_the_backend_reached" "flows the trace and the program disagree on: $(sum "$1" 'print(d["wrong"]) or True')" \
		sum "$1" "s['wrong'] == 0"
}

flows "$TB_DIR/a.flows" 1
round plain "$TB_DIR/a.flows"
check plain
expect plain_every_backend_named "not all 4 backends got flows" sum plain "s['backends'] == 4"
expect plain_no_moved_slot "moved slots before any change" sum plain "s['moved'] == 0 and s['ring_stable'] > 0"

# A fifth backend takes slots from the others while a.flows' SYNs are remembered.
lbctl backend add "$KEY" "$(tb_backend_addr 5 4)" >/dev/null
active_within "$KEY" 5 || fail added_backend_active "be5 did not become active"
round moved "$TB_DIR/a.flows"
check moved
# a.flows' SYNs were never answered by an ACK: they are remembered in syn_map (see README "SYN floods").
expect moved_slots_traced "no flow on a moved slot, or none remembered, or none from before the move" \
	sum moved "s['moved'] > 0 and s['conn_hit'] > 0 and s['conn_prev'] > 0 and s['conn_syn_map'] > 0"

# be2 marked down: out of the ring; flows remembered on it stay (and trace says admin-down).
lbctl backend set "$KEY" "$(tb_backend_addr 2 4)" --down >/dev/null
active_within "$KEY" 4 || fail down_backend_out "be2 is still active after --down"
# Without the SYNs: by now a.flows' entries near XLB_SYN_REUSE_NS (10 s), past which a SYN is
# picked afresh, and the trace and the program's run, a moment apart, could fall either side of
# it. New SYNs are the next round's.
sed 's/ --syn$//' "$TB_DIR/a.flows" >"$TB_DIR/a.acks"
round down "$TB_DIR/a.acks"
check down
expect down_backend_state_shown "flows on be2 not traced as admin-down" \
	sum down "s['state_admin-down'] == b.get('$(tb_backend_addr 2 4)', 0) > 0"
flows "$TB_DIR/c.flows" 2
round down_new "$TB_DIR/c.flows"
check down_new
expect down_backend_gets_no_new_connection "new SYNs went to the down be2" \
	sum down_new "s['syn_to_$(tb_backend_addr 2 4)'] == 0 and s['conn_miss'] > 0"

# One flow in text, and a destination that is no VIP.
out=$(lbctl trace 198.18.0.77:40001 "$KEY" --syn 2>&1)
printf '%s\n' "$out" | sed 's/^/     /'
expect text_names_vip_and_backend "lbctl trace printed: $out" \
	bash -c 'grep -q "^  vip  *'"$KEY"'" <<<"$1" && grep -qE "^  backend  *198\.18\.0\.10[1-5]$" <<<"$1"' _ "$out"
out=$(lbctl trace 198.18.0.77 198.18.1.9:80/tcp 2>&1)
expect not_vip_goes_to_kernel "lbctl trace to no VIP said: $out" \
	grep -q "198.18.1.9:80/tcp is not a VIP: it goes to the kernel" <<<"$out"
