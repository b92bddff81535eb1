#!/usr/bin/env python3
"""tlsdiag beside tshark and `cat` on the same capture files, in one run.

  benches/compare.py [--runs N] [--no-tshark] [--jobs N] [--tlsdiag-args ARGS] [--halves] FILE...
  (default files: target/bench/bulk-1024.pcap target/bench/dense.pcap, made by
   benches/make_capture.sh)

For each file, the commands run in turn, N times each (alternating, so that a slow moment of
the machine falls on all of them), each after an untimed read that puts the whole file in the
page cache:
  cat FILE > /dev/null                              the floor: reading the file
  tlsdiag analyze -q -j 1 FILE                      the whole analysis and its summary, one
                                                    thread
  tlsdiag analyze -q -j N FILE                      the same with N worker threads (default:
                                                    all cores)
  tshark -r FILE -Y '<ClientHello, ServerHello or alert>' -T fields -e ...
                                                    what the issue names; it extracts less
                                                    than tlsdiag reports
With --halves (legacy pcap over Ethernet only), two more rows measure what splitting the
work can give on this machine at best: the file is cut at the record boundary nearest its
middle into two files (derived, written to a temporary directory and deleted after), and
  tlsdiag analyze -q -j 1 HALF1 & tlsdiag analyze -q -j 1 HALF2   "halves": each half by
                                                    a process of its own, at once; nothing
                                                    merged, nothing crossing between them
  cat HALF1 & cat HALF2                             "cat halves": the floor of that
and the median of each is printed: wall and CPU seconds, peak RSS, MB/s, packets/s,
handshakes/s (ClientHellos, as tshark counts them), and the ratios to one-thread tlsdiag.
Then the whole reports of -j 1 and -j N (ndjson) are compared byte for byte; the script fails
when they differ.
Needs GNU time (/usr/bin/time) and, unless --no-tshark, tshark.
"""
import argparse
import hashlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from check_repeat import pcap_layout, record_boundary

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TSHARK_FILTER = "tls.handshake.type==1 || tls.handshake.type==2 || tls.alert_message"
TSHARK_FIELDS = ["frame.number", "tcp.stream", "tls.handshake.extensions_server_name",
                 "tls.handshake.type", "tls.alert_message.desc", "tls.handshake.ciphersuite"]


def timed(cmd, stdout=subprocess.DEVNULL):
    """Runs cmd under GNU time; returns (wall, cpu, peak RSS KiB, stdout text or None). The
    wall time is taken here, to the millisecond (GNU time gives hundredths, a 4% step at a
    quarter of a second); it includes starting GNU time, about a millisecond, for every row."""
    with tempfile.NamedTemporaryFile("r") as t:
        full = ["/usr/bin/time", "-o", t.name, "-f", "%U %S %M"] + cmd
        capture = stdout is subprocess.PIPE
        start = time.perf_counter()
        p = subprocess.run(full, stdout=stdout, stderr=subprocess.DEVNULL, text=capture)
        wall = time.perf_counter() - start
        if p.returncode not in (0, 1):
            sys.exit(f"{cmd[0]} failed with status {p.returncode}")
        user, sys_, rss = t.read().split()[-3:]
        return wall, float(user) + float(sys_), int(rss), p.stdout if capture else None


def warm(path):
    """Reads the file, untimed, so that it is all in the page cache: this VM drops pages of a
    file it has not read for a while even with most of its memory free (fincore on the 1.2 GB
    bench file: 291,791 pages resident, 276,497 two minutes later), and the runs after a
    tshark run of 20 s would otherwise read part of the file from the disk."""
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)


