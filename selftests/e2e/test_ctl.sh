#!/usr/bin/env bash
# lbctl clients cannot stall lbd. Against the master of a VRRP pair at
# 100 ms adverts: a client that sends half a request and stalls, one that
# sends a byte every 1.5 s, one that never reads a reply larger than the
# socket buffers, and 100 that connect and say nothing. Meanwhile the backup
# never takes over, health checks keep their 1 s interval and a normal
# lbctl answers at once; afterwards each stuck client has been dropped.
# Also: requests past the word limit are refused whole, by lbd and by lbctl;
# beyond the client cap lbd answers "busy"; a burst of 100 vip dels is served
# a few a pass, with no takeover meanwhile, and so is a reload that adds
# 100 VIPs of 65537 slots with 1000 new backends (answered once all are in
# the data plane); lbd raises its open files limit;
# accept4 failing with EMFILE does not spin the loop.
E2E_PREFIX=xe-ctl E2E_SUITE=ctl
source "$(dirname "$0")/lib.sh"
e2e_start 3
P=$E2E_PREFIX
KEY="$TB_VIP4:80/tcp"
ADVERT_MS=100
BASE=$(tb_dir $P)
CHECKS=$TB_DIR/checks.log
N_VIPS=500		# the master's show reply: far beyond a Unix socket's buffers

tb_lb_up $P lb2 198.18.0.3 2001:db8::3
# lb2 starts with a soft open files limit of 1024 under a hard one of 8192: lbd takes the hard one.
(ulimit -Sn 1024 && ulimit -Hn 8192 && TB_LB=lb2 tb_lbd_start $P) || fail setup "the second lbd did not start"
ip -n $P-cli route replace $TB_VIP4/32 dev eth0

# on LB CMD...: lbctl against one node, never waiting long for an lbd that is stuck.
on() { local lb=$1; shift; timeout 5 "$TB_BUILD/lbctl" -s "$BASE/$(TB_LB=$lb tb_lbd_base).sock" "$@"; }
state() { on "$1" vrrp show 2>/dev/null | awk '$2 == "vrid" && $3 == 51 { print $5 }'; }
now_ms() { date +%s%3N; }
# vrrp_counter LB NAME: a counter of the vrid 51 router.
vrrp_counter() {
	on "$1" -j vrrp show | python3 -c "import json, sys
print([r for r in json.load(sys.stdin)['routers'] if r['vrid'] == 51][0]['counters']['$2'])"
}
lbd_pid() { cat "$BASE/$(TB_LB=$1 tb_lbd_base).pid"; }
answers() { on "$1" vip list >/dev/null; }
# watch_backup_start NAME / watch_backup_stop NAME: lb2's state every 50 ms into NAME.states (a takeover may be brief).
watch_backup_start() {
	rm -f "$TB_DIR/$1.stop"
	(
		while [[ ! -e $TB_DIR/$1.stop ]]; do
			echo "$(state lb2)"
			sleep 0.05
		done
	) >"$TB_DIR/$1.states" &
	watch_pid=$!
}
watch_backup_stop() {
	touch "$TB_DIR/$1.stop"
	wait "$watch_pid"
}
# glob STRING PATTERN: STRING matches the shell pattern.
glob() { [[ $1 == $2 ]]; }

# ---- the master: a VIP whose backend check logs each run, and many VIPs for a large reply ----
on lb attach eth0 >/dev/null
on lb vip add "$KEY" >/dev/null
on lb backend add "$KEY" "$(tb_backend_addr 1 4)" --check "exec:echo x >>$CHECKS" --interval 1s >/dev/null
on lb vrrp add eth0 --vrid 51 --priority 200 --advert ${ADVERT_MS}ms --vip $TB_VIP4 >/dev/null
for ((i = 0; i < N_VIPS; i++)); do
	echo "vip $TB_VIP4:$((1000 + i))/tcp ring-size 251 check none"
	for b in 1 2 3; do echo "  backend $(tb_backend_addr $b 4)"; done
