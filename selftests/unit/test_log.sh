#!/usr/bin/env bash
# lbd's log lines: ISO 8601 local time with milliseconds and the UTC
# offset on stderr; under systemd (stderr is the stream JOURNAL_STREAM
# names) no stamp of its own but the "<N>" level prefix journald reads.
# A configuration lbd refuses makes it log one error and exit: no root, no
# test bed. BUILD is the build directory (default build/).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
SUITE=log
# shellcheck source=check.sh
source "$root/selftests/unit/check.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo 'frob 1' >"$dir/bad.conf"
run_lbd() { "$build/lbd" --foreground --config "$dir/bad.conf" --socket "$dir/s" --pin-dir "$dir/pins"; }

line=$(TZ=UTC run_lbd 2>&1)
rc=$?
expect refused_config_exits "exit $rc" test "$rc" -eq 1
expect stamp_iso8601_utc "line: $line" \
	grep -qE '^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3}\+00:00 lbd error: .*bad\.conf:1: unknown keyword .frob.' <<<"$line"
# The same instant in another zone: the local time and its offset, not UTC.
line=$(TZ=IST-5:30 run_lbd 2>&1)
expect stamp_local_offset "line: $line" grep -qE '^[0-9-]{10}T[0-9:.]{12}\+05:30 lbd error: ' <<<"$line"
utc_hour=$(date -u +%H) local_hour=$(TZ=IST-5:30 date +%H)
expect stamp_local_hour "line: $line, UTC hour $utc_hour, local $local_hour" \
	grep -qE "^[0-9-]{10}T($local_hour):" <<<"$line"

: >"$dir/journal"
JOURNAL_STREAM=$(stat -c '%d:%i' "$dir/journal") run_lbd 2>>"$dir/journal"
line=$(cat "$dir/journal")
expect journal_level_prefix "line: $line" grep -qE '^<3>error: .*unknown keyword' <<<"$line"
# Another stream than the journal's (stderr redirected elsewhere): stamps again.
line=$(JOURNAL_STREAM=1:1 run_lbd 2>&1)
expect journal_other_stream_stamped "line: $line" grep -qE '^[0-9-]{10}T.* lbd error: ' <<<"$line"

finish
