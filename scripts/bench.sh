#!/usr/bin/env bash
# make bench: figures for BENCHMARKS.md. Not a test: nothing here asserts a speed.
set -euo pipefail
build=${1:-build}
echo "== machine"
grep -m1 'model name' /proc/cpuinfo || true
echo "cores: $(nproc), kernel: $(uname -r)"
echo "== Maglev table build"
"$build/bench_maglev"
if ((EUID == 0)); then
	echo "== per-packet cost through BPF_PROG_TEST_RUN"
	"$build/bench_prog"
else
	echo "skip per-packet cost: BPF_PROG_TEST_RUN needs root"
fi
if ((EUID == 0)); then
	"$(dirname "$0")/bench-health.sh" "$build"
else
	echo "skip health-check costs: namespaces need root"
fi
if ((EUID == 0)); then
	"$(dirname "$0")/bench-vrrp.sh" "$build"
else
	echo "skip VRRP failover: namespaces need root"
fi
if ((EUID == 0)); then
	"$(dirname "$0")/bench-traffic.sh" "$build"
else
	echo "skip live-frames throughput: namespaces and XDP need root"
fi
if ((EUID == 0)); then
	"$(dirname "$0")/bench-conn-mem.sh"
fi
if ((EUID == 0)); then
	"$(dirname "$0")/bench-wrk.sh" "$build"
fi
