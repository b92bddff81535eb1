#!/usr/bin/env bash
# Records a bulk-heavy capture of real TLS traffic on loopback (curl downloading from
# `openssl s_server -WWW`, plus short connections) and prints tlsdiag's wall time and peak
# RSS on it, beside `cat` of the same file. The capture is made on demand, never committed.
#
#   benches/memory.sh [MB]        (default 100; needs root, openssl, curl, tcpdump, GNU time)
set -euo pipefail
mb=${1:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/tlsdiag-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=9443
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -subj /CN=bench.test -days 2 2>/dev/null
head -c $((mb * 1024 * 1024)) /dev/urandom > bulk.bin
tcpdump -q -i lo -B 262144 --immediate-mode -U -s 0 -w bulk.pcap "tcp port $port" 2>/dev/null &
tcpdump_pid=$!
sleep 1
openssl s_server -accept $port -WWW -cert c.pem -key k.pem -quiet >/dev/null 2>&1 &
server_pid=$!
sleep 0.5
curl -sk "https://127.0.0.1:$port/bulk.bin" -o /dev/null
for _ in $(seq 50); do curl -sk "https://127.0.0.1:$port/c.pem" -o /dev/null; done
kill $server_pid; sleep 1; kill -INT $tcpdump_pid; wait $tcpdump_pid 2>/dev/null || true
size=$(stat -c %s bulk.pcap)
(cd "$here" && cargo build --release -q)
cat bulk.pcap > /dev/null
echo "capture: $((size / 1024 / 1024)) MiB, $(capinfos -c -M bulk.pcap 2>/dev/null | awk '/Number of packets/ {print $4}') packets"
/usr/bin/time -f "cat:     %e s wall, peak RSS %M KiB" cat bulk.pcap > /dev/null
/usr/bin/time -f "tlsdiag: %e s wall, peak RSS %M KiB" "$here/target/release/tlsdiag" analyze -q --port $port bulk.pcap | sed -n 2,3p
