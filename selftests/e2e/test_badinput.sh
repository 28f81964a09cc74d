#!/usr/bin/env bash
# Bad input gets one clear line and a non-zero exit, and changes nothing:
# wrong lbctl arguments, unknown VIPs and backends, a corrupt config file
# (on reload and at start), a second lbd on the same pin dir, and a
# control-socket peer that is not root.
E2E_PREFIX=xe-bad E2E_SUITE=badinput
source "$(dirname "$0")/lib.sh"
e2e_start 2
KEY="$TB_VIP4:80/tcp"
CONF="$TB_DIR/$E2E_PREFIX/lbd.conf"
lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" >/dev/null
for i in 1 2; do lbctl backend add "$KEY" "$(tb_backend_addr "$i" 4)" >/dev/null; done

# What must not change: the file, and the configuration lbd reports.
state() { md5sum <"$CONF"; lbctl config show; }
before=$(state)

# rejected NAME WANT_IN_MESSAGE ARGS...: lbctl exits non-zero with one line naming the problem.
rejected() {
	local name=$1 want=$2 out err rc
	shift 2
	out=$(lbctl "$@" 2>"$TB_DIR/err")
	rc=$?
	err=$(cat "$TB_DIR/err")
	if ((rc == 0)); then
		fail "$name" "lbctl $* succeeded"
	elif [[ $(wc -l <<<"$err") -ne 1 || $err != lbctl:* || $err != *"$want"* ]]; then
		fail "$name" "want one 'lbctl: ...$want...' line, got: $err"
	elif [[ -n $out ]]; then
		fail "$name" "printed to stdout: $out"
	elif [[ $(state) != "$before" ]]; then
		fail "$name" "the configuration changed"
	else
		ok "$name"
	fi
}

rejected no_command "no command"
rejected unknown_command "frobnicate" frobnicate
rejected vip_without_port "port" vip add 198.18.1.1/tcp
rejected vip_bad_proto "sctp" vip add 198.18.1.1:80/sctp
rejected vip_v6_without_brackets "[2001:db8:1::1]:PORT" vip add 2001:db8:1::1:80/tcp
rejected vip_bad_forward "gre" vip add 198.18.1.2:80/tcp --forward gre
rejected ring_not_prime "prime" vip add 198.18.1.2:80/tcp --ring-size 1000
rejected ring_too_small "251" vip add 198.18.1.2:80/tcp --ring-size 101
rejected vip_exists "exists" vip add "$KEY"
rejected unknown_vip_del "198.18.9.9:80/tcp" vip del 198.18.9.9:80/tcp
rejected unknown_vip_backend "198.18.9.9:80/tcp" backend add 198.18.9.9:80/tcp 198.18.0.101
rejected unknown_vip_list "198.18.9.9:80/tcp" backend list 198.18.9.9:80/tcp
rejected backend_not_in_vip "198.18.0.199" backend del "$KEY" 198.18.0.199
rejected bad_weight "weight" backend add "$KEY" 198.18.0.103 --weight -1
rejected set_without_change "--weight" backend set "$KEY" 198.18.0.101
rejected unknown_option "--speed" vip add 198.18.1.2:80/tcp --speed 9
rejected attach_no_dev "attach" attach
rejected attach_unknown_dev "nosuchdev0" attach nosuchdev0
rejected watch_not_number "watch" stats --watch x
rejected vrrp_unknown_dev "nosuchdev0" vrrp add nosuchdev0 --vrid 9 --vip 198.18.1.9
rejected vrrp_without_vip "--vip" vrrp add eth0 --vrid 9
rejected vrrp_bad_advert "advert" vrrp add eth0 --vrid 9 --advert 5ms --vip 198.18.1.9
rejected vrrp_mixed_families "not both" vrrp add eth0 --vrid 9 --vip 198.18.1.9 2001:db8:1::9
rejected vrrp_del_unknown "no VRID 9" vrrp del eth0 --vrid 9

