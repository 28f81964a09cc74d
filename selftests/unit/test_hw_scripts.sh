#!/usr/bin/env bash
# The traffic configurations for real hardware cannot run here (no pktgen,
# no DPDK NIC). What they do without the hardware is tested: pktgen.sh
# refuses each missing argument, naming it, before it touches anything; the
# TRex profile, run against a stand-in for TRex's API, builds the stream it
# promises. A syntax check is a guard, not a test: a file that does not
# parse fails here, one that parses adds nothing to the passed count.
root=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=hw
# shellcheck source=check.sh
source "$root/selftests/unit/check.sh"
pktgen=$root/scripts/hw/pktgen.sh trex=$root/scripts/hw/trex_xlb.py
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# bash runs a script line by line: the refusals below would not see a syntax
# error further down.
bash -n "$pktgen" 2>"$dir/syntax" || fail pktgen_syntax "bash -n: $(head -n 1 "$dir/syntax")"

# refuses NAME WANT ARGS...: pktgen.sh ARGS exits 1 saying WANT on stderr.
refuses() {
	local name=$1 want=$2 rc
	shift 2
	bash "$pktgen" "$@" >"$dir/out" 2>"$dir/err"
	rc=$?
	if ((rc == 1)) && grep -qF -- "$want" "$dir/err" && [[ ! -s $dir/out ]]; then
		ok "$name"
	else
		fail "$name" "exit $rc, stderr '$(head -c 200 "$dir/err")', expected exit 1 and '$want'"
	fi
}
refuses pktgen_needs_a_device "usage: $pktgen DEV DST_MAC VIP"
refuses pktgen_needs_a_mac "destination MAC" veth9
refuses pktgen_needs_a_vip "the VIP to load" veth9 02:00:00:00:00:fe

if ! command -v python3 >/dev/null; then
	skip trex_profile_builds_the_stream "no python3"
else
	mkdir -p "$dir/trex_stl_lib"
	: >"$dir/trex_stl_lib/__init__.py"
	# Just enough of TRex's API to record what the profile asks for.
	cat >"$dir/trex_stl_lib/api.py" <<'PY'
class Layer:
    size = 0

    def __init__(self, **fields):
        self.fields, self.parts = fields, [self]

    def __truediv__(self, other):
        out = Layer()
        out.parts = self.parts + (other.parts if isinstance(other, Layer) else [other])
        return out

    def __len__(self):
        return sum(p.size if isinstance(p, Layer) else len(p) for p in self.parts)

    def names(self):
        return [type(p).__name__ if isinstance(p, Layer) else "payload" for p in self.parts]

    def layer(self, name):
        return next(p for p in self.parts if type(p).__name__ == name)


class Ether(Layer): size = 14
class IP(Layer): size = 20
class IPv6(Layer): size = 40
class UDP(Layer): size = 8
class TCP(Layer): size = 20


class STLFlowVM:
    def __init__(self):
        self.vars, self.writes, self.fixed = [], [], False

    def var(self, **kw):
        self.vars.append(kw)

    def write(self, **kw):
        self.writes.append(kw)

    def fix_chksum(self):
        self.fixed = True


class STLPktBuilder:
    def __init__(self, pkt, vm):
        self.pkt, self.vm = pkt, vm


class STLTXCont:
    pass


class STLStream:
    def __init__(self, packet, mode):
        self.packet, self.mode = packet, mode


class STLProfile:
    pass
PY
	cat >"$dir/check.py" <<'PY'
import importlib.util
import sys

spec = importlib.util.spec_from_file_location("trex_xlb", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
profile = mod.register()


def stream(**kw):
    streams = profile.get_streams(**kw)
    assert len(streams) == 1, f"{len(streams)} streams for {kw}"
    s = streams[0]
    assert isinstance(s.mode, mod.STLTXCont), "not a continuous stream"
    return s.packet.pkt, s.packet.vm


def sports(vm, l4, lo, hi):
    assert vm.vars == [dict(name="sport", min_value=lo, max_value=hi, size=2, op="inc")], vm.vars
    assert vm.writes == [dict(fv_name="sport", pkt_offset=l4 + ".sport")], vm.writes


pkt, vm = stream(vip="198.18.1.1", flows=1000)
assert pkt.names() == ["Ether", "IP", "UDP", "payload"], pkt.names()
assert len(pkt) == 60, f"{len(pkt)} bytes: a 64-byte frame is 60 plus the FCS"
assert pkt.layer("IP").fields == dict(src="198.18.0.10", dst="198.18.1.1"), pkt.layer("IP").fields
assert pkt.layer("UDP").fields == dict(sport=1024, dport=80), pkt.layer("UDP").fields
sports(vm, "UDP", 1024, 1023 + 1000)
assert vm.fixed, "IPv4 header checksum not fixed after the rewrite"

pkt, vm = stream(vip="2001:db8:1::1", flows=10, dport=53)
assert pkt.names()[:3] == ["Ether", "IPv6", "UDP"], pkt.names()
assert pkt.layer("IPv6").fields == dict(src="2001:db8::10", dst="2001:db8:1::1"), pkt.layer("IPv6").fields
sports(vm, "UDP", 1024, 1033)

for proto, flags in (("syn", "S"), ("tcp", "A")):
    pkt, vm = stream(vip="198.18.1.1", proto=proto, flows=64512, size=128)
    assert pkt.layer("TCP").fields["flags"] == flags, pkt.layer("TCP").fields
    assert len(pkt) == 124, len(pkt)
    sports(vm, "TCP", 1024, 65535)
PY
	if PYTHONPATH=$dir python3 "$dir/check.py" "$trex" 2>"$dir/py.err"; then
		ok trex_profile_builds_the_stream
	else
		fail trex_profile_builds_the_stream "$(tail -n 3 "$dir/py.err" | tr '\n' ' ')"
	fi
fi
finish
