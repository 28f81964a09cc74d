#!/usr/bin/env bash
# lbd's Prometheus metrics: an address lbd cannot bind is refused by the
# command; the exposition passes promtool's check and names exactly the
# metrics README lists; a real Prometheus server scrapes lbd and reads back
# a per-backend packets series equal to lbctl -j stats; a failing backend
# shows as down with its health probes in the histogram; scrapes while lbctl
# show runs both succeed; the setting is saved and served again after a
# restart; metrics del stops the server; every metric the Grafana dashboard
# uses is one lbd exports; stopping or moving the server under scrapes of a
# large configuration never holds lbd's loop.
# shellcheck disable=SC2034 # lib.sh reads E2E_SUITE
E2E_PREFIX=xe-met E2E_SUITE=metrics
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
P=$E2E_PREFIX
KEY="$TB_VIP4:80/tcp"
LISTEN=$TB_LB4:9100
BE1=$(tb_backend_addr 1 4) BE2=$(tb_backend_addr 2 4)
prom_pid=
cleanup() {
	[[ -n $prom_pid ]] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
	e2e_finish
}
for tool in prometheus promtool; do
	if ! command -v $tool >/dev/null; then
		skip prometheus "no $tool: apt-get install prometheus (or make deps)"
		e2e_finish
		exit
	fi
done
e2e_start 2
trap cleanup EXIT

# scrape: the exposition as a client in the lb namespace gets it.
scrape() { ip netns exec "$P-lb" curl -sS --fail --max-time 5 "http://$LISTEN/metrics"; }
# sample NAME LABELS...: the value of the one series with all those labels (label="value" words).
sample() {
	local name=$1
	shift
	awk -v name="$name" -v want="$*" '
		BEGIN { n = split(want, w, " ") }
		$1 ~ "^" name "({|$)" { for (i = 1; i <= n; i++) if (index($1, w[i]) == 0) next; print $2; exit }'
}

lbctl attach eth0 >/dev/null
lbctl vip add "$KEY" --check http:/health --interval 200ms --timeout 150ms --rise 1 --fall 1 >/dev/null
for i in 1 2; do lbctl backend add "$KEY" "$(tb_backend_addr $i 4)" >/dev/null; done

out=$(lbctl metrics set --listen 198.18.9.9:9100 2>&1)
expect unbindable_address_refused "lbctl metrics set --listen 198.18.9.9:9100: $out" \
	grep -q 'metrics cannot listen on 198.18.9.9:9100: .*no interface has that address' <<<"$out"
out=$(lbctl -j metrics show)
expect refused_address_not_kept "metrics show: $out" grep -q '"listen": *""' <<<"$out"

lbctl metrics set --listen "$LISTEN" >/dev/null
expect set_is_saved_in_file "the file: $(grep metrics "$(tb_dir $P)/lbd.conf")" \
	grep -qx "metrics listen $LISTEN" "$(tb_dir $P)/lbd.conf"

sleep 1
n=$(curl_many "$TB_VIP4" 30 | grep -c '^be[12]$')
expect traffic_through_vip "$n of 30 curls answered" test "$n" -eq 30

text=$(scrape)
expect served "scrape: $(head -c 300 <<<"$text")" grep -q '^xlb_build_info{version="' <<<"$text"
lint=$(promtool check metrics <<<"$text" 2>&1)
expect promtool_accepts "promtool check metrics: $(head -c 600 <<<"$lint")" promtool check metrics <<<"$text"

# README's Metrics table and the exposition name the same metrics.
# shellcheck disable=SC2016 # backquotes of Markdown, not the shell's
documented=$(sed -n '/^## Metrics/,/^## /p' "$root/README.md" | grep -oE '^\| `xlb_[a-z_]+`' | tr -d '|` ' | sort -u)
exported=$(grep -oE '^# TYPE xlb_[a-z_]+' <<<"$text" | cut -d' ' -f3 | sort -u)
expect readme_lists_what_is_exported "only in README: $(comm -23 <(echo "$documented") <(echo "$exported") | tr '\n' ' ');
     only exported: $(comm -13 <(echo "$documented") <(echo "$exported") | tr '\n' ' ')" \
	test -n "$documented" -a "$documented" = "$exported"

# A real Prometheus server scrapes lbd each second.
mkdir -p "$TB_DIR/prom"
cat >"$TB_DIR/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: xlb
    static_configs:
      - targets: ['$LISTEN']
EOF
ip netns exec "$P-lb" prometheus --config.file="$TB_DIR/prom/prometheus.yml" \
	--storage.tsdb.path="$TB_DIR/prom/data" --web.listen-address=127.0.0.1:9090 \
	>"$TB_DIR/prom/log" 2>&1 &
