#!/usr/bin/env bash
# make bench: figures for BENCHMARKS.md. Not a test: nothing here asserts a speed.
set -euo pipefail
build=${1:-build}
echo "== machine"
grep -m1 'model name' /proc/cpuinfo || true
echo "cores: $(nproc), kernel: $(uname -r)"
echo "== Maglev table build"
"$build/bench_maglev"
if ((EUID != 0)); then
	echo "skip the rest (per-packet cost, health checks, VRRP and BGP failover, the cluster, live frames, connection-table"
	echo "memory, wrk, and the charts they feed): BPF_PROG_TEST_RUN, namespaces and XDP need root"
	exit 0
fi
root=$(dirname "$0")
# shellcheck source=testbed.sh
source "$root/testbed.sh"
tb_bpffs_up
trap tb_bpffs_down EXIT
echo "== per-packet cost through BPF_PROG_TEST_RUN"
"$build/bench_prog"
"$root/bench-health.sh" "$build"
"$root/bench-vrrp.sh" "$build"
"$root/bench-bgp.sh" "$build"
"$root/bench-cluster.sh" "$build"
"$root/bench-loop.sh" "$build"
# The same with lbd at real-time priority: what of a pass is the machine's scheduling, not lbd's work.
BENCH_LOOP_RT=10 "$root/bench-loop.sh" "$build"
# 77: this kernel sends no live frames (said by the script); the other benches go on.
"$root/bench-traffic.sh" "$build" || (($? == 77))
"$root/bench-flood.sh" "$build"
"$root/bench-sweep.sh" "$build"
"$root/bench-conn-mem.sh"
"$root/bench-wrk.sh" "$build"
# The charts of BENCHMARKS.md (benchmarks/*.svg) from the data files the benches above left.
"$root/charts.sh" "${BENCH_RESULTS:-$build/bench}"
