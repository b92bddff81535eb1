#!/usr/bin/env python3
"""Memory stays flat as the file grows: tlsdiag on a capture and on one N times as long.

  benches/check_repeat.py [--copies N] [--jobs J] [FILE]
  (default: 8 copies of target/bench/bulk-1024.pcap, made by make_capture.sh: about 10 GB)

The long file is DERIVED, not recorded: FILE's packets N times over (legacy pcap over
Ethernet), each copy's timestamps moved past the end of the copy before it by an hour, and in
copy k the second byte of every IPv4 address raised by k (checksums updated as RFC 1624
says): a copy's connections are then new conversations, not stragglers of the copy before
(the clock tlsdiag ages connections by counts a jump of an hour as a minute, and the copies
share their ports and sequence numbers). It is written beside FILE as FILE-xN.pcap when
missing, and left there (delete it to save the space).

Then `tlsdiag analyze -j J --format ndjson` runs on both files under GNU time, and the script
prints each run's wall time and peak RSS, and fails unless
  - every connection of every copy has the verdict (outcome, code, stage, decisive frame,
    ended_by) its original has in FILE, its frames moved by the copy's offset, and
  - the peak RSS on the long file is within 25% (and 4 MB) of the one on FILE.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHUNK = 64 << 20
HOUR = 3600


def pcap_layout(path):
    """The header of a legacy pcap file over Ethernet, and its byte order."""
    with open(path, "rb") as f:
        head = f.read(24)
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        sys.exit(f"{path}: not a legacy pcap file")
    if struct.unpack_from(order + "I", head, 20)[0] != 1:
        sys.exit(f"{path}: not Ethernet (link type 1)")
    return head, order


def record_boundary(path, at):
    """The offset of the first record boundary of a legacy pcap file at or past `at` (or of
    its end): where it can be cut into whole records."""
    head, order = pcap_layout(path)
    with open(path, "rb") as f:
        pos = len(head)
        while pos < at:
            f.seek(pos)
            record = f.read(16)
            if len(record) < 16:
                break
            pos += 16 + struct.unpack_from(order + "I", record, 8)[0]
    return pos


def ones_add(a, b):
    s = a + b
    return (s & 0xFFFF) + (s >> 16)


def checksum_update(buf, at, old, new):
    """RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m'), for each 16-bit word m changed to m'."""
    hc = int.from_bytes(buf[at:at + 2], "big") ^ 0xFFFF
    for m, m2 in zip(old, new):
        hc = ones_add(ones_add(hc, m ^ 0xFFFF), m2)
    buf[at:at + 2] = (hc ^ 0xFFFF).to_bytes(2, "big")


def move_addresses(buf, frame, end, k):
    """Raises the second byte of both IPv4 addresses of an Ethernet frame by k."""
    ip = frame + 14
    if k == 0 or ip + 20 > end or buf[frame + 12:frame + 14] != b"\x08\x00" or buf[ip] >> 4 != 4:
        return
    words = [ip + 12, ip + 16]
    old = [int.from_bytes(buf[w:w + 2], "big") for w in words]
    for w in words:
        buf[w + 1] = (buf[w + 1] + k) & 0xFF
    new = [int.from_bytes(buf[w:w + 2], "big") for w in words]
    checksum_update(buf, ip + 10, old, new)
    # TCP's checksum covers the addresses too (its pseudo-header); a fragment's may not be here.
    tcp = ip + (buf[ip] & 0x0F) * 4
    if buf[ip + 9] == 6 and tcp + 18 <= end:
        checksum_update(buf, tcp + 16, old, new)


def copy_records(f, order, w, shift, k):
    """Writes the records after the file header to `w`, `shift` seconds later and with their
    addresses moved by `k`. Returns the first and last timestamps read (seconds)."""
    first = last = None
    rest = b""
    while True:
        data = f.read(CHUNK)
        if not data:
            break
        buf = bytearray(rest + data)
        pos = 0
        while pos + 16 <= len(buf):
            ts_sec, _, incl, _ = struct.unpack_from(order + "IIII", buf, pos)
            if pos + 16 + incl > len(buf):
                break
            first = ts_sec if first is None else first
            last = ts_sec
            struct.pack_into(order + "I", buf, pos, ts_sec + shift)
            move_addresses(buf, pos + 16, pos + 16 + incl, k)
            pos += 16 + incl
        w.write(memoryview(buf)[:pos])
        rest = bytes(buf[pos:])
    if rest:
        sys.exit("the file ends inside a record")
    return first, last


def make_long(path, copies, out):
    head, order = pcap_layout(path)
    period = None
    with open(out + ".part", "wb") as w:
        w.write(head)
        for k in range(copies):
            with open(path, "rb") as f:
                f.seek(24)
                # Copy 0 is the file as it is; reading it gives the span the others move by.
                first, last = copy_records(f, order, w, k * (period or 0), k)
            if first is None:
                sys.exit(f"{path}: no packets")
            period = period or last - first + HOUR
    os.rename(out + ".part", out)


def run(tlsdiag, path, jobs):
    """Runs tlsdiag on path; returns (wall s, peak RSS KiB, verdicts by (client port, first
    frame), packets)."""
    with tempfile.NamedTemporaryFile("r") as t, tempfile.TemporaryFile("w+") as out:
        cmd = ["/usr/bin/time", "-o", t.name, "-f", "%e %M", tlsdiag, "analyze", "-j",
               str(jobs), "--format", "ndjson", path]
        p = subprocess.run(cmd, stdout=out, stderr=subprocess.DEVNULL)
        if p.returncode not in (0, 1):
            sys.exit(f"tlsdiag failed on {path} with status {p.returncode}")
        wall, rss = t.read().split()[-2:]
        out.seek(0)
        found, packets = {}, 0
        for line in out:
            c = json.loads(line)
            if "tcp_stream" not in c:
                packets = c.get("summary", c).get("packets", 0)
                continue
            code = (c.get("diagnosis") or {}).get("code")
            key = (c["client"]["port"], c["first_frame"])
            found[key] = (c["outcome"], code, c["stage"], c["frame"], c["ended_by"])
    return float(wall), int(rss), found, packets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("file", nargs="?", default=os.path.join(ROOT, "target/bench/bulk-1024.pcap"))
    args = ap.parse_args()
    base, _ = os.path.splitext(args.file)
    long_path = f"{base}-x{args.copies}.pcap"
    if not os.path.exists(long_path):
        print(f"writing {os.path.relpath(long_path)} ({args.copies} re-timed copies)", flush=True)
        make_long(args.file, args.copies, long_path)
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    tlsdiag = os.path.join(ROOT, "target/release/tlsdiag")
    results = []
    for path in (args.file, long_path):
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)
        wall, rss, found, packets = run(tlsdiag, path, args.jobs)
        size = os.path.getsize(path) / 1e6
        print(f"{os.path.relpath(path)}: {size:,.0f} MB, {packets:,} packets, "
              f"{len(found):,} connections: {wall:.2f} s, peak RSS {rss / 1024:.1f} MB "
              f"(-j {args.jobs})", flush=True)
        results.append((rss, found, packets))
    (rss1, one, p1), (rssn, many, pn) = results
    if pn != p1 * args.copies:
        sys.exit(f"{pn} packets in the long file, not {args.copies} x {p1}")
    if len(many) != len(one) * args.copies:
        sys.exit(f"{len(many)} connections in the long file, not {args.copies} x {len(one)}")
    for (port, first), verdict in many.items():
        k = (first - 1) // p1
        outcome, code, stage, frame, ended_by = verdict
        moved = (outcome, code, stage, frame - k * p1 if frame else frame, ended_by)
        if one.get((port, first - k * p1)) != moved:
            sys.exit(f"copy {k}: client port {port}, first frame {first}: {verdict}, "
                     f"but {one.get((port, first - k * p1))} in the original")
    if rssn > rss1 * 1.25 and rssn - rss1 > 4096:
        sys.exit(f"peak RSS grew with the file: {rss1} KiB -> {rssn} KiB")
    print(f"every connection of the {args.copies} copies judged as in the original; "
          f"peak RSS {rss1 / 1024:.1f} MB -> {rssn / 1024:.1f} MB")


if __name__ == "__main__":
    main()
