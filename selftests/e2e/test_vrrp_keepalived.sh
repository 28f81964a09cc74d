#!/usr/bin/env bash
# lbd's VRRPv3 against keepalived (the reference implementation) as the
# other router, both ways round: xlb master with keepalived backup, then
# keepalived master with xlb backup. Takeover within 3 x advert + skew, a
# 10 ms ping loses no more than that, and tshark decodes xlb's
# advertisements as valid VRRPv3 with a correct checksum.
E2E_PREFIX=xe-ka E2E_SUITE=keepalived
source "$(dirname "$0")/lib.sh"
if ! command -v keepalived >/dev/null || ! command -v tshark >/dev/null; then
	echo "skip keepalived: keepalived or tshark missing (make deps installs them)"
	echo "RESULT passed=0 failed=0 skipped=1"
	exit 0
fi
e2e_start 2
P=$E2E_PREFIX
KEY="$TB_VIP4:80/tcp"
ADVERT_MS=100
tb_lb_up $P ka 198.18.0.4 2001:db8::4
ip -n $P-cli route replace $TB_VIP4/32 dev eth0
DIR=$TB_DIR/$P

now_ms() { date +%s%3N; }
holds_vip() { ip -n "$P-$1" -4 addr show dev eth0 | grep -q " $TB_VIP4/32"; }
xlb_state() { lbctl vrrp show 2>/dev/null | awk 'NR == 1 { print $5 }'; }
bound_ms() { echo $((3 * ADVERT_MS + (256 - $1) * ADVERT_MS / 256)); }
# wait_for T0 MS CMD...: until CMD succeeds; prints ms since T0.
wait_for() {
	local t0=$1 end=$(($(now_ms) + $2))
	shift 2
	while (($(now_ms) < end)); do
		"$@" && { echo $(($(now_ms) - t0)); return 0; }
		sleep 0.01
	done
	return 1
}

ka_start() {
	cat >"$DIR/keepalived.conf" <<KA
global_defs {
    router_id xlb-test-ka
    vrrp_version 3
}
vrrp_instance VI_51 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $1
    advert_int $(awk -v m=$ADVERT_MS 'BEGIN { print m / 1000 }')
    virtual_ipaddress {
        $TB_VIP4/32 dev eth0
    }
}
KA
	ip netns exec $P-ka keepalived --dont-fork --log-console --vrrp --use-file "$DIR/keepalived.conf" \
		--pid "$DIR/ka-main.pid" --vrrp_pid "$DIR/ka-vrrp.pid" >>"$DIR/keepalived.log" 2>&1 &
	echo $! >"$DIR/ka.pid"
	disown $!
}
ka_kill() {
	local pid
	pid=$(cat "$DIR/ka-vrrp.pid" 2>/dev/null)
	[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
	[[ -e $DIR/ka.pid ]] && kill -KILL "$(cat "$DIR/ka.pid")" 2>/dev/null
	rm -f "$DIR/ka.pid" "$DIR/ka-vrrp.pid" "$DIR/ka-main.pid"
}
trap 'ka_kill; e2e_finish' EXIT

xlb_configure() {
	lbctl attach eth0 >/dev/null
	lbctl vip add "$KEY" >/dev/null
	for i in 1 2; do lbctl backend add "$KEY" "$(tb_backend_addr $i 4)" >/dev/null; done
	lbctl vrrp add eth0 --vrid 51 --priority "$1" --advert ${ADVERT_MS}ms --vip $TB_VIP4 >/dev/null
}

ping_start() {
	ip netns exec $P-cli ping -n -D -i 0.01 -c 250 -W 1 $TB_VIP4 >"$DIR/ping.out" 2>&1 &
	ping_pid=$!
}

# ---- xlb master, keepalived backup ----
xlb_configure 200
ka_start 100
t0=$(now_ms)
xlb_is_master() { [[ $(xlb_state) == master ]]; }
wait_for "$t0" 3000 xlb_is_master >/dev/null
sleep 0.5
expect xlb_master_ka_backup "xlb $(xlb_state), keepalived holds VIP: $(holds_vip ka && echo yes || echo no)" \
	bash -c "[[ \$(TB_DIR=$TB_DIR; source $E2E_ROOT/scripts/testbed.sh; TB_QUIET=1 tb_lbctl $P vrrp show | awk 'NR == 1 { print \$5 }') == master ]] && ! ip -n $P-ka -4 addr show dev eth0 | grep -q ' $TB_VIP4/32'"
ip netns exec $P-ka tshark -q -i eth0 -a duration:1 -f "ip proto 112 and src host $TB_LB4" -w "$DIR/adverts.pcap" >/dev/null 2>&1
fields=$(tshark -r "$DIR/adverts.pcap" -T fields -e vrrp.version -e vrrp.type -e vrrp.prio \
	-e vrrp.checksum.status 2>/dev/null | sort -u | tr '\t' ' ')
count=$(tshark -r "$DIR/adverts.pcap" 2>/dev/null | grep -c VRRP)
# version 3, type 1 (advertisement), priority 200, checksum status 1 (good)
echo "     tshark on xlb's adverts: $count decoded as version type priority checksum-status: $fields"
expect tshark_decodes_valid_vrrp3 "$count adverts decoded as '$fields'" \
	test "$fields" = "3 1 200 1" -a "$count" -ge 5
ping_start
sleep 0.5
t0=$(now_ms)
kill -KILL "$(cat "$DIR/lbd.pid")"
ip -n $P-lb link set eth0 down
expect_takeover ka_takes_over_from_xlb ka_takeover_loss "xlb killed -> keepalived holds the VIP" \
	"$(bound_ms 100)" "$t0" "$ping_pid" "$DIR/ping.out" holds_vip ka

# ---- keepalived master, xlb backup ----
tb_lbd_stop $P
ka_kill
ip -n $P-ka -4 addr del $TB_VIP4/32 dev eth0 2>/dev/null
ip -n $P-lb link set eth0 up
sed -i 's/^vrrp eth0 vrid 51 priority 200/vrrp eth0 vrid 51 priority 100/' "$DIR/lbd.conf"
ka_start 200
sleep 0.5
tb_lbd_start $P || fail setup "lbd did not restart"
t0=$(now_ms)
wait_for "$t0" 3000 holds_vip ka >/dev/null
sleep 0.5
master=$(lbctl -j vrrp show | python3 -c 'import json,sys; r=json.load(sys.stdin)["routers"][0]; print(r["state"], r["master"], r["master_priority"])')
expect ka_master_xlb_backup "xlb: $master" test "$master" = "backup 198.18.0.4 200"
ping_start
sleep 0.5
t0=$(now_ms)
ka_kill
ip -n $P-ka link set eth0 down
expect_takeover xlb_takes_over_from_ka xlb_takeover_loss "keepalived killed -> xlb holds the VIP" \
	"$(bound_ms 100)" "$t0" "$ping_pid" "$DIR/ping.out" holds_vip lb
