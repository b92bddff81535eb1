#!/usr/bin/env bash
# Records the benchmark captures from real TLS stacks (Python's ssl and openssl s_server, that
# is OpenSSL), between the root namespace and a network namespace of our own joined by a veth
# pair with MTU 1500 and offloads off, so that packets have the sizes of a real network.
#
# Traffic: short connections in a weighted mix (TLS 1.3 and 1.2 successes, resumption of
# both, mutual TLS, HelloRetryRequest; unknown CA, expired certificate, name mismatch, version
# mismatch, missing client certificate, refused, plaintext server), from two client processes
# for SECS seconds, beside four long connections downloading bulk data paced over the same
# time, so that bulk data is most of the bytes.
#
# Writes, in target/bench/ (never committed):
#   bulk-MB.pcap    the whole recording, about MB megabytes
#   bulk-100.pcap   its first 100 MB, cut by this script (record by record) from the same file
#   dense.pcap      the same recording without the bulk connections: short connections only
#
#   benches/make_capture.sh [MB] [SECS]     (default 1024 MB over 60 s; needs root, openssl,
#                                            python3, tcpdump, ethtool, faketime, iproute2)
#
# TLSDIAG_BENCH_OUT=DIR writes there instead; TLSDIAG_BENCH_KEYS=1 also writes the clients' key
# log, DIR/bench.keys, which covers every connection (for the figures with --keylog).
# TLSDIAG_BENCH_SUITES=sha256 has every TLS endpoint negotiate AES-128-GCM with SHA-256, as
# browsers do (Python's OpenSSL picks AES-256-GCM with SHA-384 otherwise): the suite's hash is
# most of what decrypting costs.
set -euo pipefail
mb=${1:-1024}
secs=${2:-60}
here=$(cd "$(dirname "$0")/.." && pwd)
out=${TLSDIAG_BENCH_OUT:-$here/target/bench}
work=$(mktemp -d /tmp/tlsdiag-bench.XXXXXX)
ns=tlsdiag-bench
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del $ns 2>/dev/null || true
  ip link del tlsb0 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for tool in openssl python3 tcpdump ethtool faketime ip; do
  command -v $tool >/dev/null || { echo "make_capture.sh: $tool is missing" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "make_capture.sh: run as root (namespaces, capture)" >&2; exit 1; }
mkdir -p "$out"
# Absolute: the script and its clients work from other folders than the caller's.
out=$(cd "$out" && pwd)
if [ "${TLSDIAG_BENCH_KEYS:-}" = 1 ]; then
  export TLSDIAG_BENCH_KEYLOG=$out/bench.keys
  rm -f "$TLSDIAG_BENCH_KEYLOG"
fi

if [ "${TLSDIAG_BENCH_SUITES:-}" = sha256 ]; then
  # TLS 1.3's suites through OpenSSL's configuration (Python cannot set them); traffic.py sets
  # TLS 1.2's.
  printf '%s\n' 'openssl_conf = openssl_init' '[openssl_init]' 'ssl_conf = ssl_sect' '[ssl_sect]' \
    'system_default = tlsdiag_sha256' '[tlsdiag_sha256]' \
    'Ciphersuites = TLS_AES_128_GCM_SHA256' > "$work/sha256.cnf"
  export OPENSSL_CONF=$work/sha256.cnf
fi

# --- keys: a CA, an intermediate, a server leaf, an expired leaf, a client, an unrelated CA.
cd "$work"
ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "$@" 2>/dev/null; }
ec -x509 -keyout ca.key -out ca.pem -days 30 -subj "/CN=tlsdiag bench CA" \
  -addext basicConstraints=critical,CA:TRUE
ec -x509 -keyout other.key -out other.pem -days 30 -subj "/CN=Some Other CA"
ec -keyout int.key -out int.csr -subj "/CN=tlsdiag bench intermediate"
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\n' > int.ext
openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out int.pem -days 30 \
  -extfile int.ext 2>/dev/null
printf 'subjectAltName=DNS:server.test\n' > leaf.ext
sign() { # name subject faketime-offset days
  ec -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
  faketime -f "$3" openssl x509 -req -in "$1.csr" -CA int.pem -CAkey int.key -CAcreateserial \
    -out "$1.pem" -days "$4" -extfile leaf.ext 2>/dev/null
  cat "$1.pem" int.pem > "$1.chain.pem"
}
sign leaf server.test +0d 30
sign expired server.test -400d 30
sign client bench-client +0d 30

# --- two hosts: the server in $ns (10.77.0.2), the clients in the root namespace (10.77.0.1).
ip netns del $ns 2>/dev/null || true
ip link del tlsb0 2>/dev/null || true
ip netns add $ns
ip link add tlsb0 type veth peer name tlsb1
ip link set tlsb1 netns $ns
ip addr add 10.77.0.1/24 dev tlsb0
ip netns exec $ns ip addr add 10.77.0.2/24 dev tlsb1
ip link set tlsb0 mtu 1500 up
ip -n $ns link set tlsb1 mtu 1500 up
ip netns exec $ns ip link set lo up
ethtool -K tlsb0 tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec $ns ethtool -K tlsb1 tso off gso off gro off >/dev/null 2>&1 || true

ip netns exec $ns python3 "$here/benches/traffic.py" server "$work" & pids+=($!)
ip netns exec $ns openssl s_server -accept 8448 -tls1_3 -groups P-256 -www -quiet \
  -cert leaf.pem -cert_chain int.pem -key leaf.key >/dev/null 2>&1 & pids+=($!)
sleep 2

file=$out/bulk-$mb.pcap
tcpdump -q -i tlsb0 -B 262144 -s 0 -w "$file" 'tcp or icmp' 2>"$work/tcpdump.err" & tcpdump=$!
sleep 1
for i in 1 2 3 4; do
  python3 "$here/benches/traffic.py" bulk "$work" 10.77.0.2 $((mb / 4)) "$secs" & pids+=($!)
done
python3 "$here/benches/traffic.py" clients "$work" 10.77.0.2 "$secs" 2
wait "${pids[@]: -4}" 2>/dev/null || true
sleep 1
kill -INT $tcpdump; wait $tcpdump 2>/dev/null || true
cat "$work/tcpdump.err" | grep -E 'captured|dropped' || true

tcpdump -r "$file" -w "$out/dense.pcap" 'not port 8450' 2>/dev/null
# The first 100 MB of the same recording, whole records only.
cut=$(cd "$here/benches" && python3 -c 'import sys; from check_repeat import record_boundary
print(record_boundary(sys.argv[1], 100 << 20))' "$file")
head -c "$cut" "$file" > "$out/bulk-100.pcap"
ls -l "$file" "$out/bulk-100.pcap" "$out/dense.pcap"