# A corrupt file: reload names the line and keeps the running state.
cp "$CONF" "$TB_DIR/good.conf"
printf 'attach eth0\nvip 198.18.1.1:80/tcp\n  backend 198.18.0.101 weight lots\n' >"$CONF"
running=$(lbctl config show)
err=$(lbctl config reload 2>&1)
rc=$?
if ((rc != 0)) && [[ $err == *"lbd.conf:3:"*weight* ]] && [[ $(lbctl config show) == "$running" ]]; then
	ok corrupt_config_reload
else
	fail corrupt_config_reload "rc $rc, message '$err', or the running state changed"
fi
curl_many "$TB_VIP4" 20 >"$TB_DIR/reload.names"
expect corrupt_config_keeps_forwarding "$(wc -l <"$TB_DIR/reload.names") of 20 answered" \
	test "$(wc -l <"$TB_DIR/reload.names")" -eq 20

# The same file at start: lbd refuses with the line and reason and leaves no daemon behind.
err=$(nsenter --net="/run/netns/$E2E_PREFIX-lb" "$TB_BUILD/lbd" --foreground --config "$CONF" \
	--socket "$TB_DIR/other.sock" --pin-dir "/sys/fs/bpf/$E2E_PREFIX-other" 2>&1)
rc=$?
rm -rf "/sys/fs/bpf/$E2E_PREFIX-other"
if ((rc != 0)) && [[ $err == *"lbd.conf:3:"*weight* ]]; then
	ok corrupt_config_at_start
else
	fail corrupt_config_at_start "rc $rc, message '$err'"
fi
cp "$TB_DIR/good.conf" "$CONF"

# A second lbd on the same pin dir: refused, the first one untouched.
err=$(timeout 10 nsenter --net="/run/netns/$E2E_PREFIX-lb" "$TB_BUILD/lbd" --foreground \
	--config "$TB_DIR/good.conf" --socket "$TB_DIR/second.sock" --pin-dir "/sys/fs/bpf/$E2E_PREFIX" 2>&1)
rc=$?
if ((rc != 0 && rc != 124)) && [[ $err == *"another lbd"*"/sys/fs/bpf/$E2E_PREFIX"* ]]; then
	ok second_lbd_refused
else
	fail second_lbd_refused "rc $rc, message '$err'"
fi
curl_many "$TB_VIP4" 20 >"$TB_DIR/second.names"
expect first_lbd_unaffected "lbctl or forwarding broke after the second lbd" \
	test "$(wc -l <"$TB_DIR/second.names")" -eq 20 -a "$(state)" = "$before"

# The socket: 0600, and a peer that is not root is refused even if the mode is opened up.
sock="$TB_DIR/$E2E_PREFIX/lbd.sock"
expect socket_mode_0600 "mode is $(stat -c %a "$sock")" test "$(stat -c %a "$sock")" = 600
install -m 0755 "$TB_BUILD/lbctl" "$TB_DIR/lbctl"
chmod 0755 "$TB_DIR" "$TB_DIR/$E2E_PREFIX"
chmod 0666 "$sock"
err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$TB_DIR/lbctl" -s "$sock" vip list 2>&1)
rc=$?
chmod 0600 "$sock"
if ((rc != 0)) && [[ $err == *"must run as root"* ]]; then
	ok non_root_peer_refused
else
	fail non_root_peer_refused "rc $rc, message '$err'"
fi

# A config file gone missing: reload refuses instead of emptying the balancer.
mv "$CONF" "$TB_DIR/moved.conf"
err=$(lbctl config reload 2>&1)
rc=$?
mv "$TB_DIR/moved.conf" "$CONF"
if ((rc != 0)) && [[ $err == *"cannot read"*"running configuration stays"* && $(state) == "$before" ]]; then
	ok missing_config_reload_refused
else
	fail missing_config_reload_refused "rc $rc, message '$err', or the state changed"
fi