done >>"$BASE/lbd.conf"
# A slow step on a loaded machine (one sync of every VIP), not what this test is about: more time.
timeout 60 "$TB_BUILD/lbctl" -s "$BASE/lbd.sock" config reload >/dev/null || fail setup "lb: config reload with $N_VIPS VIPs failed"
# The backup; no health probes there, so its open files stay put for the EMFILE case.
on lb2 attach eth0 >/dev/null
on lb2 vip add "$KEY" --check none >/dev/null
on lb2 backend add "$KEY" "$(tb_backend_addr 1 4)" >/dev/null
on lb2 vrrp add eth0 --vrid 51 --priority 100 --advert ${ADVERT_MS}ms --vip $TB_VIP4 >/dev/null
for ((t = 0; t < 300; t++)); do [[ $(state lb)/$(state lb2) == master/backup ]] && break; sleep 0.01; done
[[ $(state lb)/$(state lb2) == master/backup ]] || fail setup "lb is $(state lb), lb2 is $(state lb2)"
on lb -j show >"$TB_DIR/show.json"
rc=$? full=$(wc -c <"$TB_DIR/show.json")
shown=$(on lb show | wc -c)
echo "     lb's show reply: $full bytes in JSON, $shown in text"
expect large_reply_served_whole "lbctl -j show: exit $rc, $full bytes" python3 -c "import json
assert $rc == 0 and $full > 300000 and len(json.load(open('$TB_DIR/show.json'))['vips']) == $((N_VIPS + 1))"

# ---- a reply of thousands of rows is written a piece a pass; what changes meanwhile restarts it ----
resumed() { on lb -j stats | python3 -c "import json,sys; print(json.load(sys.stdin)['loop']['replies_resumed'])"; }
resumed_before=$(resumed)
# Another client adds and deletes VIPs while shows are written: each show lists one configuration whole.
(
	for ((i = 0; i < 20; i++)); do
		on lb vip add "$TB_VIP4:$((3000 + i))/tcp" --check none >/dev/null
		on lb vip del "$TB_VIP4:$((3000 + i))/tcp" >/dev/null
	done
) &
changer=$!
bad_shows=0
for ((i = 0; i < 8; i++)); do
	on lb -j show | python3 -c "import json, sys
keys = [v['vip'] for v in json.load(sys.stdin)['vips']]
base = ['$TB_VIP4:%d/tcp' % (1000 + i) for i in range($N_VIPS)] + ['$KEY']
extra = [k for k in keys if k not in base]
sys.exit(len(keys) != len(set(keys)) or not set(base) <= set(keys) or len(extra) > 1)" ||
		bad_shows=$((bad_shows + 1))
	on lb -j stats | python3 -c "import json, sys
keys = [v['vip'] for v in json.load(sys.stdin)['vips']]
sys.exit(len(keys) != len(set(keys)) or len(keys) not in ($N_VIPS + 1, $N_VIPS + 2))" ||
		bad_shows=$((bad_shows + 1))
	text_vips=$(on lb show | grep -c '^vip ')
	((text_vips == N_VIPS + 1 || text_vips == N_VIPS + 2)) || bad_shows=$((bad_shows + 1))
done
wait $changer
resumed_after=$(resumed)
expect show_in_pieces_is_one_configuration "$bad_shows of 24 shows and stats listed a VIP twice, missed one or mixed configurations" \
	test "$bad_shows" -eq 0
if ((resumed_after > resumed_before)); then
	ok reply_written_in_pieces
else
	skip reply_written_in_pieces "this machine wrote each show of $N_VIPS VIPs within one pass's budget"
fi


# ---- misbehaving clients ----
cat >"$TB_DIR/clients.py" <<'EOF'
import json, select, socket, sys, time

mode, path, out = sys.argv[1:4]
t0 = time.monotonic()

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(path)
    return s

def closed_by_peer(s, wait):
    """True once lbd closed s (EOF or reset), waiting up to wait seconds; the bytes it sent."""
    got = b""
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if not select.select([s], [], [], max(left, 0))[0]:
            return False, got
        try:
            b = s.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            return True, got
        if not b:
            return True, got
        got += b

