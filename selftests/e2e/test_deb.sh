#!/usr/bin/env bash
# The Debian package as an operator gets it: make deb builds
# xlb_VERSION_ARCH.deb from a copy (the tree stays as it was); its Depends
# name the package of every library lbd and lbctl link and of the unit's
# /bin/kill; its files are where lbd and the unit look for them, lbd.conf
# a 0600 conffile; lintian (where installed) finds no error or warning.
# apt-get installs it offline, without systemd running, neither enabling
# nor starting lbd. The installed lbd, run as the installed unit's
# ExecStart with the unit's capabilities and none of our paths (its default
# config, socket and pin directory), attaches and balances real curls, and
# /usr/bin/lbctl talks to it on its default socket. A reinstall keeps the
# lbd.conf lbd rewrote; a purge leaves none of the package's files,
# /etc/xlb, the unit's state, the pins or /run/xlb. A machine that has xlb
# (or its default paths) already is left alone: the test skips.
E2E_PREFIX=xe-deb E2E_SUITE=deb
source "$(dirname "$0")/lib.sh"
P=$E2E_PREFIX
export DEBIAN_FRONTEND=noninteractive

skip_all() {
	echo "skip $E2E_SUITE: $*"
	echo "RESULT passed=0 failed=0 skipped=1"
	exit 0
}
dpkg-query -W -f='${Status}' xlb 2>/dev/null | grep -q 'installed' &&
	skip_all "the xlb package is installed already: this test installs and purges it"
for f in /usr/sbin/lbd /usr/bin/lbctl /etc/xlb /run/xlb /sys/fs/bpf/xlb; do
	[[ -e $f ]] && skip_all "$f exists (an xlb installed another way, or running): the package would replace or remove it"
done
if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
	skip_all "dpkg-dev or debhelper missing (make deps installs them)"
fi

installed=0
deb_cleanup() {
	tb_down "$P" >/dev/null 2>&1
	if ((installed)); then
		dpkg --purge xlb >/dev/null 2>&1
		rm -rf /etc/xlb /run/xlb /sys/fs/bpf/xlb	# none of them was there before (checked above)
	fi
}
trap 'deb_cleanup; e2e_finish' EXIT
trap 'exit 130' INT TERM
mkdir -p "$TB_DIR"

