#!/usr/bin/env bash
# 300 real curl requests through the VIP reach all three backends, with no
# failure and a spread within 4.5 standard deviations of even, for dsr and ipip over IPv4
# and IPv6. A backend whose MAC cannot be resolved stays out of the table
# with its reason shown, and takes no traffic.
E2E_PREFIX=xe-spread E2E_SUITE=spread
source "$(dirname "$0")/lib.sh"
e2e_start 3
lbctl attach eth0 >/dev/null || fail attach "lbctl attach eth0 failed"

N=300
for fwd in dsr ipip; do
	for fam in 4 6; do
		if [[ $fam == 4 ]]; then vip=$TB_VIP4 host=$TB_VIP4 key="$TB_VIP4:80/tcp"
		else vip=$TB_VIP6 host="[$TB_VIP6]" key="[$TB_VIP6]:80/tcp"; fi
		name="${fwd}_v$fam"
		lbctl vip add "$key" --forward "$fwd" >/dev/null
		for i in 1 2 3; do
			lbctl backend add "$key" "$(tb_backend_addr "$i" "$fam")" >/dev/null
		done
		out="$TB_DIR/$name.names"
		: >"$TB_DIR/curl.err"
		# The first case meets cold neighbour caches: a backend still being
		# resolved holds no share yet, and the others would take its flows.
		active_within "$key" 3 || fail "${name}_backends_active" "not all 3 backends active: $(lbctl backend list "$key")"
		curl_many "$host" $N >"$out"
		got=$(wc -l <"$out")
		if ((got != N)); then
			fail "$name" "$((N - got)) of $N requests failed: $(sort "$TB_DIR/curl.err" | uniq -c)"
		elif ! spread_ok "$out" $N 3; then
			fail "$name" "spread beyond 4.5 deviations of $((N / 3)): $(sort "$out" | uniq -c | tr -s ' \n' ' ')"
		else
			ok "$name"
		fi
		echo "     $name: $(sort "$out" | uniq -c | tr -s ' \n' ' ')"
		lbctl vip del "$key" >/dev/null
	done
done

# A backend nobody answers ARP for: pending, out of the table, reason visible.
key="$TB_VIP4:80/tcp"
lbctl vip add "$key" >/dev/null
for i in 1 2; do lbctl backend add "$key" "$(tb_backend_addr "$i" 4)" >/dev/null; done
lbctl backend add "$key" 198.18.0.199 >/dev/null
sleep 1
row=$(lbctl backend list "$key" | grep 198.18.0.199)
if [[ $row == *resolving* && $row == *" 0.00%"* ]]; then
	ok unresolved_backend_shown
else
	fail unresolved_backend_shown "expected state resolving and share 0.00%, got: $row"
fi
curl_many "$TB_VIP4" 60 >"$TB_DIR/unresolved.names"
expect unresolved_backend_gets_no_traffic "all 60 requests answered by be1/be2" \
	test "$(grep -cxE 'be1|be2' "$TB_DIR/unresolved.names")" -eq 60

# Generic (skb) mode when asked: the same traffic still gets through.
lbctl detach eth0 >/dev/null
attached=$(ip -n "$E2E_PREFIX-lb" link show eth0 | grep -c 'prog/xdp')
expect detach_removes_program "eth0 still has an XDP program after lbctl detach" test "$attached" -eq 0
lbctl attach eth0 --xdp-mode generic >/dev/null
mode=$(lbctl -j show | python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["xdp_mode"])')
curl_many "$TB_VIP4" 60 >"$TB_DIR/generic.names"
expect generic_mode_forwards "mode $mode; $(wc -l <"$TB_DIR/generic.names") of 60 answered" \
	test "$mode" = generic -a "$(grep -cxE 'be1|be2' "$TB_DIR/generic.names")" -eq 60
