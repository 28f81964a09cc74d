#!/usr/bin/env bash
# Memory of the connection table per flow: the kernel's own estimate
# (bpftool's "memlock", from the map's mem_usage) for an LRU hash with
# xlb's key (struct xlb_flow_key, 40 bytes) and value (struct xlb_conn,
# 16 bytes), at the default 1M entries and at 8M.
set -euo pipefail
pin=/sys/fs/bpf/xlb-bench-conn-mem-$$	# bpffs refuses names with a dot
trap 'rm -f "$pin"' EXIT
echo "== connection table memory (LRU hash, key 40 B, value 16 B)"
for n in 1048576 8388608; do
	bpftool map create "$pin" type lru_hash key 40 value 16 entries "$n" name xlb_conn_bench
	mem=$(bpftool -j map show pinned "$pin" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_memlock"])')
	awk -v n="$n" -v m="$mem" 'BEGIN { printf "%8d entries: %7.1f MiB, %.0f bytes per flow\n", n, m / 1048576, m / n }'
	rm -f "$pin"
done
