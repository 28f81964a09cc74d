#!/usr/bin/env bash
# Feedback weights: under weights latency a backend whose health answer is
# slow (a delaying test server, 60 ms) loses share, a step of at most 25
# points every 5 s, while the fast ones keep theirs; the table is rebuilt at
# most once an interval for it; when it is fast again its share comes back.
# Under weights bandwidth the backend a 4 MB/s UDP flow goes to loses share.
E2E_PREFIX=xe-feedback E2E_SUITE=feedback
source "$(dirname "$0")/lib.sh"
e2e_start 3
KEY="$TB_VIP4:80/tcp"
now_ms() { date +%s%3N; }
lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" --weights latency --check http:/health --interval 200ms >/dev/null
for i in 1 2 3; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
active_within "$KEY" 3 || { fail setup "the backends did not all come into the table"; exit 1; }

# be_field N FIELD: a field of backend beN.
be_field() { backend_field "$KEY" "$(tb_backend_addr "$1" 4)" "$2"; }
builds() { lbctl -j vip list | python3 -c 'import json, sys; print(json.load(sys.stdin)["vips"][0]["table_builds"])'; }

sleep 2
before="$(be_field 1 share) $(be_field 2 share) $(be_field 3 share)"
b0=$(builds) t0=$(now_ms)
tb_health "$E2E_PREFIX" 2 delay:60
# From 100% of its weight to 50% takes two steps, 5 s apart.
reached=""
while (($(now_ms) < t0 + 20000)); do
	(($(be_field 2 feedback.percent) <= 50)) && { reached=$(($(now_ms) - t0)); break; }
	sleep 0.2
done
after="$(be_field 1 share) $(be_field 2 share) $(be_field 3 share)"
b1=$(builds)
elapsed=$(($(now_ms) - t0))
echo "     shares before $before, after ${reached:-never} ms of be2 answering in 60 ms: $after (be2 at $(be_field 2 feedback.percent)% of its weight, metric $(be_field 2 feedback.metric) us)"
read -r s1 s2 s3 <<<"$after"
expect slow_backend_loses_share "shares went from $before to $after: ${reached:-never} ms" \
	test -n "$reached" -a "$s2" -le 25 -a "$s1" -gt "$s2" -a "$s3" -gt "$s2"
expect fast_backends_keep_their_weight "be1 at $(be_field 1 feedback.percent)%, be3 at $(be_field 3 feedback.percent)%" \
	test "$(be_field 1 feedback.percent)/$(be_field 3 feedback.percent)" = 100/100
expect at_most_one_change_an_interval "$((b1 - b0)) table builds in $elapsed ms (at most one per 5 s interval, plus one)" \
	test $((b1 - b0)) -le $((elapsed / 5000 + 1))
tb_health "$E2E_PREFIX" 2 200
back=""
t1=$(now_ms)
while (($(now_ms) < t1 + 40000)); do
	(($(be_field 2 feedback.percent) == 100)) && { back=$(($(now_ms) - t1)); break; }
	sleep 0.2
done
expect share_comes_back "be2 back at 100% of its weight after ${back:-never} ms, share $(be_field 2 share)%" \
	test -n "$back"
# ---- bandwidth: the backend a 4 MB/s UDP flow lands on loses share, the others keep theirs ----
UKEY="$TB_VIP4:5353/udp"
lbctl vip add "$UKEY" --weights bandwidth --check none >/dev/null
for i in 1 2 3; do lbctl backend add "$UKEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
active_within "$UKEY" 3 || fail setup "the UDP VIP's backends did not all come into the table"
# The flow goes to the VIP's last backend: when its two idle ones came first, lbd once took the
# busy one for the best (a best of 0 read as none yet) and nothing moved.
last_be=$(tb_backend_addr 3 4) port=""
for ((p = 41000; p < 41100; p++)); do
	[[ $(lbctl -j trace "$TB_CLI4:$p" "$UKEY" | python3 -c 'import json, sys; print(json.load(sys.stdin)["backend"])') == "$last_be" ]] &&
		{ port=$p; break; }
done
[[ -n $port ]] || fail setup "no source port of 100 sends the flow to $last_be"
echo "     the flow: $TB_CLI4:${port:-41000} -> $UKEY, to $last_be"
ip netns exec "$E2E_PREFIX-cli" python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[2])))
data, end = b"x" * 1000, time.time() + 15
while time.time() < end:
    t = time.time()
    for _ in range(400):
        s.sendto(data, (sys.argv[1], 5353))
    time.sleep(max(0, 0.1 - (time.time() - t)))' "$TB_VIP4" "${port:-41000}" &
flood=$!
pcts() { for i in 1 2 3; do backend_field "$UKEY" "$(tb_backend_addr "$i" 4)" feedback.percent; done | tr '\n' ' '; }
# The busy backend below 100% of its weight, the two others at it.
one_lowered() { local a b c; read -r a b c <<<"$(pcts)"; [[ $a == 100 && $b == 100 && -n $c ]] && ((c < 100)); }
lowered=""
# The first step may wait out a 5 s interval after a second's samples.
for ((t = 0; t < 140; t++)); do
	one_lowered && { lowered=$((t * 100)); break; }
	sleep 0.1
done
seen=$(pcts)
kill "$flood" 2>/dev/null
wait "$flood"
echo "     a 4 MB/s UDP flow: the backends' shares of their weights $seen after ${lowered:-never} ms"
expect bandwidth_spares_busy_backend "shares of their weights: $seen" test -n "$lowered"
lbctl vip del "$UKEY" >/dev/null

out=$(lbctl vip add 198.18.1.9:80/tcp --weights fastest 2>&1)
expect bad_weights_refused "--weights fastest: $out" bash -c "[[ '$out' == *'not static, agent, latency or bandwidth'* ]]"
e2e_finish