def half():            # half a request, then silence
    s = conn()
    s.sendall(b"-\x1fvip\x1fli")
    closed, got = closed_by_peer(s, 14)
    return {"closed": closed, "after": time.monotonic() - t0, "got": got.decode(errors="replace")}

def slow():            # one byte every 1.5 s
    s = conn()
    req, sent, closed = b"-\x1fvip\x1flist\x1fx\x1fy\n", 0, False
    while sent < len(req) and not closed:
        try:
            s.send(req[sent:sent + 1])
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        sent += 1
        closed, _ = closed_by_peer(s, 1.5)
    return {"closed": closed, "sent": sent, "after": time.monotonic() - t0}

def noread(hold):      # a large reply, not read until the end
    s = conn()
    s.sendall(b"j\x1fshow\n")
    time.sleep(float(hold))
    closed, got = closed_by_peer(s, 3)
    return {"closed": closed, "bytes": len(got), "done": got.endswith(b"\ndone\n")}

def idle(n, hold):     # n connections that say nothing
    socks, refused = [], 0
    for _ in range(int(n)):
        try:
            socks.append(conn())
        except OSError:
            refused += 1
    closed, busy, last = 0, 0, 0.0
    pending = list(socks)
    end = t0 + float(hold)
    while pending and time.monotonic() < end:
        for s in select.select(pending, [], [], max(end - time.monotonic(), 0))[0]:
            try:
                b = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                b = b""
            busy += b.startswith(b"error lbd is busy")
            if not b or b.startswith(b"error"):
                closed += 1
                last = time.monotonic() - t0
                pending.remove(s)
    return {"connected": len(socks), "refused": refused, "closed": closed, "busy": busy, "last": last}

def raw(request):      # one request, given as a Python bytes expression; the reply
    s = conn()
    s.sendall(eval(request))
    closed, got = closed_by_peer(s, 5)
    return {"reply": got.decode(errors="replace")}

try:
    res = globals()[mode](*sys.argv[4:])
except Exception as e:  # lbd did not answer as it should: the checks fail on the missing fields
    res = {"error": repr(e)}
json.dump(res, open(out, "w"))
EOF
client() { python3 "$TB_DIR/clients.py" "$@"; }

SOCK=$BASE/lbd.sock
bm_before=$(vrrp_counter lb2 became_master)
bb_before=$(vrrp_counter lb became_backup)
checks_before=$(wc -l <"$CHECKS")
t0=$(now_ms)
client half "$SOCK" "$TB_DIR/half.json" &
half_pid=$!
client slow "$SOCK" "$TB_DIR/slow.json" &
slow_pid=$!
client noread "$SOCK" "$TB_DIR/noread.json" 13 &
noread_pid=$!
sleep 0.3	# the three above connect first, whatever the listen backlog
client idle "$SOCK" "$TB_DIR/idle.json" 100 12 &
idle_pid=$!
# A pager that reads nothing for 11 s, beyond the reply deadline: lbctl holds the reply for it.
timeout 30 "$TB_BUILD/lbctl" -s "$SOCK" show | (sleep 11; wc -c) >"$TB_DIR/pager.out" &
pager_pid=$!
sleep 2
t1=$(now_ms)
on lb show >/dev/null
rc=$? took=$(($(now_ms) - t1))
expect lbctl_answers_meanwhile "lbctl show exit $rc after $took ms while clients stall" \
	test "$rc" -eq 0 -a "$took" -lt 1000
# Sample the backup's state all along: a takeover may be brief.
states=""
while (($(now_ms) < t0 + 8000)); do
	states+=" $(state lb2)"
	sleep 0.2
