#!/usr/bin/env bash
# lbd as systemd runs it from lbd.service: with only the unit's capabilities
# (CapabilityBoundingSet, NoNewPrivileges; applied here with setpriv) it
# loads, pins, attaches, balances real curl traffic and runs a VRRP router;
# and it speaks sd_notify to NOTIFY_SOCKET (here a listener of ours):
# READY=1 with its pid once lbctl answers, RELOADING=1 then READY=1 on
# SIGHUP, STOPPING=1 on SIGTERM, then a clean exit. Without CAP_SYS_ADMIN
# (which only adopting an attached program needs) it still attaches.
E2E_PREFIX=xe-svc E2E_SUITE=service
source "$(dirname "$0")/lib.sh"
P=$E2E_PREFIX
KEY="$TB_VIP4:80/tcp"
mkdir -p "$TB_DIR"
NOTES=$TB_DIR/notify.log
export NOTIFY_SOCKET=$TB_DIR/notify.sock
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        msg = s.recv(4096).decode(errors="replace")
        out.write("%d %s\n" % (time.time() * 1000, msg.replace("\n", "|")))
' "$NOTIFY_SOCKET" "$NOTES" &
listener=$!
trap 'kill $listener 2>/dev/null; e2e_finish' EXIT
for ((t = 0; t < 50; t++)); do
	[[ -S $NOTIFY_SOCKET ]] && break
	sleep 0.05
done
# The unit's CapabilityBoundingSet and NoNewPrivileges.
export TB_LBD_WRAP="setpriv --no-new-privs --bounding-set -all,+bpf,+perfmon,+net_admin,+net_raw,+sys_admin"
e2e_start 2
trap 'kill $listener 2>/dev/null; e2e_finish' EXIT	# e2e_start set its own
unset TB_LBD_WRAP NOTIFY_SOCKET
pid=$(cat "$(tb_dir $P)/lbd.pid")

caps=$(awk '/^CapEff/ { print $2 }' "/proc/$pid/status")
# CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39.
expect runs_with_unit_caps "lbd's CapEff $caps" test "$caps" = 000000c000203000
ready=$(grep -m1 'READY=1' "$NOTES")
expect ready_notified "notifications: $(tr '\n' ' ' <"$NOTES")" \
	grep -q "READY=1|STATUS=balancing 0 VIPs|MAINPID=$pid" <<<"$ready"

lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" --check tcp --interval 500ms >/dev/null
for i in 1 2; do lbctl backend add "$KEY" "$(tb_backend_addr $i 4)" >/dev/null; done
sleep 1
out=$(curl_many "$TB_VIP4" 20 | sort | uniq -c | tr '\n' ' ')
expect balances_with_unit_caps "20 curls through the VIP: $out" \
	test "$(curl_many "$TB_VIP4" 20 | grep -c '^be[12]$')" -eq 20
expect pins_with_unit_caps "pins: $(ls "$(tb_pin_dir $P)" 2>&1 | tr '\n' ' ')" test -e "$(tb_pin_dir $P)/conn_map"
lbctl vrrp add eth0 --vrid 9 --priority 255 --advert 100ms --vip 198.18.1.9 >/dev/null
sleep 0.5
vrrp=$(lbctl -j vrrp show | python3 -c 'import json, sys
r = json.load(sys.stdin)["routers"][0]
print(r["state"], r["counters"]["tx"])')
expect vrrp_with_unit_caps "vrrp: state and adverts sent: $vrrp; 198.18.1.9 on eth0: $(ip -n $P-lb -br addr show eth0)" \
	bash -c "[[ '$vrrp' == master\ [1-9]* ]] && ip -n $P-lb addr show eth0 | grep -q 198.18.1.9/32"

before=$(grep -c . "$NOTES")
kill -HUP "$pid"
for ((t = 0; t < 50; t++)); do
	(($(grep -c . "$NOTES") >= before + 2)) && break
	sleep 0.1
done
reload=$(tail -n +$((before + 1)) "$NOTES" | cut -d' ' -f2- | tr '\n' ' ')
expect reload_notified "after SIGHUP: $reload" \
	grep -qE '^RELOADING=1 READY=1\|STATUS=balancing 1 VIPs \(reloaded\)' <<<"$reload"

# Detached first, so that the lbd started below attaches afresh.
lbctl detach eth0 >/dev/null
before=$(grep -c . "$NOTES")
gone=$(term_and_wait "$pid" && echo yes || echo no)
expect stopping_notified "after SIGTERM: $(tail -n +$((before + 1)) "$NOTES" | cut -d' ' -f2- | tr '\n' ' '), exited: $gone" \
	bash -c "[[ $gone == yes ]] && tail -n +$((before + 1)) '$NOTES' | grep -q ' STOPPING=1$'"
rm -f "$(tb_dir $P)/lbd.pid"

# Without CAP_SYS_ADMIN an attach still works (libxdp, used before, crashed in libbpf when it could not read the program's BTF).
TB_LBD_WRAP="setpriv --no-new-privs --bounding-set -all,+bpf,+perfmon,+net_admin,+net_raw" tb_lbd_start $P ||
	fail setup "lbd without CAP_SYS_ADMIN did not start"
pid=$(cat "$(tb_dir $P)/lbd.pid")
lbctl attach eth0 >/dev/null
rc=$?
sleep 0.5
n=$(curl_many "$TB_VIP4" 10 | grep -c '^be[12]$')
expect attach_without_sys_admin "attach exit $rc, lbd alive $(kill -0 "$pid" 2>/dev/null && echo yes || echo no), $n of 10 curls answered" \
	test "$rc" -eq 0 -a "$n" -eq 10
((e2e_failed == 0)) || tail -20 "$(tb_dir $P)/lbd.log" | sed 's/^/     lbd: /'
