#!/usr/bin/env bash
# The traffic configurations for real hardware cannot run here (no pktgen,
# no DPDK NIC): check that they parse and that pktgen.sh refuses missing
# arguments before touching anything.
root=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0
check() {
	if eval "$2" >/dev/null 2>&1; then echo "ok   hw/$1"; passed=$((passed + 1))
	else echo "FAIL hw/$1: $3"; failed=$((failed + 1)); fi
}
check pktgen_parses "bash -n '$root/scripts/hw/pktgen.sh'" "bash -n reports a syntax error"
check pktgen_needs_arguments "! bash '$root/scripts/hw/pktgen.sh'" "ran without a device"
check trex_profile_parses "python3 -c 'import ast,sys; ast.parse(open(sys.argv[1]).read())' '$root/scripts/hw/trex_xlb.py'" \
	"python cannot parse it"
check trex_profile_defines_register "grep -q '^def register' '$root/scripts/hw/trex_xlb.py'" "no register() for TRex"
echo "RESULT passed=$passed failed=$failed skipped=0"
((failed == 0))
