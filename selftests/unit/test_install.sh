#!/usr/bin/env bash
# make install and make uninstall into a scratch PREFIX (no root, no
# DESTDIR tricks: the unit's paths are the installed ones): every file in
# its place with its mode, the installed lbd and lbctl run from elsewhere,
# systemd accepts the unit, a second install keeps an edited lbd.conf, and
# uninstall removes what install put there and nothing the operator changed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
SUITE=install
# shellcheck source=check.sh
source "$root/selftests/unit/check.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
p=$dir/root/usr etc=$dir/root/etc
inst() { make -s -C "$root" BUILD="$build" PREFIX="$p" SYSCONFDIR="$etc" "$@" >>"$dir/make.log" 2>&1; }

inst install
expect install_runs "$(tail -5 "$dir/make.log")" test $? -eq 0
modes=$(cd "$dir/root" && find . -type f -printf '%m %P\n' | sort)
want="600 etc/xlb/lbd.conf
644 usr/lib/systemd/system/lbd.service
644 usr/share/bash-completion/completions/lbctl
644 usr/share/man/man5/lbd.conf.5
644 usr/share/man/man8/lbctl.8
644 usr/share/man/man8/lbd.8
755 usr/bin/lbctl
755 usr/sbin/lbd"
expect files_and_modes "installed: $(tr '\n' ';' <<<"$modes")" test "$modes" = "$want"
# From another directory: lbd carries its BPF program, nothing is looked up in the tree.
out=$(cd / && "$p/sbin/lbd" --help 2>&1 | head -1)
expect lbd_runs_from_anywhere "lbd --help: $out" grep -q '^usage: lbd' <<<"$out"
out=$(cd / && "$p/bin/lbctl" --help 2>&1 | head -1)
expect lbctl_runs_from_anywhere "lbctl --help: $out" grep -q '^usage: lbctl' <<<"$out"
# The installed completion is the one the installed lbctl writes, and bash reads it.
comp=$p/share/bash-completion/completions/lbctl
expect completion_is_lbctls "installed completion differs from '$p/bin/lbctl completion bash'" \
	cmp -s "$comp" <("$p/bin/lbctl" completion bash)
out=$(bash -c "source '$comp' && complete -p lbctl" 2>&1)
expect completion_loads "bash, on loading it: $out" test "$out" = "complete -F _lbctl lbctl"
unit=$p/lib/systemd/system/lbd.service
expect unit_names_installed_paths "$(grep '^Exec' "$unit" | tr '\n' ';')" \
	grep -qx "ExecStart=$p/sbin/lbd --foreground --config $etc/xlb/lbd.conf" "$unit"
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify --man=no "$unit" 2>&1)
	expect unit_verifies "systemd-analyze verify: $out" test -z "$out"
	# The check sees a bad unit: the same file with a misspelt key.
	sed 's/^Type=notify/Typ=notify/; s|^ExecStart=[^ ]*|ExecStart=lbd-missing|' "$unit" >"$dir/bad.service"
	out=$(systemd-analyze verify --man=no "$dir/bad.service" 2>&1)
	expect unit_verify_sees_errors "systemd-analyze verify of a broken copy said nothing" test -n "$out"
else
	skip unit_verifies "no systemd-analyze"
	skip unit_verify_sees_errors "no systemd-analyze"
fi
if command -v man >/dev/null; then
	man_out=$(MANWIDTH=80 man --warnings -l "$p/share/man/man8/lbd.8" 2>&1 >/dev/null)
	expect man_page_renders "man -l lbd.8: $man_out" test -z "$man_out"
else
	skip man_page_renders "no man"
fi

echo "attach eth9" >>"$etc/xlb/lbd.conf"
inst install
expect reinstall_keeps_config "lbd.conf after a second install: $(tail -1 "$etc/xlb/lbd.conf")" \
	grep -qx "attach eth9" "$etc/xlb/lbd.conf"
inst uninstall
left=$(cd "$dir/root" && find . -type f -printf '%P\n' | sort | tr '\n' ' ')
expect uninstall_keeps_edited_config "left after uninstall: $left" test "$left" = "etc/xlb/lbd.conf "
inst install
rm -f "$etc/xlb/lbd.conf"
inst install	# a fresh default, as install leaves it
inst uninstall
left=$(cd "$dir/root" && find . -type f -printf '%P\n' | tr '\n' ' ')
expect uninstall_removes_all "left after uninstall: '$left'" test -z "$left"

finish
