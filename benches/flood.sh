#!/usr/bin/env bash
# A SYN flood from random spoofed sources (hping3), recorded between two network namespaces of
# our own, then tlsdiag's wall time and peak RSS on it at two table sizes. Made on demand, never
# committed. Needs root, hping3, tcpdump, GNU time.
#
#   benches/flood.sh [SYNS]          (default 200000)
set -euo pipefail
syns=${1:-200000}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/tlsdiag-flood.XXXXXX)
cleanup() { ip netns del tlsdiag-fc 2>/dev/null || true; ip netns del tlsdiag-fs 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cleanup; mkdir -p "$work"
ip netns add tlsdiag-fc; ip netns add tlsdiag-fs
ip link add tlsdiag-f0 netns tlsdiag-fc type veth peer name tlsdiag-f1 netns tlsdiag-fs
ip -n tlsdiag-fc addr add 198.18.5.1/24 dev tlsdiag-f0
ip -n tlsdiag-fs addr add 198.18.5.2/24 dev tlsdiag-f1
ip -n tlsdiag-fc link set tlsdiag-f0 up; ip -n tlsdiag-fs link set tlsdiag-f1 up
ip netns exec tlsdiag-fs tcpdump -q -i tlsdiag-f1 -B 262144 --immediate-mode -U -s 0 -w "$work/flood.pcap" \
  -c "$syns" 'tcp port 443' 2>/dev/null &
capture=$!
sleep 1
ip netns exec tlsdiag-fc timeout 120 hping3 -q -S -p 443 --rand-source -i u5 -c "$syns" 198.18.5.2 >/dev/null 2>&1 || true
sleep 2; kill -INT $capture 2>/dev/null || true; wait $capture 2>/dev/null || true
(cd "$here" && cargo build --release -q)
echo "capture: $(stat -c %s "$work/flood.pcap") bytes"
for jobs in 1 2; do
  for max in 100000 10000; do
    /usr/bin/time -f "-j $jobs --max-connections $max: %e s wall, peak RSS %M KiB" \
      "$here/target/release/tlsdiag" analyze -q -j $jobs --max-connections $max "$work/flood.pcap" | grep -E "connections  |judged early"
  done
done
