#!/usr/bin/env bash
# The demo. Until lbd and the namespaced test bed land, it walks frames
# through the real program with BPF_PROG_TEST_RUN and shows the verdicts.
set -euo pipefail
build=${1:-build}
if ((EUID != 0)); then
	echo "demo: loading XDP programs needs root: sudo make demo" >&2
	exit 1
fi
echo "xlb demo: each line is one frame through xlb.bpf.o on this kernel's verifier"
"$build/test_xdp"
