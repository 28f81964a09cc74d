#!/usr/bin/env bash
# lbd lists the MACs this node owns in own_mac_map (the attached
# interface's, and a VRRP router's virtual MAC while it is master), and the
# program balances only frames to those: frames to the VIP with l0's MAC or
# the virtual MAC come back balanced to the backends; frames to another
# unicast MAC, as a switch floods them to a promiscuous port, are counted
# as pass_other_mac and reach no backend. The list follows a changed MAC
# (a re-sync) and a removed router, and outlives lbd. The benchmarks' rig:
# xlbgen in PREFIX-gen sends out of g0 and counts what xlb sends back on it.
E2E_PREFIX=xe-mac E2E_SUITE=own_mac
source "$(dirname "$0")/lib.sh"
P=$E2E_PREFIX
VIP=198.18.1.1
KEY=$VIP:80/udp
OTHER=02:00:00:00:09:09
VMAC=00:00:5e:00:01:07
SENT=2000
BACKEND_MACS=02:00:00:00:01:01,02:00:00:00:01:02,02:00:00:00:01:03

# tb_down removes the lb namespace, the pins and lbd; the generator's namespace is ours.
trap 'ip netns del $P-gen 2>/dev/null; e2e_finish' EXIT
trap 'exit 130' INT TERM
tb_bpffs_up
tb_down $P >/dev/null 2>&1
ip netns del $P-gen 2>/dev/null
mkdir -p "$(tb_dir $P)"
tb_pair_up $P
for i in 1 2 3; do
	ip -n $P-lb neigh add "198.18.0.10$i" lladdr "02:00:00:00:01:0$i" dev l0 nud permanent
done
# What a switch's flooding reaches: a port that takes every frame.
ip -n $P-lb link set l0 promisc on
if ! tb_lbd_start $P; then
	fail setup "lbd did not start"
	exit 1
fi
lbctl attach l0 >/dev/null
lbctl vip add $KEY --forward dsr --check none >/dev/null
for i in 1 2 3; do lbctl backend add $KEY "198.18.0.10$i" >/dev/null; done
LMAC=$(ip -n $P-lb link show l0 | awk '/link\/ether/ { print $2 }')
if live_frames_refused $P-gen g0 "$LMAC"; then
	skip own_mac "this kernel refuses BPF_PROG_TEST_RUN's live frames (EPERM): xlbgen cannot send"
	exit 0
fi

counter() { lbctl -j stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["counters"][sys.argv[1]])' "$1"; }
# send DST_MAC: SENT frames to the VIP over 64 flows; sets good, wrong (xlbgen's
# counts of what came back), and the deltas of rx, tx_dsr and pass_other_mac.
send() {
	local rx0 tx0 om0 out
	rx0=$(counter rx) tx0=$(counter tx_dsr) om0=$(counter pass_other_mac)
	out=$(ip netns exec $P-gen "$TB_BUILD/xlbgen" --dev g0 --dst-mac "$1" --src 198.18.0.10 --dst $VIP \
		--dport 80 --flows 64 --packets $SENT --expect-mac $BACKEND_MACS 2>&1)
	good=$(awk '{ for (i = 1; i < NF; i++) if ($i == "good") print $(i + 1) }' <<<"$out")
	wrong=$(awk '{ for (i = 1; i < NF; i++) if ($i == "wrong") print $(i + 1) }' <<<"$out")
	rx=$(($(counter rx) - rx0)) tx=$(($(counter tx_dsr) - tx0)) om=$(($(counter pass_other_mac) - om0))
	sent_what="xlbgen: '$out'; rx +$rx, tx_dsr +$tx, pass_other_mac +$om"
}
# The lb's own frames reach g0 too (VRRP adverts, gratuitous ARPs, IPv6
# neighbour discovery) and count as wrong for xlbgen, and as rx: a few.
NOISE=10
# Most of what was sent came back to the backends, and was counted as sent by DSR.
balanced() { [[ -n $good ]] && ((good >= SENT / 2 && wrong < NOISE && tx >= good && om == 0)); }
# Nothing came back to a backend; nothing was sent; most frames counted as another host's.
passed_other() { [[ -n $good ]] && ((good == 0 && wrong < NOISE && tx == 0 && om >= SENT / 2 && om <= rx)); }
# until_balanced DST_MAC: lbd looks backends up (and follows events) on its own time.
until_balanced() {
	local t
	for ((t = 0; t < 30; t++)); do
		send "$1"
		balanced && return 0
		sleep 0.2
	done
	return 1
}

