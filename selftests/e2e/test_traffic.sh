#!/usr/bin/env bash
# The live-frames generator works and xlb sends no frame to the wrong
# place: a short run of scripts/bench-traffic.sh (every case: DSR and IPIP,
# IPv4 and IPv6, UDP, SYN and established TCP, an lc VIP's TCP, 1 to 1M
# flows, an 8M-entry table, and nftables DNAT for comparison) must show frames back from every
# case, none wrong, and every backend reached where there are many flows.
# Speeds are not asserted.
E2E_SUITE=traffic
root=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0
# The chart data of this short run goes to a folder of its own, not over make bench's in build/bench.
results=$(mktemp -d)
backends=8
out=$(BENCH_RESULTS=$results BENCH_REPS=1 BENCH_BACKENDS=$backends BENCH_PACKETS=${TRAFFIC_PACKETS:-200000} \
	bash "$root/scripts/bench-traffic.sh" "${TB_BUILD:-$root/build}" 2>&1)
rc=$?
rm -rf "$results"
printf '%s\n' "$out" | sed 's/^/     /'
if ((rc == 77)); then
	echo "skip $E2E_SUITE/live_frames: this kernel refuses BPF_PROG_TEST_RUN's live frames (EPERM): no frame can be sent"
	echo "RESULT passed=0 failed=0 skipped=1"
	exit 0
fi
check() {
	if eval "$2"; then echo "ok   $E2E_SUITE/$1"; passed=$((passed + 1))
	else echo "FAIL $E2E_SUITE/$1: $3"; failed=$((failed + 1)); fi
}
check bench_runs "((rc == 0))" "bench-traffic.sh exited $rc"
while read -r name mpps _ _ wrong _ spread; do
	case $name in reflector|dsr4-*|lc4-*|ipip*|dsr6-*|nft4-*) ;; *) continue ;; esac
	check "${name}_frames_back" "awk -v m='$mpps' 'BEGIN { exit !(m > 0) }'" "no frame came back ($mpps Mpps)"
	check "${name}_none_wrong" "[[ '$wrong' == 0 ]]" "$wrong frames went to the wrong place"
	if [[ $name != reflector && $name != *-1 ]]; then
		check "${name}_every_backend" "[[ '$spread' =~ ^[1-9][0-9]*(,[1-9][0-9]*){$((backends - 1))}$ ]]" \
			"spread $spread (not all $backends backends reached)"
	fi
done <<<"$(printf '%s\n' "$out" | grep -E '^(reflector|dsr|lc|ipip|nft)')"
echo "RESULT passed=$passed failed=$failed skipped=0"
((failed == 0))
