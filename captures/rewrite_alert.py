#!/usr/bin/env python3
"""Derives a capture from a real one by changing one cleartext alert's description byte.

usage: rewrite_alert.py IN.pcap OUT.pcap FRAME NEW_CODE

Used for the generic `alert` class: no TLS stack installed here ends a handshake with a fatal
alert outside the other classes, so the real protocol_version alert of protocol-version.pcap
is relabelled. Only that byte changes (the TCP checksum is left as captured: loopback captures
carry unverified checksums anyway).
"""
import struct
import sys


def main():
    src, dst, frame, code = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    data = bytearray(open(src, "rb").read())
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    offset, number = 24, 0
    while offset + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        number += 1
        body = offset + 16
        if number == frame:
            packet = bytes(data[body:body + caplen])
            at = packet.find(b"\x15\x03\x03\x00\x02\x02")
            if at < 0:
                sys.exit(f"frame {frame} holds no cleartext fatal alert")
            data[body + at + 6] = code
            open(dst, "wb").write(data)
            return
        offset = body + caplen
    sys.exit(f"no frame {frame}")


if __name__ == "__main__":
    main()
