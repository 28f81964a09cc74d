#!/usr/bin/env bash
# Cluster mode: two xlb nodes (scripts/cluster.sh, no BGP: the router's
# cl_pin picks the node) take their VIPs and backends from one etcd key,
# /xlb/xe/config, kept by an etcd in the router's namespace. A backend
# added on one node reaches the other within a second, with the same ring;
# two nodes writing at once lose nothing and invent nothing (a lost
# compare-and-swap says so and writes nothing); with etcd down the nodes
# balance on, say they are stale, refuse changes, and a node restarted
# meanwhile comes up on its cache (with no cache, on no VIP, until etcd is
# back); a node cut off from etcd catches up once it is back; a revision that does not parse is refused by every node,
# which stays on the last good one. A client that hangs up while its change
# waits for a stopped etcd costs lbd no CPU.
E2E_PREFIX=xe-cl E2E_SUITE=cluster
source "$(dirname "$0")/lib.sh"
# shellcheck source=../../scripts/cluster.sh
source "$E2E_ROOT/scripts/cluster.sh"
# shellcheck source=cluster_lib.sh
source "$(dirname "$0")/cluster_lib.sh"
P=$E2E_PREFIX
DIR=$(tb_dir $P)
KEY="$TB_VIP4:80/tcp"
CKEY=/xlb/xe/config
BE1=$(tb_backend_addr 1 4) BE2=$(tb_backend_addr 2 4) BE3=$(tb_backend_addr 3 4)
METRICS=$(cl_node_addr lb 4):9100
NODES=(lb lb2)

cl_suite_up 2 || exit 1

