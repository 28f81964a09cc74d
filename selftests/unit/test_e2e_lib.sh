#!/usr/bin/env bash
# selftests/e2e/lib.sh's ping_outage_ms on synthetic `ping -D` logs, and its
# spread_ok on synthetic counts. Only these
# functions are taken out of lib.sh (sourcing all of it needs root and builds a
# test bed); E2E_LIB points at another copy, e.g. an older one to compare.
# shellcheck disable=SC2046 # $(every ...): one time a word, split on purpose
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=e2e_lib
# shellcheck source=check.sh
source "$root/selftests/unit/check.sh"
lib=${E2E_LIB:-$root/selftests/e2e/lib.sh}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

eval "$(sed -n '/^ping_outage_ms() {$/,/^}$/p' "$lib")"
if ! declare -F ping_outage_ms >/dev/null; then
	fail extract "no ping_outage_ms() { ... } in $lib"
	finish
	exit 1
fi

# pinglog FILE T...: a `ping -D` log with one reply at each time T (seconds).
pinglog() {
	local f=$1 t n=0
	shift
	{
		echo "PING 198.18.1.1 (198.18.1.1) 56(84) bytes of data."
		for t in "$@"; do
			n=$((n + 1))
			printf '[%s] 64 bytes from 198.18.1.1: icmp_seq=%d ttl=64 time=0.051 ms\n' "$t" "$n"
		done
		printf '\n--- 198.18.1.1 ping statistics ---\n%d packets transmitted, %d received\n' "$n" "$n"
	} >>"$f"
}

# every FROM TO: times FROM, FROM + 10 ms, ... up to TO, in seconds. Counted in
# steps, not summed: at Unix times (about 1.8e9) a double holds microseconds
# only, so a running sum drifts and could drop TO itself.
every() { awk -v a="$1" -v b="$2" 'BEGIN { for (i = 0; a + i * 0.01 <= b + 1e-5; i++) printf "%.6f\n", a + i * 0.01 }'; }

# expect_ms NAME WANT_MS ARGS...: ping_outage_ms ARGS prints WANT_MS (+-1 for rounding).
expect_ms() {
	local name=$1 want=$2 got
	shift 2
	got=$(ping_outage_ms "$@" 2>&1)
	if [[ $got =~ ^[0-9]+$ ]] && ((got >= want - 1 && got <= want + 1)); then
		ok "$name"
	else
		fail "$name" "longest silence '$got' ms, expected $want"
	fi
}

pinglog "$dir/steady" $(every 1000.01 1000.50)
expect_ms steady_replies_are_10ms_apart 10 "$dir/steady" 1000.000 1000.505

pinglog "$dir/gap" $(every 1000.01 1000.10) $(every 1000.50 1000.60)
expect_ms gap_between_replies 400 "$dir/gap" 1000.000 1000.605

pinglog "$dir/none"
expect_ms no_reply_is_the_whole_run 2500 "$dir/none" 1000.000 1002.500

pinglog "$dir/late" $(every 1001.20 1001.30)
expect_ms replies_only_late_count_the_silence_before 1200 "$dir/late" 1000.000 1001.305

pinglog "$dir/early" $(every 1000.01 1000.30)
expect_ms replies_stopping_count_the_silence_after 1700 "$dir/early" 1000.000 1002.000

# expect_takeover passes T0 (the kill) as START: replies before it, then none.
pinglog "$dir/dies" $(every 1000.01 1000.50)
expect_ms start_after_replies_counts_to_the_end 1000 "$dir/dies" 1000.300 1001.500

printf '%s\n' "PING 198.18.1.1 (198.18.1.1) 56(84) bytes of data." \
	"[1000.100000] From 198.18.0.1 icmp_seq=10 Destination Host Unreachable" \
	"[1000.900000] From 198.18.0.1 icmp_seq=90 Destination Host Unreachable" >"$dir/unreach"
expect_ms unreachable_is_not_a_reply 1000 "$dir/unreach" 1000.000 1001.000

# Without START END: the log's creation (the redirection, as ping starts) and
# its last change (ping's summary, as it exits) bracket the run.
: >"$dir/own"
born=$(stat -c %.9W "$dir/own" 2>/dev/null)
if [[ ! $born =~ ^[1-9][0-9]*\.[0-9]+$ ]]; then
	skip log_times_bracket_the_run "this filesystem keeps no creation time ($born)"
	skip log_times_no_reply "this filesystem keeps no creation time ($born)"
else
	at() { awk -v b="$born" -v d="$1" 'BEGIN { printf "%.6f\n", b + d }'; }
	pinglog "$dir/own" $(every "$(at 0.2)" "$(at 0.3)")
	touch -d "@$(at 1.0)" "$dir/own"
	expect_ms log_times_bracket_the_run 700 "$dir/own"
	: >"$dir/own-none"
	born=$(stat -c %.9W "$dir/own-none")
	pinglog "$dir/own-none"
	touch -d "@$(at 0.8)" "$dir/own-none"
	expect_ms log_times_no_reply 800 "$dir/own-none"
fi


# spread_ok: a fair draw passes, a skewed or a broken one does not.
eval "$(sed -n '/^spread_ok() {$/,/^}$/p' "$lib")"
if declare -F spread_ok >/dev/null; then
	counts() { local f=$1 i b; shift; : >"$f"; b=1; for i in "$@"; do yes "be$b" | head -n "$i" >>"$f"; b=$((b + 1)); done; }
	counts "$dir/even" 100 100 100
	expect spread_even "100/100/100 refused" spread_ok "$dir/even" 300 3
	counts "$dir/chance" 67 123 110
	expect spread_chance "67/123/110 (what a fair draw gives once in a while) refused" spread_ok "$dir/chance" 300 3
	counts "$dir/skewed" 50 125 125
	spread_refused() { ! spread_ok "$@"; }
	expect spread_skewed "50/125/125 passed" spread_refused "$dir/skewed" 300 3
	counts "$dir/broken" 150 150 0
	expect spread_one_missing "150/150/0 passed" spread_refused "$dir/broken" 300 3
else
	fail extract_spread "no spread_ok() { ... } in $lib"
fi

finish
