#!/usr/bin/env bash
# lbctl's grammar table and what is written from it: the bash completion,
# loaded in bash and asked as bash asks (COMP_WORDS, COMP_CWORD), offers the
# commands, the options of each, the keywords of a value, interface names,
# and the VIPs and backends an lbd answers (a stand-in socket here: nothing
# when none answers); typed with Tabs into an interactive bash on a
# terminal, it gives the lines it should. lbctl.8's synopsis lists each
# command with exactly the options of the table; lbctl help lists every
# command; README's usage block is lbctl help.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
SUITE=grammar
# shellcheck source=check.sh
source "$root/selftests/unit/check.sh"
lbctl=$build/lbctl
dir=$(mktemp -d)
server_pid=
cleanup() {
	[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

if ! "$lbctl" completion bash >"$dir/lbctl.bash"; then
	fail completion_written "lbctl completion bash failed"
	finish
	exit
fi
out=$("$lbctl" completion zsh 2>&1)
expect completion_other_shell_refused "lbctl completion zsh: $out" grep -q 'lbctl completion bash' <<<"$out"
if command -v shellcheck >/dev/null; then
	out=$(shellcheck -s bash "$dir/lbctl.bash" 2>&1)
	expect completion_passes_shellcheck "shellcheck: $(head -c 400 <<<"$out")" test -z "$out"
else
	skip completion_passes_shellcheck "no shellcheck"
fi
# shellcheck source=/dev/null
source "$dir/lbctl.bash"
expect completion_registered "complete -p lbctl: $(complete -p lbctl 2>&1)" \
	test "$(complete -p lbctl 2>&1)" = "complete -F _lbctl lbctl"

# No lbd unless a case starts one: the VIP cases must come out empty, not hang.
export LBCTL_SOCKET=$dir/none.sock

# offers WORD... : what the completion offers for the words of a line, the last one being completed.
offers() {
	COMP_WORDS=("$lbctl" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_lbctl
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
# completes NAME WANT WORD...: offers exactly WANT (sorted, blank-separated).
completes() {
	local name=$1 want got
	want=$(tr -s ' \t\n' '\n' <<<"$2" | grep . | sort | tr '\n' ' ' | sed 's/ $//')
	shift 2
	got=$(offers "$@")
	expect "$name" "for '$*' offered '$got', want '$want'" test "$got" = "$want"
}
completes objects "attach detach vip backend persist show stats top trace config vrrp bgp metrics acl sync help completion" ""
completes objects_prefix "vip vrrp" v
completes vip_verbs "add set del list" vip ""
completes global_options "-j --json -s --socket -h --help" -
completes after_global_options "backend bgp" -j -s /run/x.sock b
completes vip_add_options "--forward --sched --persist --ring-size --all-down --announce --passive --weights --agent-port
	--agent-interval --limit-new-flows --limit-burst --limit-pps --limit-prefix --allow --deny --check --interval --timeout --rise --fall --slow-start --expect --host" vip add 198.18.1.1:80/tcp --
# bash splits the VIP at its colons, as COMP_WORDBREAKS says: the same answer.
completes vip_add_options_split_vip "--sched --slow-start" vip add 198.18.1.1 : 80/tcp --s
completes forward_values "dsr ipip" vip add 198.18.1.1:80/tcp --forward ""
completes sched_values "maglev maglev-src rr wrr lc wlc random" vip add 198.18.1.1:80/tcp --forward dsr --sched ""
completes given_option_not_again "--fall" vip add 198.18.1.1:80/tcp --forward dsr --f
completes check_values "tcp http http:/ udp udp: exec: none" vip add 198.18.1.1:80/tcp --check ""
# After "http" and the colon bash splits off, readline replaces what follows the colon.
completes check_value_after_colon "/" vip add 198.18.1.1:80/tcp --check http :
completes duration_no_guess "" vip add 198.18.1.1:80/tcp --interval ""
completes vip_set_options "--sched --persist --announce --passive --weights --agent-port --agent-interval
	--limit-new-flows --limit-burst --limit-pps --limit-prefix --allow --deny" vip set 198.18.1.1:80/tcp --
completes vrrp_add_options "--vrid --priority --advert --no-preempt --preempt-delay --fault-drop --vmac --vip" \
	vrrp add eth0 --
completes vrrp_vip_again "--priority --advert --no-preempt --preempt-delay --fault-drop --vmac --vip" \
	vrrp add eth0 --vrid 5 --vip 198.18.1.1 --
completes vrrp_del_options "--vrid --vip" vrrp del eth0 --
completes backend_set_excludes "--weight --up --down --auto --check --interval --timeout --rise --fall
	--slow-start --expect --host" backend set 198.18.1.1:80/tcp 198.18.0.1 --drain --
completes bgp_set_options "--bird-socket --include --hold-down --withdraw-delay" bgp set --
completes stats_watch "--watch" stats --
completes config_verbs "show reload" config ""
completes completion_shell "bash" completion ""
completes no_options_before_the_vip "" vip add --
completes nothing_after_show "" show ""
touch "$dir/bird.ctl"
completes path_value "$dir/bird.ctl" bgp set --bird-socket "$dir/bird."
# Interface names for DEV: those of this namespace, as the kernel lists them.
devs=$(command ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')
completes attach_devices "$devs" attach ""
completes vrrp_devices "$devs" vrrp add ""
completes vip_without_lbd "" vip del ""

# A stand-in for lbd on a socket of this test: it answers lbctl's requests in
# lbd's protocol, with VIPs and backends in the JSON lbd writes (lbd.c).
cat >"$dir/fake_lbd.py" <<'EOF'
import json, os, socket, sys

path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
open(path + ".ready", "w").close()
vips = ["198.18.1.1:80/tcp", "198.18.1.1:53/udp", "[2001:db8:1::1]:443/tcp"]
while True:
    c, _ = s.accept()
    words = c.makefile("rb").readline().decode().rstrip("\n").split("\x1f")
    with open(path + ".log", "a") as log:
        log.write(" ".join(words) + "\n")
    if words[1:] == ["vip", "list"]:
        reply = {"vips": [{"vip": v, "address": v.split(":")[0], "backends": 2} for v in vips]}
    elif words[1:3] == ["backend", "list"]:
        reply = {"vip": words[3], "address": "198.18.1.1",
                 "backends": [{"address": "198.18.0.101", "weight": 1}, {"address": "2001:db8::102", "weight": 1}]}
    else:
        c.sendall(b"error unknown\n")
        c.close()
        continue
    c.sendall(b"row " + json.dumps(reply, separators=(",", ":")).encode() + b"\ndone\n")
    c.close()
EOF
sock=$dir/lbd.sock
python3 "$dir/fake_lbd.py" "$sock" &
server_pid=$!
for ((i = 0; i < 100; i++)); do [[ -e $sock.ready ]] && break; sleep 0.05; done
completes vips_from_lbd "198.18.1.1:80/tcp 198.18.1.1:53/udp [2001:db8:1::1]:443/tcp" -s "$sock" vip del ""
completes vip_prefix_from_lbd "198.18.1.1:80/tcp 198.18.1.1:53/udp" -s "$sock" backend list 198.18
# The word split at its colons: only the part after the last one is replaced.
completes vip_after_colon_from_lbd "80/tcp" -s "$sock" vip set 198.18.1.1 : 8
completes v6_vip_after_colon_from_lbd "443/tcp" -s "$sock" vip set "[2001" : db8 : 1 :: "1]" : 4
completes backends_from_lbd "198.18.0.101 2001:db8::102" -s "$sock" backend del 198.18.1.1:80/tcp ""
expect backend_list_asked_for_the_vip "lbd was asked: $(tail -1 "$sock.log" 2>/dev/null)" \
	grep -qx 'j backend list 198.18.1.1:80/tcp' "$sock.log"
completes new_vip_not_from_lbd "" -s "$sock" vip add ""
LBCTL_SOCKET=$sock completes vips_from_lbctl_socket "198.18.1.1:80/tcp 198.18.1.1:53/udp [2001:db8:1::1]:443/tcp" \
	vip del ""
# The same through readline: an interactive bash on a terminal, keys typed
# with Tabs, and what the line became once entered. lbctl is a shell
# function there that prints its words; the completion's questions go to
# the lbctl binary on PATH (it runs them under timeout, which finds no function).
typed() {
	printf '%s\n' "$@" | PATH=$build:$PATH LBCTL_SOCKET=$sock \
		python3 "$root/selftests/unit/typed.py" "$dir/lbctl.bash" "$dir/typed.out"
	cat "$dir/typed.out"
}
mapfile -t got < <(typed "lbctl vip set 198.18.1.1:8<TAB>" "lbctl vip add 198.18.1.9:80/tcp --forw<TAB>ip<TAB>" \
	"lbctl backend list [2001:db8:1::1]:4<TAB>" "lbctl vip add 198.18.1.9:80/tcp --check http:<TAB>health" \
	"lbctl backend set 198.18.1.1:80/tcp 2001:<TAB> --dr<TAB>")
want=("vip set 198.18.1.1:80/tcp" "vip add 198.18.1.9:80/tcp --forward ipip" "backend list [2001:db8:1::1]:443/tcp"
	"vip add 198.18.1.9:80/tcp --check http:/health" "backend set 198.18.1.1:80/tcp 2001:db8::102 --drain")
names=(readline_vip_after_colon readline_option_and_keyword readline_v6_vip readline_check_no_space
	readline_backend)
for i in "${!want[@]}"; do
	expect "${names[i]}" "typed to get '${want[i]}', lbctl got '${got[i]-}'" test "${got[i]-}" = "${want[i]}"
done

kill "$server_pid"
wait "$server_pid" 2>/dev/null
server_pid=

# ---- lbctl.8's synopsis against the table ----
man=$root/userspace/man/lbctl.8
# The synopsis as text: one line per command (each starts with .ti), fonts and escapes gone.
synopsis=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$man" |
	awk '/^\.ti/ { if (line != "") print line; line = ""; on = 1; next }
	     /^\.in$/ { if (line != "") print line; line = ""; on = 0; next }
	     on && !/^\./ { line = line " " $0 }' |
	sed 's/\\f[BIRP]//g; s/\\-/-/g; s/\\ / /g; s/^ //')
# One line per command of the table: each command of the table is there once, with exactly its options.
mismatch=
for key in "${!_lbctl_opts[@]}"; do
	line=$(grep -E "^$key( |$)" <<<"$synopsis")
	if [[ $(grep -c . <<<"$line") != 1 ]]; then
		mismatch+=" [$key: $(grep -c . <<<"$line") lines]"
		continue
	fi
	# "check option" stands for the check options, as the synopsis says below the commands.
	got=$({
		grep -o -- '--[a-z][a-z-]*' <<<"$line"
		if grep -q 'check option' <<<"$line"; then
			printf '%s\n' --check --interval --timeout --rise --fall --slow-start --expect --host
		fi
	} | sort | tr '\n' ' ')
	table=$(tr ' ' '\n' <<<"${_lbctl_opts[$key]}" | grep . | sort | tr '\n' ' ')
	[[ $got == "$table" ]] || mismatch+=" [$key: synopsis '$got', table '$table']"
done
expect man_synopsis_matches_table "lbctl.8:$mismatch" test -z "$mismatch"
extra=
while read -r line; do
	found=
	for key in "${!_lbctl_opts[@]}"; do [[ $line == "$key" || $line == "$key "* ]] && found=1; done
	[[ -n $found ]] || extra+=" [$line]"
done <<<"$synopsis"
expect man_synopsis_only_table_commands "lbctl.8 lists commands the table lacks:$extra" test -z "$extra"
# The check options the synopsis spells out after the commands, and what COMMANDS and HEALTH CHECKS describe.
unknown=
for o in $(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p; /^\.SH COMMANDS/,/^\.SH OUTPUT/p' "$man" |
	sed 's/\\f[BIRP]//g; s/\\-/-/g' | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	[[ -n ${_lbctl_kinds[$o]+set} ]] || unknown+=" $o"
done
expect man_options_in_table "lbctl.8 names options the table lacks:$unknown" test -z "$unknown"
if command -v man >/dev/null; then
	out=$(MANWIDTH=80 man --warnings -l "$man" 2>&1 >/dev/null)
	expect man_page_renders "man -l lbctl.8: $out" test -z "$out"
else
	skip man_page_renders "no man"
fi

# ---- lbctl help ----
help=$("$lbctl" help)
# "config show | reload" is two commands.
commands=$(sed -n 's/^  \([a-z]\)/\1/p' <<<"$help" |
	awk '{ if ($3 == "|") { for (i = 2; i <= NF; i += 2) print $1, $i } else if ($2 ~ /^[a-z]+$/) print $1, $2; else print $1 }')
missing=
for key in "${!_lbctl_opts[@]}"; do grep -qx "$key" <<<"$commands" || missing+=" [$key]"; done
expect help_lists_every_command "lbctl help lacks:$missing" test -z "$missing"
expect help_is_help "lbctl --help differs from lbctl help" test "$("$lbctl" --help)" = "$help"
long=$(awk 'length > 100' <<<"$help")
expect help_fits_100_columns "lines past 100 columns: $long" test -z "$long"
readme=$(awk '/^```$/ { if (on) exit; next } /^lbctl \[-j\] \[-s SOCKET\] COMMAND$/ { on = 1 } on' "$root/README.md")
expect readme_usage_is_help "README's lbctl block differs from lbctl help: $(diff <(echo "$readme") \
	<(sed '1s/^usage: //' <<<"$help") | head -5 | tr '\n' ' ')" test "$readme" = "$(sed '1s/^usage: //' <<<"$help")"

finish