until_balanced "$LMAC"
expect lb_mac_balanced "to l0's MAC $LMAC: $sent_what" balanced
send $OTHER
expect other_mac_passed "to $OTHER: $sent_what" passed_other
send ff:ff:ff:ff:ff:ff
expect broadcast_passed "to the broadcast address: $sent_what" passed_other

# The address owner is master at once, and its virtual MAC is this node's from then on.
lbctl vrrp add l0 --vrid 7 --priority 255 --advert 1s --vmac --vip $VIP >/dev/null
until_balanced $VMAC
expect vmac_balanced "to the master's virtual MAC $VMAC: $sent_what" balanced
send "$LMAC"
expect lb_mac_balanced_beside_vmac "to l0's MAC with the vmac listed: $sent_what" balanced
send $OTHER
expect other_mac_passed_beside_vmac "to $OTHER with the vmac listed: $sent_what" passed_other
lbctl vrrp del l0 --vrid 7 >/dev/null
send $VMAC
expect vmac_passed_after_router_removed "to $VMAC after vrrp del: $sent_what" passed_other

# A backup's virtual MAC is not this node's (its macvlan is down): a fake
# master of higher priority in gen keeps vrid 8 backup, until it goes quiet.
VMAC8=00:00:5e:00:01:08
ip netns exec $P-gen python3 "$E2E_ROOT/selftests/e2e/vrrp_send.py" --dev g0 --src 198.18.0.10 --vrid 8 \
	--priority 200 --vip 198.18.1.8 --interval-cs 100 --count 100 --every 0.2 >/dev/null 2>&1 &
fake_pid=$!
trap 'kill $fake_pid 2>/dev/null; ip netns del $P-gen 2>/dev/null; e2e_finish' EXIT
sleep 0.5
lbctl vrrp add l0 --vrid 8 --priority 100 --advert 1s --vmac --vip 198.18.1.8 >/dev/null
sleep 1
state8() { lbctl -j vrrp show | python3 -c 'import json, sys
print([r["state"] for r in json.load(sys.stdin)["routers"] if r["vrid"] == 8][0])'; }
send $VMAC8
st8=$(state8)
backup_passed() { [[ $st8 == backup ]] && passed_other; }
expect backup_vmac_passed "vrid 8 $st8, to its virtual MAC $VMAC8: $sent_what" backup_passed
kill $fake_pid 2>/dev/null
wait $fake_pid 2>/dev/null
until_balanced $VMAC8
expect vmac_balanced_once_master "vrid 8 $(state8) after its master went quiet, to $VMAC8: $sent_what" balanced
lbctl vrrp del l0 --vrid 8 >/dev/null

# A new MAC on l0 is a link event: the re-sync lists it in place of the old one.
NEWMAC=02:00:00:00:0a:0a
ip -n $P-lb link set l0 address $NEWMAC
until_balanced $NEWMAC
expect new_mac_balanced "to l0's new MAC $NEWMAC: $sent_what" balanced
send "$LMAC"
expect old_mac_passed "to l0's old MAC $LMAC: $sent_what" passed_other

# The program and its pinned list outlive lbd (SIGTERM, as a restart does).
tb_lbd_stop $P
send_stopped() {
	local out
	out=$(ip netns exec $P-gen "$TB_BUILD/xlbgen" --dev g0 --dst-mac "$1" --src 198.18.0.10 --dst $VIP \
		--dport 80 --flows 64 --packets $SENT --expect-mac $BACKEND_MACS 2>&1)
	awk '{ for (i = 1; i < NF; i++) if ($i == "good") print $(i + 1) }' <<<"$out"
}
good_new=$(send_stopped $NEWMAC) good_other=$(send_stopped $OTHER)
expect list_outlives_lbd "lbd stopped: $good_new of $SENT to $NEWMAC, $good_other to $OTHER came back" \
	test "${good_new:-0}" -ge $((SENT / 2)) -a "${good_other:-1}" -eq 0
if tb_lbd_start $P; then
	send $OTHER
	expect other_mac_passed_after_restart "restarted lbd, to $OTHER: $sent_what" passed_other
	send $NEWMAC
	expect new_mac_balanced_after_restart "restarted lbd, to $NEWMAC: $sent_what" balanced
else
	fail restart "lbd did not start again"
fi
