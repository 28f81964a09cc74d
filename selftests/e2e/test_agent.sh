#!/usr/bin/env bash
# weights agent: each backend runs an agent on port 8888 that answers a
# line from a file; lbd's asks move the backend's share of the ring (25%:
# a quarter of its static share), drain it, set it down and back up, and an
# agent that flips its answer every 200 ms rebuilds the table at most once
# an agent-interval.
E2E_PREFIX=xe-agent E2E_SUITE=agent
source "$(dirname "$0")/lib.sh"
e2e_start 3
KEY="$TB_VIP4:80/tcp"
AGENT_PORT=8888
lbctl attach eth0 >/dev/null

agent_pids=()
# agent_start N: be N's agent, answering what $TB_DIR/agent$N holds now, one line a connection.
agent_start() {
	echo "100%" >"$TB_DIR/agent$1"
	ip netns exec "$E2E_PREFIX-be$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    try:
        with open(sys.argv[2]) as f:
            c.sendall(f.read().splitlines()[0].encode() + b"\n")
    except Exception:
        pass
    c.close()' "$AGENT_PORT" "$TB_DIR/agent$1" >>"$TB_DIR/agent$1.log" 2>&1 &
	agent_pids+=($!)
}
agents_stop() {
	local pid
	for pid in "${agent_pids[@]}" ${flip_pid:+"$flip_pid"}; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
	e2e_finish
}
trap agents_stop EXIT
say() { echo "$2" >"$TB_DIR/agent$1"; }

# field N KEY: a field of be N in `lbctl -j backend list`; agent.KEY for the agent's.
field() {
	lbctl -j backend list "$KEY" | python3 -c '
import json, sys
for b in json.load(sys.stdin)["backends"]:
    if b["address"] == sys.argv[1]:
        v = b
        for k in sys.argv[2].split("."):
            v = v.get(k, "none") if isinstance(v, dict) else "none"
        print(v)' "$(tb_backend_addr "$1" 4)" "$2"
}
shares() { echo "$(field 1 share) $(field 2 share) $(field 3 share)"; }
vip_builds() {
	lbctl -j vip list | python3 -c '
import json, sys
for v in json.load(sys.stdin)["vips"]:
    if v["vip"] == sys.argv[1]:
        print(v["table_builds"])' "$KEY"
}
# within SECS CMD...: CMD succeeds within SECS seconds (polled every 100 ms).
within() {
	local t n=$(($1 * 10))
	shift
	for ((t = 0; t < n; t++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
# near A B: A within 2 points of B.
near() { python3 -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 2)' "$1" "$2"; }
field_is() { test "$(field "$1" "$2")" = "$3"; }
state_is() { field_is "$1" state "$2"; }
share_is_zero() { test "$(field "$1" slots)" = 0; }

for i in 1 2 3; do agent_start "$i"; done
lbctl vip add "$KEY" --weights agent --agent-port "$AGENT_PORT" --agent-interval 1s >/dev/null
for i in 1 2 3; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
active_within "$KEY" 3 || fail setup "the backends did not all come into the table"
within 5 field_is 3 agent.last "100%" || fail setup "be3's agent was not asked: $(field 3 agent.last)"

# ---- 25%: a quarter of the static share, 1:1:0.25 ----
say 3 "25%"
within 5 field_is 3 agent.percent 25
read -r s1 s2 s3 <<<"$(shares)"
expect quarter_weight "shares with be3 at 25%: $s1 $s2 $s3 (want 44.4 44.4 11.1 within 2)" \
	eval 'near "$s1" 44.4 && near "$s2" 44.4 && near "$s3" 11.1'
expect json_shows_agent "be3's agent: last '$(field 3 agent.last)' percent $(field 3 agent.percent) state $(field 3 agent.state)" \
	test "$(field 3 agent.last) $(field 3 agent.percent) $(field 3 agent.state)" = "25% 25 up"
expect text_shows_agent "backend list: $(lbctl backend list "$KEY" | grep "$(tb_backend_addr 3 4) ")" \
	eval 'lbctl backend list "$KEY" | grep "$(tb_backend_addr 3 4) " | grep -q "agent .25%.: weight 0.25"'

# ---- no answer: the last good value stays, and the reason says so ----
kill "${agent_pids[2]}" 2>/dev/null; wait "${agent_pids[2]}" 2>/dev/null
within 5 eval 'lbctl backend list "$KEY" | grep "$(tb_backend_addr 3 4) " | grep -q "agent refused, keeping up 25%"'
expect refused_keeps_last "be3 with its agent gone: state $(field 3 state), percent $(field 3 agent.percent), $(lbctl backend list "$KEY" | grep "$(tb_backend_addr 3 4) ")" \
	eval 'state_is 3 active && test "$(field 3 agent.percent)" = 25 && near "$(field 3 share)" 11.1 &&
	      lbctl backend list "$KEY" | grep "$(tb_backend_addr 3 4) " | grep -q "agent refused, keeping up 25%"'
agent_start 3
say 3 "garbage here"
within 5 field_is 3 agent.last "not an answer: 'garbage here'"
expect garbage_keeps_last "be3 answering garbage: last '$(field 3 agent.last)', percent $(field 3 agent.percent)" \
	eval 'test "$(field 3 agent.percent)" = 25 && test "$(field 3 agent.stale)" = True && near "$(field 3 share)" 11.1'

# ---- drain, down, up ----
say 3 "drain"
within 5 state_is 3 draining
expect drain_drains "be3 with its agent saying drain: state $(field 3 state), slots $(field 3 slots)" \
	eval 'state_is 3 draining && share_is_zero 3'
say 3 "down"
within 5 state_is 3 admin-down
expect down_is_admin_down "be3 with its agent saying down: state $(field 3 state), slots $(field 3 slots)" \
	eval 'state_is 3 admin-down && share_is_zero 3'
say 3 "up 100%"
within 5 state_is 3 active
read -r s1 s2 s3 <<<"$(shares)"
expect up_brings_back "shares after up 100%: $s1 $s2 $s3" \
	eval 'near "$s1" 33.3 && near "$s2" 33.3 && near "$s3" 33.3'

# ---- an agent flipping every 200 ms: at most one rebuild an interval ----
# Its answer follows the clock, not sleeps: a free-running 150 ms flip slowed under load to a third of a second,
# which the 1 s interval is a multiple of, so lbd heard the same word at every ask and built nothing (CI).
# Five flips between two asks a second apart: each ask hears the other word.
before=$(vip_builds)
( said=; while :; do
	word=$( (($(date +%s%3N) / 200 % 2)) && echo 50% || echo 100%)
	[[ $word == "$said" ]] || { say 3 "$word"; said=$word; }
	sleep 0.02
done ) &
flip_pid=$!
sleep 4
kill "$flip_pid" 2>/dev/null; wait "$flip_pid" 2>/dev/null
flip_pid=
after=$(vip_builds)
expect flips_rate_limited "table builds in 4 s of flipping with agent-interval 1s: $((after - before))" \
	test $((after - before)) -le 5
expect flips_do_change "table builds in 4 s of flipping: $((after - before)) (the agent's answers must count)" \
	test $((after - before)) -ge 1
