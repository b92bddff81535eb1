"""The JA4, JA4S and JA4X fingerprints that ja4plus computes for a capture, frame by frame.

ja4plus (PyPI) is an implementation of FoxIO's JA4+ independent of tlsdiag: Python on scapy
and `cryptography`, with its own TCP reassembly and TLS parsing. Its command line prints one
fingerprint per packet and no frame numbers, so tests/fingerprints.rs runs this instead:
each packet goes through the three fingerprinters in capture order, and every fingerprint a
packet completes is printed as `frame<TAB>method<TAB>fingerprint<TAB>raw`, frames numbered
from 1 as Wireshark numbers them. Each capture's lines follow a `#<TAB>path` line, and each
capture gets fresh fingerprinters (Python and scapy start once, for all of them).

    python3 tests/ja4plus_frames.py CAPTURE...
"""

import logging
import sys

from ja4plus import JA4Fingerprinter, JA4SFingerprinter, JA4XFingerprinter
from scapy.utils import PcapReader


def fingerprint(path: str) -> None:
    methods = [
        ("ja4", JA4Fingerprinter(thread_safe=False)),
        ("ja4s", JA4SFingerprinter(thread_safe=False)),
        ("ja4x", JA4XFingerprinter(thread_safe=False)),
    ]
    with PcapReader(path) as packets:
        for frame, packet in enumerate(packets, 1):
            for name, method in methods:
                seen = len(method.fingerprints)
                method.process_packet(packet)
                for entry in method.fingerprints[seen:]:
                    raw = entry.get("raw") or ""
                    print(frame, name, entry["fingerprint"], raw, sep="\t")


def main(paths: list[str]) -> None:
    # ja4plus logs what it cannot parse; the comparison reads only what it computed.
    logging.disable(logging.CRITICAL)
    for path in paths:
        print("#", path, sep="\t")
        fingerprint(path)


if __name__ == "__main__":
    main(sys.argv[1:])
