#!/usr/bin/env bash
# What the cluster suites share (test_cluster.sh, test_sync.sh): sourced
# after lib.sh and scripts/cluster.sh, with P (the prefix), KEY (the VIP)
# and CKEY (the cluster's etcd key) set.

# on NODE ARGS...: lbctl against NODE's lbd.
on() { local n=$1; shift; cl_lbctl "$P" "$n" "$@"; }
now_ms() { date +%s%3N; }
# wait_until MS CMD...: CMD comes true within MS, polled every 50 ms.
wait_until() {
	local end=$(($(now_ms) + $1))
	shift
	while :; do
		"$@" && return 0
		(($(now_ms) < end)) || return 1
		sleep 0.05
	done
}
# jpy EXPR [ARG...]: EXPR over the JSON on stdin (d; the ARGs in a); booleans as true/false.
jpy() {
	python3 -c 'import json, sys
d = json.load(sys.stdin); a = sys.argv[2:]
r = eval(sys.argv[1])
print(str(r).lower() if isinstance(r, bool) else r)' "$@" 2>/dev/null
}
# digest NODE: the ring digest of KEY on NODE (from the text view: no python to start, when polled for a bound).
digest() { on "$1" vip list | awk -v k="$KEY" '$1 == k { print $NF }'; }
# vip_stat NODE FIELD: a counter of KEY in NODE's stats; 0 when lbd does not answer.
vip_stat() { on "$1" -j stats | jpy "[v[a[1]] for v in d['vips'] if v['vip'] == a[0]][0]" "$KEY" "$2" || echo 0; }
# etcd_put VALUE: writes CKEY; prints the revision etcd made.
etcd_put() { cl_etcdctl "$P" put "$CKEY" "$1" -w json | jpy "d['header']['revision']"; }

# cl_suite_up NODES: the bed with NODES nodes and 3 backends answering HTTP, and
# etcd, torn down at exit (e2e_cleanup); false, the reason failed, if not.
cl_suite_up() {
	local tool i
	e2e_cleanup() {
		local j
		for j in $(jobs -p); do kill "$j" 2>/dev/null; done
		cl_etcd_stop "$P" >/dev/null 2>&1
		cl_down "$P" >/dev/null 2>&1
		e2e_finish
	}
	trap 'e2e_cleanup' EXIT
	trap 'exit 130' INT TERM
	for tool in bird birdc etcd etcdctl nft bpftool promtool; do
		if ! command -v $tool >/dev/null; then
			fail setup "$tool is not installed (Debian bird2, etcd-server, etcd-client, nftables, bpftool, prometheus)"
			return 1
		fi
	done
	tb_bpffs_up
	cl_down "$P" >/dev/null 2>&1
	cl_up "$P" "$1" 3 || { fail setup "the cluster bed did not come up"; return 1; }
	for i in 1 2 3; do
		tb_wait_http "$P" $i || { fail setup "backend be$i does not answer HTTP"; return 1; }
	done
	cl_etcd_start "$P" || { fail setup "etcd did not come up"; return 1; }
}
