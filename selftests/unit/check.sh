#!/usr/bin/env bash
# Check helpers for the shell unit tests: source it after setting SUITE.
# Each check prints "ok SUITE/NAME" or "FAIL SUITE/NAME: what came"; finish
# prints the RESULT line selftests/run.sh adds up and sets the exit status.
passed=0 failed=0 skipped=0
ok() { echo "ok   $SUITE/$1"; passed=$((passed + 1)); }
fail() { echo "FAIL $SUITE/$1: $2"; failed=$((failed + 1)); }
skip() { echo "skip $SUITE/$1: $2"; skipped=$((skipped + 1)); }
# expect NAME WHAT COMMAND...: passes when COMMAND succeeds; else WHAT says what came.
expect() {
	local name=$1 what=$2
	shift 2
	if "$@"; then ok "$name"; else fail "$name" "$what"; fi
}
finish() {
	echo "RESULT passed=$passed failed=$failed skipped=$skipped"
	((failed == 0))
}