prom_pid=$!
# prom_query EXPR: the value of the query's first series, or nothing.
prom_query() {
	ip netns exec "$P-lb" curl -sS --max-time 2 -G "http://127.0.0.1:9090/api/v1/query" \
		--data-urlencode "query=$1" 2>/dev/null |
		python3 -c 'import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    pass'
}
stats_packets() {
	lbctl -j stats | python3 -c 'import json, sys
print(next(b["packets"] for b in json.load(sys.stdin)["backends"] if b["address"] == sys.argv[1]))' "$1"
}
# The traffic has stopped: lbd's counter and what Prometheus scraped must agree.
want=$(stats_packets "$BE1") got=
for ((t = 0; t < 150; t++)); do
	got=$(prom_query "xlb_backend_packets_total{backend=\"$BE1\"}")
	[[ -n $got && $got == "$want" ]] && break
	sleep 0.1
done
expect prometheus_reads_backend_packets "Prometheus says $BE1 had '${got}' packets, lbctl -j stats says $want" \
	test -n "$got" -a "$got" = "$want" -a "${want:-0}" -gt 0
out=$(lbctl metrics set --listen 127.0.0.1:9090 2>&1)
expect taken_port_refused "lbctl metrics set --listen 127.0.0.1:9090 (Prometheus' port): $out" \
	bash -c "grep -q 'cannot listen on 127.0.0.1:9090: .*something listens there already' <<<'$out' &&
		ip netns exec $P-lb curl -sS --fail --max-time 5 http://$LISTEN/metrics >/dev/null"
got=$(prom_query "up{job=\"xlb\"}")
expect prometheus_target_up "up{job=\"xlb\"} = '$got'; $(tail -3 "$TB_DIR/prom/log")" test "$got" = 1

tb_health $P 2 503
for ((t = 0; t < 50; t++)); do
	state=$(scrape | sample xlb_backend_state "backend=\"$BE2\"" 'state="down"')
	[[ $state == 1 ]] && break
	sleep 0.1
