#!/usr/bin/env python3
"""The verdicts on a capture's first 100 MB equal those on the whole capture.

  benches/check_cut.py [WHOLE] [CUT]   (default: target/bench/bulk-1024.pcap and
                                        target/bench/bulk-100.pcap, made by make_capture.sh)

Connections are matched by client address, port and start time. Every connection whose
packets all lie in the cut (the cut is a prefix, so frame numbers agree) must have the same
outcome, code, stage, decisive frame and ended_by in both; those the cut interrupted are
counted apart.
Exits non-zero on the first difference.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def verdicts(path):
    tlsdiag = os.path.join(ROOT, "target/release/tlsdiag")
    out = subprocess.run([tlsdiag, "analyze", "--format", "ndjson", path],
                         capture_output=True, text=True).stdout
    found, packets = {}, 0
    for line in out.splitlines():
        c = json.loads(line)
        if "tcp_stream" not in c:
            packets = c.get("summary", c).get("packets", 0)
            continue
        key = (c["client"]["ip"], c["client"]["port"], c["start"])
        code = (c.get("diagnosis") or {}).get("code")
        found[key] = ((c["outcome"], code, c["stage"], c["frame"], c["ended_by"]), c["last_frame"])
    return found, packets


def main():
    whole = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/bench/bulk-1024.pcap")
    cut = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "target/bench/bulk-100.pcap")
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    (a, _), (b, cut_packets) = verdicts(whole), verdicts(cut)
    assert cut_packets > 0, "the cut file's summary gives its packets"
    compared = interrupted = 0
    for key, (v, _) in b.items():
        w, last_frame = a.get(key, (None, 0))
        if last_frame > cut_packets:
            interrupted += 1
            continue
        if w != v:
            sys.exit(f"differs: {key}: cut {v}, whole {w}")
        compared += 1
    print(f"{compared} connections judged alike in {os.path.relpath(cut)} and "
          f"{os.path.relpath(whole)}; {interrupted} interrupted by the cut; "
          f"{len(a)} in the whole file")


if __name__ == "__main__":
    main()