git_state() { git -C "$E2E_ROOT" status --porcelain --ignored=no 2>/dev/null; }
tree_before=$(git_state)
version=$(dpkg-parsechangelog -l "$E2E_ROOT/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb=$TB_BUILD/xlb_${version}_${arch}.deb
rm -f "$deb"
make -s -C "$E2E_ROOT" BUILD="$TB_BUILD" deb >"$TB_DIR/make.log" 2>&1
rc=$?
expect make_deb_builds "make deb: exit $rc, $(tail -3 "$TB_DIR/make.log" | tr '\n' ' '), $deb: $(ls "$deb" 2>&1)" \
	test "$rc" -eq 0 -a -s "$deb"
[[ -s $deb ]] || exit 1
expect tree_stays_clean "git status after make deb: $(git_state | tr '\n' ' ')" test "$(git_state)" = "$tree_before"
expect package_names "Package, Version, Architecture: $(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')" \
	test "$(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')" = \
	"Package: xlb Version: $version Architecture: $arch "

if command -v lintian >/dev/null; then
	tags=$(lintian --pedantic "$TB_BUILD/deb/xlb_${version}_${arch}.changes" 2>/dev/null | grep -E '^[EW]:')
	expect lintian_clean "lintian: $(tr '\n' ';' <<<"$tags")" test -z "$tags"
else
	echo "skip $E2E_SUITE/lintian_clean: no lintian (apt-get install lintian)"
	e2e_skipped=$((e2e_skipped + 1))
fi

# Depends, against what the binaries need: each NEEDED library's package (dpkg -S of the file
# the dynamic linker would load) and the package of the program the unit's ExecReload runs.
x=$TB_DIR/deb
dpkg-deb -x "$deb" "$x"
depends=$(dpkg-deb -f "$deb" Depends)
# owner PATH: the package that ships PATH, under its /usr or its non-/usr name (the dynamic
# linker's cache says /lib where dpkg may know /usr/lib: both are one directory here).
owner() {
	local alt=${1#/usr}
	[[ $alt == "$1" ]] && alt=/usr$1
	dpkg -S "$1" 2>/dev/null | cut -d: -f1 | grep . || dpkg -S "$alt" 2>/dev/null | cut -d: -f1
}
needs=()
for bin in "$x/usr/sbin/lbd" "$x/usr/bin/lbctl"; do
	for lib in $(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }'); do
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
		pkg=$(owner "$path")
		needs+=("${pkg:-(no package has $lib)}")
	done
done
unit_rel=$(cd "$x" && ls {lib,usr/lib}/systemd/system/lbd.service 2>/dev/null | head -1)
reload=$(sed -n 's/^ExecReload=\([^ ]*\).*/\1/p' "$x/$unit_rel")
pkg=$(owner "$reload")
needs+=("${pkg:-(no package has $reload)}")
missing=()
while read -r n; do
	grep -qE "(^|, )$n( |,|$)" <<<"$depends" || missing+=("$n")
done < <(printf '%s\n' "${needs[@]}" | sort -u)
expect depends_cover_libraries_and_unit "Depends: $depends; needed: $(printf '%s ' "${needs[@]}"); missing: ${missing[*]:-}" \
	test "${#needs[@]}" -ge 4 -a "${#missing[@]}" -eq 0

files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub("^\\./", "", $6); print substr($1, 2, 9), $6 }' | sort)
want="rw------- etc/xlb/lbd.conf
rw-r--r-- $unit_rel
rw-r--r-- usr/share/bash-completion/completions/lbctl
rw-r--r-- usr/share/doc/xlb/changelog.gz
rw-r--r-- usr/share/doc/xlb/copyright
rw-r--r-- usr/share/lintian/overrides/xlb
rw-r--r-- usr/share/man/man5/lbd.conf.5.gz
rw-r--r-- usr/share/man/man8/lbctl.8.gz
rw-r--r-- usr/share/man/man8/lbd.8.gz
rwxr-xr-x usr/bin/lbctl
rwxr-xr-x usr/sbin/lbd"
expect files_and_modes "files: $(tr '\n' ';' <<<"$files")" test "$files" = "$(sort <<<"$want")"
expect lbd_conf_is_conffile "conffiles: $(dpkg-deb -I "$deb" conffiles 2>&1)" \
	test "$(dpkg-deb -I "$deb" conffiles)" = /etc/xlb/lbd.conf
expect unit_runs_installed_lbd "$(grep '^ExecStart' "$x/$unit_rel")" \
	grep -qx 'ExecStart=/usr/sbin/lbd --foreground --config /etc/xlb/lbd.conf' "$x/$unit_rel"

# Offline: every dependency is installed already (make deps), so apt-get needs no network.
apt-get install -y --no-install-recommends "$deb" </dev/null >"$TB_DIR/apt.log" 2>&1
rc=$?
installed=1
status=$(dpkg-query -W -f='${Status}' xlb 2>&1)
expect apt_installs "apt-get install: exit $rc, status '$status'; $(grep -iE 'err|fail|warn' "$TB_DIR/apt.log" | tr '\n' ' ')" \
	test "$rc" -eq 0 -a "$status" = "install ok installed"
expect install_says_nothing_wrong "apt-get install output: $(grep -iE 'error|fail|warning' "$TB_DIR/apt.log" | tr '\n' ' ')" \
	bash -c "! grep -iE 'error|fail|warning' '$TB_DIR/apt.log' | grep -v 'running with root'"
running=$(for p in /proc/[0-9]*; do [[ $(readlink "$p/exe" 2>/dev/null) == /usr/sbin/lbd ]] && echo "${p#/proc/}"; done)
enabled=$(find /etc/systemd/system -name lbd.service 2>/dev/null)
expect not_started_nor_enabled "running lbd: '$running', links: '$enabled'" test -z "$running$enabled"
expect installs_lbd_conf "/etc/xlb/lbd.conf: $(stat -c '%a %U' /etc/xlb/lbd.conf 2>&1)" \
	test "$(stat -c '%a %U' /etc/xlb/lbd.conf 2>&1)" = "600 root"
unit=/$unit_rel
dpkg -L xlb | while read -r f; do [[ -f $f ]] && echo "$f"; done | sort >"$TB_DIR/owned"

tb_bpffs_up
if ! tb_up "$P" 2; then
	fail setup "the test bed did not come up"
	exit 1
fi
for i in 1 2; do tb_wait_http "$P" "$i" || { fail setup "backend be$i does not answer HTTP"; exit 1; }; done
KEY="$TB_VIP4:80/tcp"
{
	echo "attach eth0"
	echo "vip $KEY check http:/health interval 500ms"
	for i in 1 2; do echo "  backend $(tb_backend_addr $i 4)"; done
} >>/etc/xlb/lbd.conf

# As systemd would run it: the unit's ExecStart, bounded to the unit's capabilities.
read -ra exec_start <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z ' 'a-z\n' | sed 's/^cap_/+/' | paste -sd,)
nsenter --net="/run/netns/$P-lb" setpriv --no-new-privs --bounding-set "-all,$caps" \
	"${exec_start[@]}" >>"$TB_DIR/lbd.log" 2>&1 &
pid=$!
mkdir -p "$(tb_dir "$P")"
echo "$pid" >"$(tb_dir "$P")/lbd.pid"	# tb_down stops it
disown "$pid"
for ((t = 0; t < 100; t++)); do
	/usr/bin/lbctl vip list >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
vips=$(/usr/bin/lbctl vip list 2>&1)
expect installed_lbctl_talks_to_lbd "lbctl vip list on the default socket: $vips; lbd: $(tail -3 "$TB_DIR/lbd.log" | tr '\n' ' ')" \
	grep -q "$TB_VIP4:80/tcp" <<<"$vips"
expect attaches "eth0 in $P-lb: $(ip -n "$P-lb" -br link show eth0 2>&1); $(ip -n "$P-lb" link show eth0 | grep -o 'prog/xdp id [0-9]*')" \
	bash -c "ip -n $P-lb link show eth0 | grep -q 'prog/xdp'"
expect pins_in_default_dir "/sys/fs/bpf/xlb: $(ls /sys/fs/bpf/xlb 2>&1 | tr '\n' ' ')" test -e /sys/fs/bpf/xlb/conn_map
sleep 1.2	# two health check rounds
out=$(curl_many "$TB_VIP4" 20 | sort | uniq -c | tr '\n' ' ')
expect balances "20 curls through the VIP: $out; curl: $(tail -2 "$TB_DIR/curl.err" 2>/dev/null | tr '\n' ' ')" \
	test "$(curl_many "$TB_VIP4" 20 | grep -c '^be[12]$')" -eq 20

# lbd rewrites its (package-owned) configuration after a change: a reinstall keeps that.
/usr/bin/lbctl vip add "$TB_VIP4:81/tcp" --check none >/dev/null
/usr/bin/lbctl detach eth0 >/dev/null
stopped=$(term_and_wait "$pid" && echo yes || echo no)
expect stops_on_sigterm "lbd exited after SIGTERM: $stopped" test "$stopped" = yes
rm -f "$(tb_dir "$P")/lbd.pid"
apt-get install -y --reinstall "$deb" </dev/null >>"$TB_DIR/apt.log" 2>&1
rc=$?
expect reinstall_keeps_config "reinstall exit $rc; lbd.conf: $(grep -c "$TB_VIP4:8[01]/tcp" /etc/xlb/lbd.conf) of 2 VIPs" \
	test "$rc" -eq 0 -a "$(grep -c "^vip $TB_VIP4:8[01]/tcp" /etc/xlb/lbd.conf)" -eq 2

apt-get purge -y xlb </dev/null >"$TB_DIR/purge.log" 2>&1
rc=$?
left=$(while read -r f; do [[ -e $f ]] && echo "$f"; done <"$TB_DIR/owned"
	for f in /etc/xlb /run/xlb /sys/fs/bpf/xlb /var/lib/dpkg/info/xlb.list; do [[ -e $f ]] && echo "$f"; done
	grep -rl lbd.service /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked 2>/dev/null)
status=$(dpkg-query -W -f='${Status}' xlb 2>/dev/null)
expect purge_leaves_nothing "purge exit $rc, status '$status', left: $(tr '\n' ' ' <<<"$left")" \
	test "$rc" -eq 0 -a -z "$left" -a "$status" != "deinstall ok config-files" -a "$(wc -l <"$TB_DIR/owned")" -ge 9
[[ -z $left && $rc -eq 0 ]] && installed=0
((e2e_failed == 0)) || tail -20 "$TB_DIR/lbd.log" | sed 's/^/     lbd: /'
