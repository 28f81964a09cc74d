#!/usr/bin/env bash
# The SYN flood xlb takes while it keeps 20 downloads whole and answers a
# curl loop (issue 18): the scenario of selftests/e2e/test_flood.sh, three
# times, for its figures (the rate xlbgen reached, what the downloads and
# the loop got, what the tables held). A figure, not a verdict: the test
# itself asserts the behaviour in make check.
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
echo "== SYN flood against downloads and new connections (selftests/e2e/test_flood.sh, 3 runs)"
for r in 1 2 3; do
	out=$(TB_BUILD=$build bash "$root/selftests/e2e/test_flood.sh" 2>&1)
	if grep -q '^skip' <<<"$out"; then
		grep '^skip' <<<"$out"
		break
	fi
	echo "run $r: $(grep -m1 'flood:' <<<"$out" | sed 's/^ *flood: //'); $(grep -c '^ok' <<<"$out") checks held," \
		"$(grep -c '^FAIL' <<<"$out") did not$(grep '^FAIL' <<<"$out" | head -2 | sed 's/^/ | /' | tr '\n' ' ')"
done