# on_t SECS NODE ARGS...: a change, given up after SECS (one that would wait for good).
on_t() {
	local s=$1 n=$2
	shift 2
	timeout "$s" "$TB_BUILD/lbctl" -s "$DIR/$(TB_LB=$n tb_lbd_base).sock" "$@"
}
# cs NODE: the node's cluster state, etcd/stale/revision/from_cache/refused_revision.
cs() {
	on "$1" -j show | jpy "'/'.join(str(d['cluster'][k]).lower() for k in
		('etcd', 'stale', 'revision', 'from_cache', 'refused_revision'))"
}
cfield() { on "$1" -j show | jpy "d['cluster'][a[0]]" "$2"; }
# all_cs PATTERN: every node's cs matches PATTERN (a glob); SEEN says what each had.
all_cs() {
	local n s rc=0
	SEEN=""
	for n in "${NODES[@]}"; do
		s=$(cs "$n")
		SEEN+="$n ${s:-(no cluster object)}; "
		# shellcheck disable=SC2053 # PATTERN is a glob on purpose
		[[ $s == $1 ]] || rc=1
	done
	return $rc
}
# backends NODE: the VIP's backend addresses on NODE, sorted, on one line.
backends() { on "$1" -j backend list "$KEY" | jpy "'\n'.join(b['address'] for b in d['backends'])" | sort | paste -sd' '; }
# bview NODE: the same with each weight: ADDR/WEIGHT.
bview() {
	on "$1" -j backend list "$KEY" | jpy "'\n'.join('%s/%s' % (b['address'], b['weight']) for b in d['backends'])" |
		sort | paste -sd' '
}
etcd_value() { cl_etcdctl $P get $CKEY --print-value-only; }
# etcd_rev: the key's mod_revision.
etcd_rev() { cl_etcdctl $P get $CKEY -w json | jpy "d['kvs'][0]['mod_revision']"; }
etcd_backends() {
	etcd_value | awk -v k="$KEY" '$1 == "vip" { mine = $2 == k } $1 == "backend" && mine { print $2 }' |
		sort | paste -sd' '
}
scrape() { ip netns exec $P-lb curl -sS --fail --max-time 3 "http://$METRICS/metrics" 2>/dev/null; }
# metric NAME: its value on lb's metrics listener (the first sample); nothing when it has none.
metric() { scrape | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { print $2 + 0; exit }'; }
# metrics_now WANT NAME...: the NAMEs' values, joined by /, are WANT.
metrics_now() {
	local want=$1 got=() m
	shift
	for m in "$@"; do got+=("$(metric "$m")"); done
	[[ $(IFS=/; echo "${got[*]}") == "$want" ]]
}
# metrics_are WANT NAME...: so within 3 s (lbd publishes its metrics as a snapshot, once a second).
metrics_are() { wait_until 3000 metrics_now "$@"; }
# scraped: for a message, what the listener gave.
scraped() { echo "$(scrape | grep -c '^xlb_') xlb_ samples scraped, $(scrape | grep -c '^xlb_cluster_') of them xlb_cluster_*"; }
# pinned_curl N: N new connections from the ports cl_pin routes to one node; prints the answers.
pinned_curl() {
	local n=$1 urls=() i
	for ((i = 0; i < n; i++)); do urls+=("http://$TB_VIP4/"); done
	timeout $((5 + n / 10)) ip netns exec $P-cli curl -sS -g --fail --connect-timeout 1 --max-time 5 \
		-H 'Connection: close' --local-port $CL_PIN_PORTS "${urls[@]}" 2>>"$TB_DIR/curl.err"
}
# serves NAME NODE: 10 connections pinned to NODE all answered, and NODE carried them.
serves() {
	local name=$1 n=$2 before got d
	cl_pin $P "$n"
	before=$(vip_stat "$n" packets)
	got=$(pinned_curl 10 | grep -c '^be[1-3]$')
	d=$(($(vip_stat "$n" packets) - before))
	cl_unpin $P
	# A connection is at least 4 packets from the client: SYN, ACK, request, FIN.
	expect "$name" "through $n: $got of 10 answered, $d packets through it" test "$got" -eq 10 -a "$d" -ge 40
}
# node_conf NODE: the node's local file: attach, the cluster line (and metrics on lb).
node_conf() {
	{
		echo "attach eth0"
		echo "cluster xe etcd $CL_ETCD cache $DIR/$1.cluster"
		if [[ $1 == lb ]]; then echo "metrics listen $METRICS"; fi
	} >"$DIR/$(TB_LB=$1 tb_lbd_base).conf"
}
local_vip_lines() { grep -cE '^[[:space:]]*(vip|backend)[[:space:]]' "$DIR/$(TB_LB=$1 tb_lbd_base).conf"; }

# ---- the seed: the VIP with be1 and be2, put before lbd starts ----
rev0=$(etcd_put "$(printf 'vip %s forward dsr\n  backend %s\n  backend %s\n' "$KEY" "$BE1" "$BE2")")
[[ $rev0 =~ ^[0-9]+$ ]] || { fail setup "etcdctl put of the seed gave no revision: '$rev0'"; exit 1; }
for n in "${NODES[@]}"; do
	node_conf "$n"
	TB_LB=$n tb_lbd_start $P || { fail setup "lbd on $n did not start with a cluster line (its log above)"; exit 1; }
done
seeded() { all_cs "connected/false/$rev0/false/0" && [[ $(backends lb)/$(backends lb2) == "$BE1 $BE2/$BE1 $BE2" ]]; }
wait_until 5000 seeded
rc=$?
expect seed_applied "want connected/false/$rev0/false/0 and $BE1 $BE2 on both: $SEEN backends lb '$(backends lb)', lb2 '$(backends lb2)'" \
	test $rc -eq 0
expect show_fields "lb: name '$(cfield lb name)', refused_error '$(cfield lb refused_error)'" \
	test "$(cfield lb name)" = xe -a -z "$(cfield lb refused_error)"
expect show_text "lbctl show has no line 'cluster xe...': $(on lb show | head -n 3 | tr '\n' '|')" \
	test "$(on lb show | grep -c '^cluster xe')" -eq 1

# A local file with a cluster line and VIPs of its own: lbd refuses to start.
{
	echo "cluster xe etcd $CL_ETCD cache $DIR/refuse.cluster"
	printf 'vip %s forward dsr\n  backend %s\n' "$KEY" "$BE1"
} >"$DIR/refuse.conf"
timeout 5 nsenter --net=/run/netns/$P-lb2 "$TB_BUILD/lbd" --foreground --config "$DIR/refuse.conf" \
	--socket "$DIR/refuse.sock" --pin-dir "/sys/fs/bpf/$P-lbrefuse" --log-level info >"$DIR/refuse.log" 2>&1
rc=$?
rm -rf "/sys/fs/bpf/$P-lbrefuse"
# Refused for its vip line, which the error names (FILE:LINE, as every config error does).
named=$(grep -c 'refuse\.conf:2' "$DIR/refuse.log")
expect refuses_local_vips "lbd with vip lines beside a cluster line: exit $rc (124: still running after 5 s), '$(tail -n 1 "$DIR/refuse.log")'" \
	test $rc -ne 0 -a $rc -ne 124 -a "$named" -ge 1

# ---- (1) a backend added on lb is on every node within a second, with the same ring ----
before=$(digest lb)
t0=$(now_ms)
on_t 10 lb backend add "$KEY" "$BE3" 2>"$DIR/add.err"
rc=$?
t_cli=$(($(now_ms) - t0))
on_lb=$(backends lb)
lb2_has() { [[ " $(backends lb2) " == *" $BE3 "* ]]; }
rings_agree() {
	local a b
	a=$(digest lb) b=$(digest lb2)
	[[ -n $a && $a == "$b" && $a != "$before" ]]
}
t_seen=never t_ring=never
wait_until 3000 lb2_has && t_seen=$(($(now_ms) - t0))
wait_until 3000 rings_agree && t_ring=$(($(now_ms) - t0))
echo "     lbctl returned after $t_cli ms; $BE3 on lb2 after $t_seen ms; rings agree after $t_ring ms"
expect add_applied_on_return "exit $rc ($(head -c 160 "$DIR/add.err")); lb's backends as lbctl returned: '$on_lb'" \
	test $rc -eq 0 -a "$on_lb" = "$BE1 $BE2 $BE3"
expect add_reaches_every_node "$BE3 on lb2 after $t_seen ms (bound 1000): '$(backends lb2)'" \
	test "$t_seen" != never -a "${t_seen/never/0}" -le 1000
expect ring_digests_agree "after $t_ring ms (bound 1000): lb $(digest lb), lb2 $(digest lb2), before $before" \
	test "$t_ring" != never -a "${t_ring/never/0}" -le 1000
rev1=$(etcd_rev)
all_cs "connected/false/$rev1/false/0"
rc=$?
expect add_revision_everywhere "etcd's mod_revision $rev1: $SEEN" test $rc -eq 0

# ---- (2) two writers at once: every add won or lost the race, none lost, none extra ----
# writer NODE ADDR...: one `backend add` each; a line each: ADDR EXIT STDERR.
writer() {
	local n=$1 a rc
	shift
	for a in "$@"; do
		on_t 15 "$n" backend add "$KEY" "$a" >/dev/null 2>"$DIR/race.$n.err"
		rc=$?
		echo "$a $rc $(tr '\n' ' ' <"$DIR/race.$n.err")"
	done
}
writer lb 198.18.0.{150..157} >"$DIR/race.lb" &
w1=$!
writer lb2 198.18.0.{160..167} >"$DIR/race.lb2" &
w2=$!
wait $w1 $w2
cat "$DIR/race.lb" "$DIR/race.lb2" >"$DIR/race.all"
odd=$(awk '$2 != 0 && !/changed while this change was made/' "$DIR/race.all")
won=$(awk '$2 == 0 { print $1 }' "$DIR/race.all" | sort | paste -sd' ')
lost_lb=$(awk '$2 != 0' "$DIR/race.lb" | wc -l) lost_lb2=$(awk '$2 != 0' "$DIR/race.lb2" | wc -l)
# shellcheck disable=SC2086 # the addresses that won, one a word
want=$(printf '%s\n' $BE1 $BE2 $BE3 $won | sort | paste -sd' ')
echo "     $((lost_lb + lost_lb2)) of 16 adds lost the race (lb $lost_lb, lb2 $lost_lb2)"
expect race_outcomes "$(wc -l <"$DIR/race.all") of 16 adds ran; neither won nor lost the race: ${odd:-none}" \
	test "$(wc -l <"$DIR/race.all")" -eq 16 -a -z "$odd" -a -n "$won"
rev2=$(etcd_rev)
wait_until 3000 all_cs "connected/false/$rev2/false/0"
rc=$?
expect race_union_in_etcd "etcd has '$(etcd_backends)', the adds that won make '$want'" test "$(etcd_backends)" = "$want"
expect race_union_on_nodes "etcd at $rev2: $SEEN lb '$(backends lb)', lb2 '$(backends lb2)', want '$want'" \
	test $rc -eq 0 -a "$(backends lb)" = "$want" -a "$(backends lb2)" = "$want"
expect local_files_keep_no_vips "vip or backend lines in the local files: lb $(local_vip_lines lb), lb2 $(local_vip_lines lb2)" \
	test "$(local_vip_lines lb)/$(local_vip_lines lb2)" = 0/0

# ---- (3) etcd down: balancing goes on, changes are refused, a restart comes up on the cache ----
rev_b=$rev2 bv_b=$(bview lb) dg_b=$(digest lb)
t0=$(now_ms)
cl_etcd_stop $P
wait_until 15000 all_cs "unreachable/true/$rev_b/false/0"
rc=$?
((rc == 0)) && echo "     every node said etcd unreachable $(($(now_ms) - t0)) ms after etcd stopped"
expect etcd_down_stale "want unreachable/true/$rev_b/false/0: $SEEN" test $rc -eq 0
metrics_are 0/1 xlb_cluster_etcd_up xlb_cluster_config_stale
rc=$?
expect etcd_down_metrics "$(scraped); lb: xlb_cluster_etcd_up '$(metric xlb_cluster_etcd_up)', xlb_cluster_config_stale '$(metric xlb_cluster_config_stale)' (want 0 and 1)" \
	test $rc -eq 0
serves etcd_down_serves_lb lb
serves etcd_down_serves_lb2 lb2
on_t 15 lb backend add "$KEY" 198.18.0.170 >/dev/null 2>"$DIR/down.err"
rc=$?
said=$(grep -c 'etcd is unreachable' "$DIR/down.err")
expect etcd_down_refuses_change "exit $rc, '$(head -c 160 "$DIR/down.err")'; lb now '$(bview lb)' at $(cfield lb revision), was '$bv_b' at $rev_b" \
	test $rc -ne 0 -a $rc -ne 124 -a "$said" -ge 1 -a "$(bview lb)" = "$bv_b" -a "$(cfield lb revision)" = "$rev_b"
TB_LB=lb2 tb_lbd_stop $P
if TB_LB=lb2 tb_lbd_start $P; then
	cached() { [[ $(cfield lb2 from_cache) == true ]]; }
	wait_until 3000 cached
	s=$(cs lb2)
	expect restart_from_cache "lb2 restarted with etcd down: $s (want not connected/true/$rev_b/true/0), backends '$(bview lb2)' (want '$bv_b')" \
		test "${s#connected/}" = "$s" -a "${s#*/}" = "true/$rev_b/true/0" -a "$(bview lb2)" = "$bv_b"
	lb2_ring() { [[ $(digest lb2) == "$dg_b" ]]; }
	wait_until 5000 lb2_ring
	expect restart_from_cache_ring "lb2's ring $(digest lb2), lb's $dg_b" lb2_ring
	serves restart_from_cache_serves lb2
else
	fail restart_from_cache "lbd on lb2 did not start again with etcd down (its log above)"
fi
# Neither etcd nor a cache: lb2 runs with no VIP until etcd is back.
TB_LB=lb2 tb_lbd_stop $P
rm -f "$DIR/lb2.cluster"
if TB_LB=lb2 tb_lbd_start $P; then
	s=$(cs lb2) vips=$(on lb2 -j vip list | jpy "len(d['vips'])")
	expect no_cache_starts_empty "lb2 with etcd down and no cache: $s (want not connected/true/0/false/0), $vips VIPs" \
		test "${s#connected/}" = "$s" -a "${s#*/}" = "true/0/false/0" -a "$vips" = 0
else
	fail no_cache_starts_empty "lbd on lb2 did not start with etcd down and no cache (its log above)"
fi
t0=$(now_ms)
cl_etcd_start $P || fail etcd_back "etcd did not start again"
wait_until 20000 all_cs "connected/false/$rev_b/*/0"
rc=$?
((rc == 0)) && echo "     every node connected again $(($(now_ms) - t0)) ms after etcd was started"
expect etcd_back_connected "want connected/false/$rev_b/*/0: $SEEN" test $rc -eq 0
expect no_cache_picks_up "lb2, started with no cache, once etcd is back: '$(bview lb2)' (want '$bv_b')" \
	test "$(bview lb2)" = "$bv_b"
metrics_are "1/0/$rev_b" xlb_cluster_etcd_up xlb_cluster_config_stale xlb_cluster_config_revision
rc=$?
expect etcd_back_metrics "$(scraped); lb: xlb_cluster_etcd_up '$(metric xlb_cluster_etcd_up)', xlb_cluster_config_stale '$(metric xlb_cluster_config_stale)', xlb_cluster_config_revision '$(metric xlb_cluster_config_revision)' (want 1, 0, $rev_b)" \
	test $rc -eq 0

text=$(scrape)
lint=$(promtool check metrics <<<"$text" 2>&1)
expect metrics_promtool_accepts "promtool check metrics: $(head -c 400 <<<"$lint")" promtool check metrics <<<"$text"

# lb cut off from etcd; a change through lb2; lb catches up once it is back.
cl_etcd_block $P lb || fail partition "nft refused the rules"
dg_p=$(digest lb)
on_t 15 lb2 backend set "$KEY" "$BE1" --weight 3 >/dev/null 2>"$DIR/part.err"
rc=$?
rev_p=$(etcd_rev)
sleep 1.5
held=$(cs lb)
echo "     partitioned lb: $held"
# Nothing tells a silent cut from a calm etcd but the watch's keepalives: 2 s idle, then 3 probes 1 s apart.
t_cut=$(now_ms)
lb_stale() { [[ $(cfield lb stale) == true ]]; }
t_stale=never
wait_until 10000 lb_stale && t_stale=$(($(now_ms) - t_cut + 1500))
echo "     partitioned lb says stale $t_stale ms after the cut"
expect partition_shows_stale "lb, cut off: $(cs lb) after $t_stale ms (bound 8000)" \
	test "$t_stale" != never -a "${t_stale/never/0}" -le 8000
expect partition_holds_lb_back "lb2's change: exit $rc ($(head -c 160 "$DIR/part.err")), etcd at $rev_p, lb2 at $(cfield lb2 revision); lb, cut off, at ${held:-?} (want revision $rev_b)" \
	test $rc -eq 0 -a "$(cfield lb2 revision)" = "$rev_p" -a "$(cut -d/ -f3 <<<"$held")" = "$rev_b"
t0=$(now_ms)
cl_etcd_unblock $P lb
caught_up() {
	local a
	a=$(digest lb)
	[[ $(cfield lb revision) == "$rev_p" && -n $a && $a == "$(digest lb2)" && $a != "$dg_p" ]]
}
t_up=never
wait_until 10000 caught_up && t_up=$(($(now_ms) - t0))
echo "     lb applied lb2's change $t_up ms after the partition ended"
expect partition_heals "lb at $(cs lb), ring $(digest lb); lb2 at $(cs lb2), ring $(digest lb2); before $dg_p" \
	test "$t_up" != never
expect partition_heals_backends "lb '$(bview lb)', lb2 '$(bview lb2)'" \
	test "$(bview lb)" = "$(bview lb2)" -a "$(bview lb | grep -c "$BE1/3")" -eq 1

# ---- (4) revisions that do not parse: every node refuses them, stays on the last good one ----
rev_g=$(etcd_rev) good=$(etcd_value)
declare -A bv_g dg_g
for n in "${NODES[@]}"; do bv_g[$n]=$(bview "$n") dg_g[$n]=$(digest "$n"); done
refused_b=$(metric xlb_cluster_refused_revisions_total)
# bad_put NAME VALUE: VALUE put straight into etcd; every node refuses its revision.
bad_put() {
	local name=$1 r n
	r=$(etcd_put "$2")
	[[ $r =~ ^[0-9]+$ ]] || { fail "$name" "etcdctl put gave no revision: '$r'"; return; }
	wait_until 5000 all_cs "connected/false/$rev_g/*/$r"
	for n in "${NODES[@]}"; do
		expect "${name}_$n" "revision $r: $n at $(cs "$n") (want connected/false/$rev_g/*/$r), error '$(cfield "$n" refused_error)', backends '$(bview "$n")' (was '${bv_g[$n]}'), ring $(digest "$n") (was ${dg_g[$n]})" \
			test "$(cs "$n" | cut -d/ -f3,5)" = "$rev_g/$r" -a -n "$(cfield "$n" refused_error)" \
			-a "$(bview "$n")" = "${bv_g[$n]}" -a "$(digest "$n")" = "${dg_g[$n]}"
	done
}
bad_put refuses_nonsense 'vip nonsense'
# Valid VIP lines with one more backend, and a line that is not the cluster's: none of it applies.
bad_put refuses_attach_line "$(printf '%s\n  backend 198.18.0.180\nattach eth9\n' "$good")"
metrics_are "$((${refused_b:-0} + 2))" xlb_cluster_refused_revisions_total
rc=$?
expect refused_metric "$(scraped); xlb_cluster_refused_revisions_total on lb: '$refused_b', then '$(metric xlb_cluster_refused_revisions_total)' (2 refused)" \
	test -n "$refused_b" -a $rc -eq 0
# A good revision after them is applied.
rev_r=$(etcd_put "$(printf '%s\n  backend 198.18.0.181\n' "$good")")
applied_after() { all_cs "connected/false/$rev_r/*" && [[ $(backends lb)/$(backends lb2) == *198.18.0.181*/*198.18.0.181* ]]; }
wait_until 5000 applied_after
rc=$?
expect applies_after_refused "revision $rev_r: $SEEN lb '$(backends lb)', lb2 '$(backends lb2)'" test $rc -eq 0

# ---- a client that hangs up while its change waits for etcd costs lbd nothing ----
# (epoll reports a hang-up whatever is watched: lbd spun at every wait until the change's answer)
DIR_LB=$(tb_dir $P)
etcd_pid=$(cat "$DIR_LB/etcd.pid")
lbd_ticks() { awk '{ print $14 + $15 }' "/proc/$(cat "$DIR_LB/lbd.pid")/stat"; }
kill -STOP "$etcd_pid"
python3 - "$DIR_LB/lbd.sock" "$KEY" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(("\x1f".join(["-", "backend", "add", sys.argv[2], "198.18.0.182"]) + "\n").encode())
time.sleep(0.3)	# read and parked, waiting for the stopped etcd
s.close()
PY
t0=$(lbd_ticks)
sleep 2
t1=$(lbd_ticks)
answered=$(timeout 5 "$TB_BUILD/lbctl" -s "$DIR_LB/lbd.sock" vip list >/dev/null 2>&1 && echo yes)
kill -CONT "$etcd_pid"
echo "     a client gone while its change waits for a stopped etcd: lbd used $((t1 - t0)) of 200 CPU ticks in 2 s"
expect hung_up_client_costs_nothing "lbd used $((t1 - t0)) CPU ticks in 2 s" test $((t1 - t0)) -lt 40
expect hung_up_client_lbd_answers "lbctl vip list answered: '${answered:-no}'" test "$answered" = yes
