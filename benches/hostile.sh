#!/usr/bin/env bash
# Peak memory on hostile input, derived from the bundled real captures by
# examples/hostile_capture.rs (the generators tests/hostile.rs runs at smaller sizes):
#   - a SYN flood of SYNS spoofed 4-tuples (default 1,000,000) at two connection-table sizes;
#   - one connection whose client sends BYTES of garbage before its ClientHello (default
#     1 GiB), piped into tlsdiag so that the file never exists.
# Needs GNU time. Prints wall time and peak RSS for each.
#
#   benches/hostile.sh [SYNS] [BYTES]
set -euo pipefail
syns=${1:-1000000}
bytes=${2:-1073741824}
cd "$(dirname "$0")/.."
cargo build --release -q --example hostile_capture
cargo build --release -q
work=$(mktemp -d /tmp/tlsdiag-hostile.XXXXXX)
trap 'rm -rf "$work"' EXIT
./target/release/examples/hostile_capture flood "$syns" >"$work/flood.pcap"
echo "SYN flood: $syns SYNs, $(stat -c %s "$work/flood.pcap") bytes"
for max in 100000 10000; do
    /usr/bin/time -f "  --max-connections $max: %e s wall, peak RSS %M KiB" \
        ./target/release/tlsdiag analyze -q --max-connections "$max" "$work/flood.pcap" |
        grep -E "judged early" | sed 's/^ */  /'
done
echo "garbage before a ClientHello: $bytes bytes, piped"
./target/release/examples/hostile_capture garbage "$bytes" |
    /usr/bin/time -f "  tlsdiag: %e s wall, peak RSS %M KiB" ./target/release/tlsdiag analyze -q - |
    grep -E "packets" | sed 's/^ */  /'