def split_halves(path, directory):
    """Cuts path, a legacy pcap file, at the first record boundary past its middle into two
    pcap files in directory (the second given the first's file header); returns their paths."""
    head, _ = pcap_layout(path)
    size = os.path.getsize(path)
    at = record_boundary(path, size // 2)
    halves = [os.path.join(directory, "half1.pcap"), os.path.join(directory, "half2.pcap")]
    with open(path, "rb") as f:
        for half, (start, end, prefix) in zip(halves, [(0, at, b""), (at, size, head)]):
            with open(half, "wb") as out:
                out.write(prefix)
                f.seek(start)
                left = end - start
                while left > 0:
                    chunk = f.read(min(left, 64 << 20))
                    if not chunk:
                        break
                    out.write(chunk)
                    left -= len(chunk)
    return halves


def report_digest(tlsdiag, path, jobs):
    """The SHA-256 of the whole ndjson report with -j jobs, and its line count."""
    p = subprocess.Popen([tlsdiag, "analyze", "--format", "ndjson", "-j", str(jobs), path],
                         stdout=subprocess.PIPE)
    h, lines = hashlib.sha256(), 0
    for line in p.stdout:
        h.update(line)
        lines += 1
    p.wait()
    return h.hexdigest(), lines


def count_packets(path, tlsdiag):
    out = subprocess.run([tlsdiag, "analyze", "--format", "json", "--failed", path],
                         capture_output=True, text=True).stdout
    summary = json.loads(out)["summary"]
    return summary["packets"], summary["bytes"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-tshark", action="store_true")
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="N for the -j N row")
    ap.add_argument("--tlsdiag-args", default="", help="extra arguments for both tlsdiag rows")
    ap.add_argument("--halves", action="store_true",
                    help="also time both halves of the file at once (see above)")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    files = args.files or [os.path.join(ROOT, "target/bench/bulk-1024.pcap"),
                           os.path.join(ROOT, "target/bench/dense.pcap")]
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    tlsdiag = os.path.join(ROOT, "target/release/tlsdiag")
    print(f"machine: {os.cpu_count()} cores; {args.runs} runs each, medians; file in the page cache")
    for path in files:
        with tempfile.TemporaryDirectory() as directory:
            halves = split_halves(path, directory) if args.halves else []
            compare(args, tlsdiag, path, halves)


def compare(args, tlsdiag, path, halves):
    """Times the commands on one file and prints their medians; checks -j 1 against -j N."""
    size = os.path.getsize(path)
    warm(path)
    packets, _ = count_packets(path, tlsdiag)
    tshark_cmd = ["tshark", "-r", path, "-Y", TSHARK_FILTER, "-T", "fields"]
    for f in TSHARK_FIELDS:
        tshark_cmd += ["-e", f]
    extra = args.tlsdiag_args.split()
    jn = f"-j {args.jobs}"
    commands = {
        "cat": ["cat", path],
        "tlsdiag": [tlsdiag, "analyze", "-q", "-j", "1"] + extra + [path],
        jn: [tlsdiag, "analyze", "-q", "-j", str(args.jobs)] + extra + [path],
    }
    if halves:
        both = " & ".join(shlex.join(c) + " >/dev/null" for c in
                          ([tlsdiag, "analyze", "-q", "-j", "1"] + extra + [h] for h in halves))
        commands["halves"] = ["sh", "-c", both + "; wait"]
        commands["cat halves"] = ["sh", "-c", " & ".join(
            f"cat {shlex.quote(h)} >/dev/null" for h in halves) + "; wait"]
    if not args.no_tshark:
        commands["tshark"] = tshark_cmd
    # What each command reads, to be put in the page cache before it runs.
    reads = {name: halves if name in ("halves", "cat halves") else [path] for name in commands}
    results = {name: [] for name in commands}
    hellos = None
    for _ in range(args.runs):
        for name, cmd in commands.items():
            for p in reads[name]:
                warm(p)
            if name == "tshark":
                wall, cpu, rss, out = timed(cmd, subprocess.PIPE)
                hellos = sum(1 for line in out.splitlines()
                             if "1" in line.split("\t")[3].split(","))
            else:
                wall, cpu, rss, _ = timed(cmd)
            results[name].append((wall, cpu, rss))
    print(f"\n{os.path.relpath(path)}: {size / 1e6:.0f} MB, {packets} packets"
          + (f", {hellos} ClientHellos (tshark)" if hellos is not None else ""))
    print(f"  {'':10} {'wall s':>8} {'CPU s':>8} {'peak RSS':>10} {'MB/s':>8} "
          f"{'packets/s':>11} {'hs/s':>10} {'vs -j 1':>12}")
    med = {n: tuple(statistics.median(r[i] for r in rs) for i in range(3))
           for n, rs in results.items()}
    t_wall = med["tlsdiag"][0]
    for name, (wall, cpu, rss) in med.items():
        wall = max(wall, 0.005)
        hs = f"{hellos / wall:,.0f}" if hellos and not name.startswith("cat") else ""
        ratio = "" if name == "tlsdiag" else (
            f"{wall / max(t_wall, 0.005):.1f}x faster" if name == "tshark"
            else f"{max(t_wall, 0.005) / wall:.2f}x as fast" if name in (jn, "halves")
            else f"{max(t_wall, 0.005) / wall:.2f}x slower")
        print(f"  {name:10} {wall:8.3f} {cpu:8.2f} {rss / 1024:8.1f}MB {size / 1e6 / wall:8.0f} "
              f"{packets / wall:11,.0f} {hs:>10} {ratio:>12}")

    one, lines = report_digest(tlsdiag, path, 1)
    many, _ = report_digest(tlsdiag, path, args.jobs)
    if one != many:
        sys.exit(f"  the -j {args.jobs} report differs from the -j 1 report")
    print(f"  -j 1 and -j {args.jobs}: the same report, {lines} ndjson lines, sha256 {one[:16]}")


if __name__ == "__main__":
    main()
