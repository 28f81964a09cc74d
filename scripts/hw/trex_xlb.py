"""TRex stateless profile for xlb on real hardware (this test bed has no
DPDK NIC: use build/xlbgen there).

64-byte UDP (or TCP SYN / established) frames to the VIP over `flows`
distinct source ports; IPv4 or IPv6. Load it with:

    trex-console> start -f scripts/hw/trex_xlb.py -m 10mpps --port 0 \
                  -t vip=198.18.1.1,flows=65536,proto=udp

Count what comes back on the other port; compare with the same run against
bpf/reflector.bpf.o on the balancer (BENCHMARKS.md explains why).
"""
from trex_stl_lib.api import (STLFlowVM, STLPktBuilder, STLProfile, STLStream, STLTXCont,
                              Ether, IP, IPv6, TCP, UDP)


class XlbProfile:
    def get_streams(self, direction=0, vip="198.18.1.1", src="198.18.0.10", dport=80,
                    flows=65536, proto="udp", size=64, **kwargs):
        flows = int(flows)
        six = ":" in vip
        l3 = IPv6(src=src if ":" in src else "2001:db8::10", dst=vip) if six else IP(src=src, dst=vip)
        if proto == "udp":
            l4 = UDP(sport=1024, dport=int(dport))
        else:
            l4 = TCP(sport=1024, dport=int(dport), flags="S" if proto == "syn" else "A")
        base = Ether() / l3 / l4
        pad = max(0, int(size) - 4 - len(base))
        pkt = base / ("x" * pad)

        l4_name = "UDP" if proto == "udp" else "TCP"
        vm = STLFlowVM()
        vm.var(name="sport", min_value=1024, max_value=1024 + flows - 1, size=2, op="inc")
        vm.write(fv_name="sport", pkt_offset=l4_name + ".sport")
        if not six:
            vm.fix_chksum()
        return [STLStream(packet=STLPktBuilder(pkt=pkt, vm=vm), mode=STLTXCont())]


def register():
    return XlbProfile()
