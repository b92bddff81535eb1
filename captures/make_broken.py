#!/usr/bin/env python3
"""Derives damaged capture files from real ones in captures/, for the broken-file tests.

Every file here is a real capture cut, patched or padded in one stated way; nothing else in it
changes. Run from anywhere: python3 captures/make_broken.py
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "broken")


def read(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return bytearray(f.read())


def write(name, data, what):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    print(f"{name:34} {what}")


def pcap_records(data):
    """Offsets of (record header, caplen) in a little-endian pcap file."""
    offset, out = 24, []
    while offset + 16 <= len(data):
        caplen = struct.unpack("<I", data[offset + 8:offset + 12])[0]
        out.append((offset, caplen))
        offset += 16 + caplen
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    base = read("interleaved.pcap")
    records = pcap_records(base)
    cut_record, cut_len = records[40]
    write("truncated-mid-record.pcap", base[:cut_record + 16 + cut_len // 2],
          "interleaved.pcap cut in the middle of record 41")

    zero = bytearray(base[:records[2][0]])
    zero += struct.pack("<IIII", 0, 0, 0, 0)
    zero += base[records[2][0]:]
    write("zero-length-record.pcap", zero, "interleaved.pcap with an empty record inserted after frame 2")

    huge = bytearray(base)
    off = records[60][0]
    huge[off + 8:off + 12] = struct.pack("<I", 0x7FFFFFF0)
    write("record-claims-2gb.pcap", huge, "interleaved.pcap whose record 61 claims 2 GB of data")

    rng = random.Random(42)
    write("garbage-appended.pcap", base + bytes(rng.randrange(256) for _ in range(4096)),
          "interleaved.pcap followed by 4 KiB of random bytes")

    write("not-a-capture.pcap", bytearray(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n" * 20),
          "an HTTP request, not a capture")
    write("empty.pcap", bytearray(), "zero bytes")

    ng = read("tls12-dumpcap.pcapng")
    # Blocks: SHB, IDB, then EPBs; each is type(4) length(4) ... length(4).
    offset, blocks = 0, []
    while offset + 8 <= len(ng):
        btype, blen = struct.unpack("<II", ng[offset:offset + 8])
        blocks.append((offset, btype, blen))
        offset += blen
    epbs = [b for b in blocks if b[1] == 6]
    bad = bytearray(ng)
    o, _, blen = epbs[5]
    bad[o + blen - 4:o + blen] = struct.pack("<I", blen + 4)  # trailing length disagrees
    write("pcapng-bad-block-length.pcapng", bad, "tls12-dumpcap.pcapng with the 6th packet block's trailing length wrong")

    o = epbs[3][0]
    custom = struct.pack("<II", 0x0BAD, 20) + b"\x00" * 8 + struct.pack("<I", 20)
    write("pcapng-unknown-block.pcapng", ng[:o] + custom + ng[o:],
          "tls12-dumpcap.pcapng with a block of unknown type 0x0BAD before the 4th packet")


if __name__ == "__main__":
    main()
