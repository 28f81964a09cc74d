#!/usr/bin/env bash
# The passive check: a backend whose health port answers but whose service
# drops the clients' SYNs (nftables in its namespace; lbd's own check comes
# from the balancer and gets through) is taken out by the SYNs the clients
# send again, within the window, while its active check still passes; the
# healthy backends are not; it stays out for the window, then comes back by
# the active check's rise. A client that loses every 20th SYN pulls nobody.
E2E_PREFIX=xe-passive E2E_SUITE=passive
source "$(dirname "$0")/lib.sh"
e2e_start 3
KEY="$TB_VIP4:80/tcp"
now_ms() { date +%s%3N; }
lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" --passive 3/10s --check tcp --interval 500ms --rise 2 >/dev/null
for i in 1 2 3; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done
active_within "$KEY" 3 || { fail setup "the backends did not all come into the table"; exit 1; }

# field N FIELD: a field of backend beN (health.last for its check's last result).
field() { backend_field "$KEY" "$(tb_backend_addr "$1" 4)" "$2" | tr '[:upper:]' '[:lower:]'; }

# ---- a client that loses some SYNs: every 20th dropped on the way out, 30 connections (2 lost, fewer than
# the 3 that pull): nobody pulled ----
ip netns exec "$E2E_PREFIX-cli" nft -f - <<NFT
table inet xe_passive_cli {
	chain out {
		type filter hook output priority 0;
		ip daddr $TB_VIP4 tcp flags & (syn | ack) == syn numgen inc mod 20 == 0 counter drop
	}
}
NFT
curl_many "$TB_VIP4" 30 >"$TB_DIR/lossy.names"
lost=$(ip netns exec "$E2E_PREFIX-cli" nft list table inet xe_passive_cli | grep -o 'packets [0-9]*' | grep -o '[0-9]*')
ip netns exec "$E2E_PREFIX-cli" nft delete table inet xe_passive_cli
echo "     a lossy client: $lost of its SYNs dropped, $(grep -c . "$TB_DIR/lossy.names") of 30 answered; backends $(field 1 state) $(field 2 state) $(field 3 state)"
expect lossy_client_pulls_nobody "$lost SYNs lost: be1 $(field 1 state), be2 $(field 2 state), be3 $(field 3 state)" \
	test "$(field 1 state)/$(field 2 state)/$(field 3 state)" = active/active/active -a "$(grep -c . "$TB_DIR/lossy.names")" = 30 -a "$lost" = 2

ip netns exec "$E2E_PREFIX-be2" nft -f - <<NFT
table inet xe_passive {
	chain in {
		type filter hook input priority 0;
		ip saddr $TB_CLI4 tcp dport 80 tcp flags & (syn | ack) == syn drop
	}
}
NFT
# 24 clients at once: with 12, one or none hashed to be2 one run in twenty
# (two retries each, under N), and CI saw it never pulled.
t0=$(now_ms)
pids=()
for ((i = 0; i < 24; i++)); do
	ip netns exec "$E2E_PREFIX-cli" curl -s -o /dev/null --max-time 4 "http://$TB_VIP4/" &
	pids+=($!)
done
t_down=""
while (($(now_ms) < t0 + 10000)); do
	[[ $(field 2 state) == down ]] && { t_down=$(($(now_ms) - t0)); break; }
	sleep 0.1
done
reason=$(field 2 reason) last=$(field 2 health.last)
echo "     be2 (dropping the clients' SYNs) down after ${t_down:-never} ms: $reason"
expect passive_pulls_dropping_backend "be2 down after ${t_down:-never} ms (window 10 s): reason '$reason'" \
	test -n "$t_down" -a "${reason#passive: }" != "$reason"
expect active_check_still_passes "be2's last active check: '$last'" test "$last" = ok
expect healthy_backends_stay "be1 $(field 1 state), be3 $(field 3 state)" \
	test "$(field 1 state)/$(field 3 state)" = active/active
wait "${pids[@]}" 2>/dev/null
curl_many "$TB_VIP4" 20 >"$TB_DIR/after.names"
expect new_flows_avoid_it "20 connections after: $(grep -c . "$TB_DIR/after.names") answered, $(grep -cx be2 "$TB_DIR/after.names") by be2" \
	test "$(grep -c . "$TB_DIR/after.names")" = 20 -a "$(grep -cx be2 "$TB_DIR/after.names")" = 0
ip netns exec "$E2E_PREFIX-be2" nft delete table inet xe_passive
back=""
for ((t = 0; t < 150; t++)); do
	[[ $(field 2 state) == active || $(field 2 state) == slow-start ]] && { back=$((t * 100)); break; }
	sleep 0.1
done
echo "     the drop removed: be2 back after ${back:-never} ms more (window 10 s from the pull, rise 2 x 500 ms)"
since_pull=$(($(now_ms) - t0 - ${t_down:-0}))
expect comes_back_after_window "be2 back ${since_pull} ms after the pull: $(field 2 state), reason '$(field 2 reason)'" \
	test -n "$back" -a -z "$(field 2 reason)" -a "$since_pull" -ge 9500
out=$(lbctl vip add 198.18.1.9:80/tcp --passive 3 2>&1)
expect bad_passive_refused "--passive 3: $out" bash -c "[[ '$out' == *'not N/WINDOW'* ]]"
e2e_finish
