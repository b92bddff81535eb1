#!/usr/bin/env python3
"""Derives a TLS 1.3 draft handshake (draft 18 by default) from a real TLS 1.3 one: a DERIVED capture, not a
recording. No stack installed here speaks a TLS 1.3 draft (OpenSSL and GnuTLS dropped them;
scapy's draft-18 client option fails before it sends anything), so the real handshake of
tls13-sni-alpn.pcap is rewritten into the form drafts before 22 had on the wire:

- the ClientHello's supported_versions offers the draft (0x7f12 for draft 18) instead of
  0x0304;
- the ServerHello's version field is the draft's, and it has no legacy_session_id_echo, no
  legacy_compression_method and no supported_versions extension (its lengths fixed);
- the ChangeCipherSpec records are removed (draft 22 brought in the compatibility mode).

Everything else (random, cipher suite, key share, the encrypted records) is as captured.
TCP sequence and acknowledgement numbers after each change are shifted by the bytes removed,
and IP lengths and checksums recomputed.

usage: rewrite_tls13_draft.py IN.pcap OUT.pcap [DRAFT]     (DRAFT from 14 to 21; 18 if not given)
"""
import struct
import sys

from scapy.layers.inet import IP, TCP
from scapy.packet import Raw
from scapy.utils import rdpcap, wrpcap

DRAFT = 0x7F12
SUPPORTED_VERSIONS = 43
HANDSHAKE, CHANGE_CIPHER_SPEC = 22, 20


def records(data):
    """(content_type, header+body) of each whole record in a segment."""
    out, at = [], 0
    while at + 5 <= len(data):
        length = struct.unpack(">H", data[at + 3:at + 5])[0]
        out.append((data[at], data[at:at + 5 + length]))
        at += 5 + length
    if at != len(data):
        sys.exit("a segment does not hold whole records")
    return out


def extensions(raw):
    out, at = [], 0
    while at + 4 <= len(raw):
        kind, length = struct.unpack(">HH", raw[at:at + 4])
        out.append((kind, raw[at:at + 4 + length]))
        at += 4 + length
    return out


def client_hello(record):
    """supported_versions' 0x0304 becomes 0x7f12: same length, nothing else moves."""
    body = bytearray(record)
    at = 5 + 4 + 2 + 32
    at += 1 + body[at]  # session id
    at += 2 + struct.unpack(">H", body[at:at + 2])[0]  # cipher suites
    at += 1 + body[at]  # compression methods
    end = at + 2 + struct.unpack(">H", body[at:at + 2])[0]
    at += 2
    while at < end:
        kind, length = struct.unpack(">HH", body[at:at + 4])
        if kind == SUPPORTED_VERSIONS:
            versions = body[at + 5:at + 4 + length]
            i = bytes(versions).find(b"\x03\x04")
            body[at + 5 + i:at + 7 + i] = struct.pack(">H", DRAFT)
        at += 4 + length
    return bytes(body)


def server_hello(record):
    body = record[9:]
    random = body[2:34]
    at = 34
    at += 1 + body[at]  # legacy_session_id_echo
    cipher = body[at:at + 2]
    at += 3  # cipher suite, legacy_compression_method
    ext_len = struct.unpack(">H", body[at:at + 2])[0]
    kept = b"".join(e for kind, e in extensions(body[at + 2:at + 2 + ext_len])
                    if kind != SUPPORTED_VERSIONS)
    new = struct.pack(">H", DRAFT) + random + cipher + struct.pack(">H", len(kept)) + kept
    message = bytes([2]) + struct.pack(">I", len(new))[1:] + new
    return record[:3] + struct.pack(">H", len(message)) + message


def rewrite(payload):
    out = b""
    for content_type, record in records(payload):
        if content_type == CHANGE_CIPHER_SPEC:
            continue
        if content_type == HANDSHAKE and record[5] == 1:
            record = client_hello(record)
        elif content_type == HANDSHAKE and record[5] == 2:
            record = server_hello(record)
        out += record
    return out


def main():
    global DRAFT
    src, dst = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 3:
        if not 14 <= int(sys.argv[3]) <= 21:
            sys.exit("drafts 22 and later keep the version in supported_versions: not this form")
        DRAFT = 0x7F00 + int(sys.argv[3])
    packets = rdpcap(src)
    # Bytes removed so far from each direction (keyed by sender port), applied to the sender's
    # later sequence numbers and to the peer's later acknowledgements.
    removed = {}
    for pkt in packets:
        tcp = pkt[TCP]
        sender, receiver = tcp.sport, tcp.dport
        payload = bytes(tcp.payload)
        tcp.seq = (tcp.seq - removed.get(sender, 0)) % 2**32
        if tcp.flags.A:
            tcp.ack = (tcp.ack - removed.get(receiver, 0)) % 2**32
        if payload and payload[0] in (HANDSHAKE, CHANGE_CIPHER_SPEC):
            new = rewrite(payload)
            removed[sender] = removed.get(sender, 0) + len(payload) - len(new)
            tcp.remove_payload()
            tcp.add_payload(Raw(new))
        del pkt[IP].len
        del pkt[IP].chksum
        del tcp.chksum
        pkt.wirelen = None  # the length on the wire is that of the rewritten packet
    wrpcap(dst, packets, linktype=packets.linktype if hasattr(packets, "linktype") else None)


if __name__ == "__main__":
    main()
