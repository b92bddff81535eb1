#!/usr/bin/env python3
"""Derived captures: the packets of a real capture wrapped in an encapsulation this machine's
kernel cannot make (no GRE, Geneve, IPIP, SIT, MPLS or PPPoE modules here), by scapy.

Only headers are added around each captured packet; the packets themselves (their IP
headers, TCP segments and TLS bytes) are the recorded ones, byte for byte, and timestamps are
kept. The outer addresses are from 198.18.0.0/15 (RFC 2544's test range).

  rewrap.py KIND IN.pcap OUT.pcap
KIND: gre gretap erspan2 erspan3 geneve ipip sit mpls pppoe qinq fragments
"""
import sys

from scapy.all import (
    GRE, IP, IPv6, UDP, Dot1AD, Dot1Q, Ether, PPP, PPPoE, PcapReader, PcapWriter, fragment,
)
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.contrib.mpls import MPLS

A, B = "198.18.7.1", "198.18.7.2"
A6, B6 = "fd00:18:7::1", "fd00:18:7::2"
MAC_A, MAC_B = "02:00:00:00:07:01", "02:00:00:00:07:02"


def outer_ip(pkt, v6=False):
    """The outer IP header, its direction following the inner packet's."""
    forward = pkt[IP].src < pkt[IP].dst if IP in pkt else pkt[IPv6].src < pkt[IPv6].dst
    if v6:
        return IPv6(src=A6, dst=B6) if forward else IPv6(src=B6, dst=A6)
    return IP(src=A, dst=B) if forward else IP(src=B, dst=A)


def inner_ip(pkt):
    return pkt[IP] if IP in pkt else pkt[IPv6]


def eth(proto_layer):
    return Ether(src=MAC_A, dst=MAC_B) / proto_layer


def wrap(kind, pkt, n):
    ip = inner_ip(pkt)
    if kind == "gre":  # checksum, key and sequence number all present
        return [eth(outer_ip(pkt) / GRE(chksum_present=1, key_present=1, key=77, seqnum_present=1, seqence_number=n) / ip)]
    if kind == "gretap":
        return [eth(outer_ip(pkt) / GRE(key_present=1, key=5, proto=0x6558) / pkt)]
    if kind == "erspan2":
        return [eth(outer_ip(pkt) / GRE(seqnum_present=1, seqence_number=n, proto=0x88BE) / ERSPAN_II(session_id=12) / pkt)]
    if kind == "erspan3":
        return [eth(outer_ip(pkt) / GRE(seqnum_present=1, seqence_number=n, proto=0x22EB) / ERSPAN_III(session_id=13) / pkt)]
    if kind == "geneve":  # with 8 bytes of options (one TLV)
        opts = [GeneveOptions(classid=0x0102, type=3, length=1, data=b"\xaa\xbb\xcc\xdd")]
        g = GENEVE(vni=4242, proto=0x6558, optionlen=2, options=opts)
        return [eth(outer_ip(pkt) / UDP(sport=40000 + n % 1000, dport=6081) / g / pkt)]
    if kind == "ipip":
        return [eth(outer_ip(pkt) / ip)]
    if kind == "sit":  # IPv6 in IPv4 (the inner capture is IPv6)
        return [eth(outer_ip(pkt) / ip)]
    if kind == "mpls":  # a two-label stack
        return [Ether(src=MAC_A, dst=MAC_B, type=0x8847) / MPLS(label=1001, s=0, ttl=64) / MPLS(label=16, s=1, ttl=64) / ip]
    if kind == "pppoe":
        proto = 0x0021 if IP in pkt else 0x0057
        return [Ether(src=MAC_A, dst=MAC_B, type=0x8864) / PPPoE(sessionid=0x1234) / PPP(proto=proto) / ip]
    if kind == "qinq":  # 802.1ad outer tag 200, 802.1Q inner tag 100
        return [Ether(src=MAC_A, dst=MAC_B) / Dot1AD(vlan=200) / Dot1Q(vlan=100) / ip]
    if kind == "fragments":  # IPv4 datagrams over 256 bytes split into 256-byte fragments
        ip = pkt[IP].copy()
        ip.flags = 0
        return [Ether(src=pkt.src, dst=pkt.dst) / f for f in fragment(ip, fragsize=256)]
    raise SystemExit(f"unknown kind {kind}")


def main():
    kind, src, dst = sys.argv[1:4]
    out = PcapWriter(dst, linktype=1, sync=True)
    for n, pkt in enumerate(PcapReader(src)):
        for wrapped in wrap(kind, pkt, n):
            wrapped.time = pkt.time
            out.write(wrapped)
    out.close()


if __name__ == "__main__":
    main()