done
shown=$(lbctl -j show | python3 -c 'import json, sys
print(next(b["state"] for v in json.load(sys.stdin)["vips"] for b in v["backends"] if b["address"] == sys.argv[1]))' "$BE2")
text=$(scrape)
expect down_backend_state_down "xlb_backend_state{backend=$BE2,state=down} = '$state', lbctl show says '$shown'" \
	test "$state" = 1 -a "$shown" = down
up1=$(sample xlb_backend_health_up "backend=\"$BE1\"" <<<"$text")
up2=$(sample xlb_backend_health_up "backend=\"$BE2\"" <<<"$text")
active1=$(sample xlb_backend_state "backend=\"$BE1\"" 'state="active"' <<<"$text")
expect health_up_follows_checks "health_up be1 '$up1' be2 '$up2', be1 active '$active1'" \
	test "$up1" = 1 -a "$up2" = 0 -a "$active1" = 1
count=$(sample xlb_backend_health_check_duration_seconds_count "backend=\"$BE1\"" <<<"$text")
inf=$(sample xlb_backend_health_check_duration_seconds_bucket "backend=\"$BE1\"" 'le="+Inf"' <<<"$text")
expect probe_durations_counted "count '$count', +Inf bucket '$inf'" \
	test "${count:-0}" -gt 0 -a "$count" = "$inf"
# shellcheck disable=SC2016
verdicts=$(sed -n '/^## Verdicts/,/^## /p' "$root/README.md" | grep -oE '^\| `[a-z0-9_]+`' | tr -d '|` ' | sort)
labels=$(grep -oE '^xlb_packets_total\{verdict="[a-z0-9_]+"' <<<"$text" | cut -d'"' -f2 | sort)
tx=$(sample xlb_packets_total 'verdict="tx_dsr"' <<<"$text")
expect verdicts_are_readme_list "README: $(tr '\n' ' ' <<<"$verdicts"); exported: $(tr '\n' ' ' <<<"$labels"); tx_dsr $tx" \
	test -n "$labels" -a "$verdicts" = "$labels" -a "${tx:-0}" -gt 0

# Scrapes while lbctl show runs: both answer.
shows=0 scrapes=0
for ((i = 0; i < 10; i++)); do
	lbctl show >/dev/null 2>&1 &
	spid=$!
	scrape >/dev/null && scrapes=$((scrapes + 1))
	wait "$spid" && shows=$((shows + 1))
done
expect scrapes_beside_show "$scrapes of 10 scrapes, $shows of 10 shows" test "$scrapes" -eq 10 -a "$shows" -eq 10

# A reload that names an address lbd cannot listen on is refused; the running server stays.
conf=$(tb_dir $P)/lbd.conf
cp "$conf" "$conf.good"
sed -i 's/^metrics listen .*/metrics listen 198.18.9.9:9100/' "$conf"
out=$(lbctl config reload 2>&1)
cp "$conf.good" "$conf"
expect reload_to_unbindable_refused "lbctl config reload: $out" \
	bash -c "grep -q 'no interface has that address' <<<'$out' &&
		ip netns exec $P-lb curl -sS --fail --max-time 5 http://$LISTEN/metrics >/dev/null"

# The dashboard names only metrics lbd exports (a histogram's by its series).
# Every xlb_ name anywhere in it: panel expressions and the template variables' queries.
used=$(grep -oE '\bxlb_[a-z_]+' "$root/contrib/grafana/xlb.json" | sort -u)
series=$(grep -oE '^xlb_[a-z_]+' <<<"$text"; grep -oE '^# TYPE xlb_[a-z_]+' <<<"$text" | cut -d' ' -f3)
unknown=$(comm -23 <(echo "$used") <(sort -u <<<"$series") | tr '\n' ' ')
expect dashboard_uses_exported_metrics "the dashboard uses $(wc -w <<<"$used") metrics; not exported: '$unknown'" \
	test -n "$used" -a -z "$unknown"

# Saved: a restarted lbd serves at once.
tb_lbd_stop $P
tb_lbd_start $P || fail restart "lbd did not come back"
expect served_after_restart "scrape after restart" bash -c "ip netns exec $P-lb curl -sS --fail --max-time 5 http://$LISTEN/metrics | grep -q '^xlb_conn_table_capacity '"

# An address lbd cannot listen on at start: logged, lbd runs on, commands still work, and a good one serves.
tb_lbd_stop $P
sed -i 's/^metrics listen .*/metrics listen 198.18.9.9:9100/' "$conf"
tb_lbd_start $P || fail start_unbindable "lbd did not start"
show=$(lbctl metrics show 2>&1)
lbctl backend set "$KEY" "$BE1" --weight 2 >/dev/null
rc=$?
expect start_with_unbindable_runs_on "metrics show: $show; backend set exit $rc; log: $(grep -m1 'metrics cannot' "$(tb_dir $P)/lbd.log")" \
	bash -c "grep -q 'not serving 198.18.9.9:9100: .*no interface has that address' <<<'$show' && ((rc == 0)) &&
		grep -q 'metrics cannot listen on 198.18.9.9:9100.*lbd runs on without serving metrics' '$(tb_dir $P)/lbd.log'"
lbctl metrics set --listen "$LISTEN" >/dev/null
weight=$(scrape | sample xlb_backend_weight "backend=\"$BE1\"")
expect serves_once_set_again "xlb_backend_weight of $BE1: '$weight'" test "$weight" = 2

# Stopping a server (another address, or del) never waits on lbd's loop for the scrapes it
# renders: with 500 VIPs of 24 backends (a 10 MB exposition) and 16 clients scraping without
# pause, the loop was held 2 to 3 s a stop (every scrape in progress); now no pass is held by
# the metrics part of a command.
for ((i = 0; i < 500; i++)); do
	echo "vip $TB_VIP4:$((2000 + i))/tcp ring-size 251 check none"
	for ((b = 1; b <= 24; b++)); do echo "  backend 198.18.0.$((100 + b))"; done
done >>"$conf"
timeout 60 "$TB_BUILD/lbctl" -s "$(tb_dir $P)/$(tb_lbd_base).sock" config reload >/dev/null ||
	fail setup "config reload with 500 VIPs of 24 backends failed"
LISTEN2=$TB_LB4:9101
size=$(scrape | wc -c)
scrapers=()
for ((c = 0; c < 16; c++)); do
	ip netns exec "$P-lb" bash -c "end=\$((SECONDS + 20)); while ((SECONDS < end)); do
		curl -s -o /dev/null --max-time 5 http://$LISTEN/metrics; curl -s -o /dev/null --max-time 5 http://$LISTEN2/metrics
	done" &
	scrapers+=($!)
done
sleep 2
log=$(tb_dir $P)/lbd.log
mark=$(wc -l <"$log")
took=() rcs=()
for where in "set --listen $LISTEN2" "set --listen $LISTEN" del; do
	t0=$(date +%s%N)
	# shellcheck disable=SC2086 # the words of the command
	lbctl metrics $where >/dev/null
	rcs+=($?) took+=($((($(date +%s%N) - t0) / 1000000)))
	sleep 1.5
done
kill "${scrapers[@]}" 2>/dev/null
wait "${scrapers[@]}" 2>/dev/null
# The passes over 100 ms lbd logged meanwhile, with the work that held them.
held=$(tail -n +$((mark + 1)) "$log" | grep -o 'held for [0-9]* ms, [0-9]* ms of it by .*')
by_metrics=$(grep 'routes and metrics' <<<"$held" | awk '{ print $5 }' | sort -n | tail -1)
echo "     metrics set, set, del under 16 scrapers: ${took[*]} ms; $(grep -c . <<<"$held") passes over 100 ms," \
	"the longest of them held by metrics ${by_metrics:-none}"
expect stop_never_waits_for_scrapes "a $size-byte exposition, 16 scrapers; lbctl metrics set, set, del: exit ${rcs[*]}, ${took[*]} ms;
     passes held: ${held:-none}" \
	test "$size" -gt 3000000 -a "${rcs[*]}" = "0 0 0" -a "${by_metrics:-0}" -lt 300
out=$(lbctl metrics show 2>&1)
expect del_stops_server "metrics show: $out" bash -c "grep -q 'metrics: off' <<<'$out' && ! ip netns exec $P-lb curl -s --max-time 2 http://$LISTEN/metrics >/dev/null"
((e2e_failed == 0)) || tail -20 "$(tb_dir $P)/lbd.log" | sed 's/^/     lbd: /'
