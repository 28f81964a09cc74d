#!/usr/bin/env bash
# lbd built with AddressSanitizer and UndefinedBehaviorSanitizer
# (build/asan/lbd) runs the work whose memory lives longest: 100 UDP VIPs
# of 65537 slots that carried traffic have a backend drained, so every one
# holds moved slots through two sweeps of the connection table (whose
# unmarking takes several steps, so a scan ends in a step that does not
# end the pass), then shows, stats, traces, a metrics server started,
# scraped and stopped, VIPs deleted and a reload. At SIGTERM,
# LeakSanitizer reports what was never freed: lbd's log must hold no
# sanitizer report at all.
E2E_PREFIX=xe-leaks E2E_SUITE=leaks
source "$(dirname "$0")/lib.sh"
if [[ ! -x $TB_BUILD/asan/lbd ]]; then
	skip all "no $TB_BUILD/asan/lbd: make builds it"
	echo "RESULT passed=0 failed=0 skipped=1"
	exit 0
fi
TB_BUILD=$TB_BUILD/asan
# Reports go to the log; the exit code says nothing extra (the report is what is read).
export ASAN_OPTIONS=detect_leaks=1:exitcode=0 UBSAN_OPTIONS=print_stacktrace=1
e2e_start 2
P=$E2E_PREFIX
CONF=$(tb_dir "$P")/$(tb_lbd_base).conf
LOG=$(tb_dir "$P")/$(tb_lbd_base).log
BE1=$(tb_backend_addr 1 4) BE2=$(tb_backend_addr 2 4)
N=100

vips_with_moves() {
	lbctl -j vip list | python3 -c '
import json, sys
print(sum(1 for v in json.load(sys.stdin)["vips"] if v.get("moved_slots", 0) > 0))'
}

write_conf() {	# write_conf DRAIN: the N VIPs, their second backend drained or not
	{
		echo "attach eth0"
		echo "vip $TB_VIP4:80/tcp check none"
		echo "  backend $BE1"
		echo "  backend $BE2"
		for ((i = 0; i < N; i++)); do
			echo "vip $TB_VIP4:$((2000 + i))/udp ring-size 65537 check none"
			echo "  backend $BE1"
			echo "  backend $BE2${1:+ drain}"
		done
	} >"$TB_DIR/leaks.conf"
	cp "$TB_DIR/leaks.conf" "$CONF"
}

write_conf ""
expect reload_many_vips "$(lbctl config reload 2>&1)" lbctl config reload
# A datagram to each VIP: they have carried traffic, so the drain's marks stay for the sweep to take off.
ip netns exec "$P-cli" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(2000, 2000 + int(sys.argv[2])):
    s.sendto(b"x", (sys.argv[1], p))' "$TB_VIP4" "$N"
sleep 0.5
write_conf drain
expect reload_drains "$(lbctl config reload 2>&1)" lbctl config reload
moved=$(vips_with_moves)
expect drained_vips_hold_moved_slots "$moved of $N VIPs hold moved slots" test "$moved" -ge "$N"

passes=$(show_field sweep_passes)
for ((t = 0; t < 150; t++)); do
	(($(show_field sweep_passes) >= passes + 2)) && break
	sleep 0.1
done
expect two_sweeps_ran "sweep passes $passes before, $(show_field sweep_passes) 15 s later" \
	test "$(show_field sweep_passes)" -ge $((passes + 2))

# The rest of what a day brings: views, a trace, metrics, deletes, a reload.
lbctl show >/dev/null
lbctl -j stats >/dev/null
lbctl vip list >/dev/null
lbctl trace 198.18.0.1:40000 "$TB_VIP4:2000/udp" >/dev/null
curl_many "$TB_VIP4" 10 >/dev/null
lbctl metrics set --listen "$TB_LB4:9310" >/dev/null
ip netns exec "$P-cli" curl -s -o /dev/null --max-time 5 "http://$TB_LB4:9310/metrics"
lbctl metrics del >/dev/null
for ((i = 0; i < 10; i++)); do lbctl vip del "$TB_VIP4:$((2000 + i))/udp" >/dev/null; done
write_conf ""
lbctl config reload >/dev/null

pid=$(cat "$(tb_dir "$P")/$(tb_lbd_base).pid")
expect lbd_exits "lbd did not exit within 5 s of SIGTERM" term_and_wait "$pid"
if grep -qE 'Sanitizer|runtime error' "$LOG"; then
	fail no_sanitizer_report "lbd's log has a sanitizer report:"
	grep -E -A12 'ERROR: (Leak|Address)Sanitizer|runtime error' "$LOG" | head -40
else
	ok no_sanitizer_report
fi