done
checks=$(($(wc -l <"$CHECKS") - checks_before))
bm_after=$(vrrp_counter lb2 became_master)
bb_after=$(vrrp_counter lb became_backup)
echo "     in 8 s: $checks checks at 1 s interval; lb2 became_master $bm_before -> $bm_after"
stayed_backup() {
	local s
	for s in $states; do [[ $s == backup ]] || return 1; done
	[[ $bm_after == "$bm_before" ]]
}
expect backup_stays_backup "lb2 was:$states; became_master $bm_before -> $bm_after" stayed_backup
expect master_stays_master "lb is $(state lb), became_backup $bb_before -> $bb_after" \
	test "$(state lb)" = master -a "$bb_after" = "$bb_before"
expect health_checks_keep_interval "$checks checks in 8 s at interval 1s" test "$checks" -ge 5

wait $half_pid $slow_pid $noread_pid $idle_pid $pager_pid
echo "     half: $(cat "$TB_DIR/half.json")"
echo "     slow: $(cat "$TB_DIR/slow.json")"
echo "     noread: $(cat "$TB_DIR/noread.json")"
echo "     idle: $(cat "$TB_DIR/idle.json")"
# Deadlines: 5 s for the request, 10 s for the reply to drain.
expect stalled_request_dropped "$(cat "$TB_DIR/half.json")" python3 -c "import json
r = json.load(open('$TB_DIR/half.json'))
assert r['closed'] and 4.5 < r['after'] < 7 and r['got'].startswith('error ')"
expect slow_sender_dropped "$(cat "$TB_DIR/slow.json")" python3 -c "import json
r = json.load(open('$TB_DIR/slow.json'))
assert r['closed'] and r['after'] < 7.5"
expect idle_clients_dropped "$(cat "$TB_DIR/idle.json")" python3 -c "import json
r = json.load(open('$TB_DIR/idle.json'))
assert r['connected'] == 100 and r['closed'] == 100 and r['busy'] == 0 and r['last'] < 7.5"
expect nonreader_dropped "$(cat "$TB_DIR/noread.json") of a $full-byte reply" python3 -c "import json
r = json.load(open('$TB_DIR/noread.json'))
assert r['closed'] and not r['done'] and r['bytes'] < $full"
expect master_answers_after "lbctl vip list on lb fails" answers lb
drops=$(grep -c 'control client dropped' "$BASE/lbd.log")
expect drops_logged "lb logged $drops drops of the 103 stuck clients" test "$drops" -ge 103
paged=$(cat "$TB_DIR/pager.out")
expect slow_pager_gets_whole_reply "lbctl show | (sleep 11; wc -c) gave $paged bytes of $shown" test "$paged" = "$shown"

# ---- a burst of changing commands (each a sync and a save of the file), run a few a pass ----
N_BURST=100
bm_before=$(vrrp_counter lb2 became_master)
watch_backup_start burst
burst_pids=()
burst_t0=$(now_ms)
# Each waits its turn behind the others (a sync and a save each): lbd's own deadline for a
# request's turn and reply (10 s) is the bound, not on's 5 s.
for ((i = 0; i < N_BURST; i++)); do
	timeout 15 "$TB_BUILD/lbctl" -s "$BASE/lbd.sock" vip del "$TB_VIP4:$((1000 + i))/tcp" >/dev/null \
		2>>"$TB_DIR/burst.err" &
	burst_pids+=($!)
done
burst_failed=0
for pid in "${burst_pids[@]}"; do wait "$pid" || burst_failed=$((burst_failed + 1)); done
burst_ms=$(($(now_ms) - burst_t0))
sleep 0.5
watch_backup_stop burst
bm_after=$(vrrp_counter lb2 became_master)
left=$(on lb vip list | grep -c ":1[0-9][0-9][0-9]/tcp")
not_backup=$(grep -vcx backup "$TB_DIR/burst.states")
echo "     $N_BURST vip dels at once: $burst_failed failed, all done in $burst_ms ms, $left of $N_VIPS left; lb2 not backup in $not_backup of $(grep -c . "$TB_DIR/burst.states") samples"
expect burst_all_served "$burst_failed of $N_BURST failed ($(head -c 300 "$TB_DIR/burst.err")), $left left" \
	test "$burst_failed" -eq 0 -a "$left" -eq $((N_VIPS - N_BURST))
