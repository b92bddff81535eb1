#!/usr/bin/env python3
"""Derives the capture of a middlebox that altered a TLS 1.2 handshake: a DERIVED capture, not a
recording.

One byte of the server's Certificate message, which TLS 1.2 sends in the clear, is changed: the
last byte of the first certificate (inside its signatureValue) has its low bit flipped. The
hellos, their randoms and every encrypted record are as captured, so the key log of the real
connection still decrypts it, but the handshake transcript is no longer the one both peers
hashed: the verify_data of both Finished messages no longer matches what the captured messages
give. The IP and TCP checksums of the changed packet are recomputed (the others are left as
captured: loopback captures carry unverified TCP checksums); no length moves.

usage: alter_handshake.py IN.pcap OUT.pcap [SERVER_PORT]     (443 if not given)
"""
import struct
import sys

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

HANDSHAKE, CERTIFICATE = 22, 11


def certificate_byte(payload):
    """Offset in a segment of the last byte of the first certificate of a Certificate message,
    or None. The segment must begin at a record boundary (the server's flight does)."""
    at = 0
    while at + 5 <= len(payload):
        kind = payload[at]
        length = struct.unpack(">H", payload[at + 3:at + 5])[0]
        body, end = at + 5, at + 5 + length
        if end > len(payload):
            return None
        if kind == HANDSHAKE:
            msg = body
            while msg + 4 <= end:
                msg_type = payload[msg]
                msg_len = int.from_bytes(payload[msg + 1:msg + 4], "big")
                if msg_type == CERTIFICATE:
                    first = msg + 4 + 3  # past the certificate_list length
                    cert_len = int.from_bytes(payload[first:first + 3], "big")
                    return first + 3 + cert_len - 1
                msg += 4 + msg_len
        at = end
    return None


def main():
    src, dst = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 443
    data = bytearray(open(src, "rb").read())
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    if struct.unpack(endian + "I", data[20:24])[0] != 1:
        sys.exit("alter_handshake: only Ethernet pcap files")
    offset, number = 24, 0
    while offset + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        body = offset + 16
        number += 1
        offset = body + caplen
        pkt = Ether(bytes(data[body:body + caplen]))
        if TCP not in pkt or pkt[TCP].sport != port:
            continue
        payload = bytearray(bytes(pkt[TCP].payload))
        at = certificate_byte(payload)
        if at is None:
            continue
        payload[at] ^= 0x01
        pkt[TCP].remove_payload()
        pkt[TCP].add_payload(bytes(payload))
        del pkt[IP].chksum
        del pkt[TCP].chksum
        altered = bytes(pkt)
        if len(altered) != caplen:
            sys.exit("alter_handshake: the rebuilt packet changed length")
        # Everything else, the file header and every other packet, is copied byte for byte.
        data[body:body + caplen] = altered
        open(dst, "wb").write(data)
        print(f"alter_handshake: frame {number}, TCP payload byte {at}: "
              f"{payload[at] ^ 0x01:#04x} -> {payload[at]:#04x}")
        return
    sys.exit("alter_handshake: no cleartext Certificate message from the server")


if __name__ == "__main__":
    main()