expect burst_backup_stays_backup "lb2 not backup in $not_backup samples; became_master $bm_before -> $bm_after" \
	test "$not_backup" -eq 0 -a "$bm_after" = "$bm_before"

# ---- a reload that adds 100 VIPs of 65537 slots and 1000 new backends ----
# Each VIP is a table build (2 ms) and a ring put into ring_map (an RCU
# grace period, done by lbd's map worker); each backend a route and a
# neighbour look-up. lbd writes them a bounded piece a pass and answers the
# reload once they are all in: the backup hears every advert meanwhile.
N_BIG=100
ip -n $P-lb route add 198.18.16.0/20 dev eth0
for ((b = 0; b < N_BIG * 10; b++)); do
	echo "neigh add 198.18.$((16 + b / 256)).$((b % 256)) lladdr 02:00:00:00:10:01 dev eth0 nud permanent"
done | ip -n $P-lb -batch -
cp "$BASE/lbd.conf" "$TB_DIR/before-big.conf"
for ((v = 0; v < N_BIG; v++)); do
	echo "vip $TB_VIP4:$((3000 + v))/udp check none"
	for ((i = 0; i < 10; i++)); do echo "  backend 198.18.$((16 + (v * 10 + i) / 256)).$(((v * 10 + i) % 256))"; done
done >>"$BASE/lbd.conf"
# Rings of the default size are in ring_default_map, the others in ring_map: both count.
rings() { for m in ring_map ring_default_map; do bpftool -j map dump pinned "$(tb_pin_dir $P)/$m" 2>/dev/null; done | python3 -c 'import json,sys; print(sum(len(json.loads(l)) for l in sys.stdin if l.strip()))'; }
# The burst's deleted VIPs' rings go one RCU wait each, in lbd's worker: counted once they are gone.
for ((t = 0; t < 100; t++)); do
	rings_before=$(rings)
	sleep 0.3
	(($(rings) == rings_before)) && break
done
bm_before=$(vrrp_counter lb2 became_master)
watch_backup_start big
big_t0=$(now_ms)
big_out=$(timeout 60 "$TB_BUILD/lbctl" -s "$BASE/lbd.sock" config reload 2>&1)
big_rc=$? big_ms=$(($(now_ms) - big_t0))
# Right after the reply: every new VIP is listed and has its ring in the data plane.
big_vips=$(on lb vip list | grep -c ":3[0-9][0-9][0-9]/udp")
big_rings=$(rings)
sleep 0.5
watch_backup_stop big
bm_after=$(vrrp_counter lb2 became_master)
not_backup=$(grep -vcx backup "$TB_DIR/big.states")
echo "     reload adding $N_BIG VIPs x 10 new backends: answered in $big_ms ms, $big_vips VIPs, rings $rings_before -> $big_rings; lb2 not backup in $not_backup of $(grep -c . "$TB_DIR/big.states") samples"
expect big_reload_served "rc $big_rc: $big_out; $big_vips of $N_BIG VIPs" test "$big_rc" -eq 0 -a "$big_vips" -eq "$N_BIG"
expect big_reload_rings_in_at_reply "rings $rings_before before, $big_rings when the reply came" \
	test "$big_rings" -eq $((rings_before + N_BIG))
expect big_reload_backup_stays_backup "lb2 not backup in $not_backup samples; became_master $bm_before -> $bm_after" \
	test "$not_backup" -eq 0 -a "$bm_after" = "$bm_before"
cp "$TB_DIR/before-big.conf" "$BASE/lbd.conf"
timeout 60 "$TB_BUILD/lbctl" -s "$BASE/lbd.sock" config reload >/dev/null

# ---- beyond the client cap: refused at once with a reason, not queued ----
client idle "$SOCK" "$TB_DIR/cap.json" 140 2
echo "     140 at once: $(cat "$TB_DIR/cap.json")"
expect busy_beyond_cap "$(cat "$TB_DIR/cap.json")" python3 -c "import json
r = json.load(open('$TB_DIR/cap.json'))
assert r['connected'] == 140 and r['busy'] == 140 - 128"

# ---- requests past the limits: refused whole, naming the limit ----
client raw "$SOCK" "$TB_DIR/words.json" 'b"-\x1fshow" + b"\x1fx" * 299 + b"\n"'
expect lbd_refuses_too_many_words "$(cat "$TB_DIR/words.json")" python3 -c "import json
r = json.load(open('$TB_DIR/words.json'))['reply']
assert r.startswith('error ') and '300 words' in r and '256' in r, r"
client raw "$SOCK" "$TB_DIR/long.json" 'b"-\x1fshow\x1f" + b"x" * 20000'
expect lbd_refuses_too_long "$(cat "$TB_DIR/long.json")" python3 -c "import json
r = json.load(open('$TB_DIR/long.json'))['reply']
assert r.startswith('error ') and '16384' in r, r"
words=()
for ((i = 0; i < 150; i++)); do words+=(--vip 198.18.1.9); done
# No lbd at this path: lbctl must refuse before it tries to send.
out=$("$TB_BUILD/lbctl" -s "$TB_DIR/nobody.sock" vrrp add eth0 --vrid 9 "${words[@]}" 2>&1)
rc=$?
expect lbctl_refuses_too_many_words "exit $rc: $out" glob "$rc $out" "1 *305 words*256*"
vips=()
for ((i = 0; i < 16; i++)); do vips+=(--vip 198.18.1.$((100 + i))); done
out=$(on lb2 vrrp add eth0 --vrid 53 --priority 100 --advert 1s "${vips[@]}" 2>&1)
n16=$(on lb2 -j vrrp show | python3 -c "import json, sys
print(len([r for r in json.load(sys.stdin)['routers'] if r['vrid'] == 53][0]['vips']))" 2>/dev/null)
saved=$(grep -c '^vrrp eth0 vrid 53 .* 198.18.1.115$' "$BASE/lbd-lb2.conf")
expect vrrp_add_16_vips_whole "vrrp add: '$out'; $n16 VIPs in vrrp show, saved whole: $saved" \
	test "$n16" = 16 -a "$saved" = 1

# ---- the open files limit ----
soft=$(awk '/^Max open files/ { print $4 }' "/proc/$(lbd_pid lb2)/limits")
expect nofile_soft_raised "lb2 started with 1024:8192, runs with a soft limit of $soft" test "$soft" = 8192

# ---- accept4 out of fds: the loop waits, it does not spin ----
pid=$(lbd_pid lb2)
for ((lowest = 0; ; lowest++)); do [[ -e /proc/$pid/fd/$lowest ]] || break; done
prlimit --pid "$pid" --nofile=$lowest:8192
client idle "$BASE/lbd-lb2.sock" "$TB_DIR/emfile.json" 3 4 &
emfile_pid=$!
sleep 0.5
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
c0=$(cpu "$pid")
sleep 2
c1=$(cpu "$pid")
prlimit --pid "$pid" --nofile=8192:8192
ticks=$(getconf CLK_TCK)
echo "     accept4 out of fds: lbd used $((c1 - c0)) of $((2 * ticks)) CPU ticks in 2 s"
expect emfile_does_not_spin "lbd used $((c1 - c0)) CPU ticks (of $((2 * ticks))) in 2 s" \
	test $((c1 - c0)) -lt $((ticks / 5))
wait $emfile_pid
logged=$(grep -c 'cannot accept clients' "$BASE/lbd-lb2.log")
expect emfile_logged_once "logged $logged times" test "$logged" = 1
expect accepting_again "lb2 does not answer after its limit came back" answers lb2

# ---- a hard limit too low for every probe: a warning that names the fix ----
TB_LB=lb2 tb_lbd_stop $P
(ulimit -n 2048 && TB_LB=lb2 tb_lbd_start $P) || fail nofile_warning "lb2 did not restart"
expect nofile_warning "lb2's log: $(grep -i 'open files' "$BASE/lbd-lb2.log")" \
	grep -q 'open files limit is 2048, fewer than .*LimitNOFILE' "$BASE/lbd-lb2.log"
