#!/usr/bin/env bash
# Live capture's memory with many connections: `tlsdiag live` on loopback (release build,
# feature live) while Python's ssl client opens and closes CONNS TLS connections (default
# 10,000) to openssl s_server, one in ten rejecting the server's certificate (so that
# --save-failures writes files). Prints tlsdiag's peak RSS, its summary and the kernel's drops.
# Needs root, openssl, python3, GNU time, libpcap-dev.
#
#   benches/live.sh [CONNS]
set -euo pipefail
conns=${1:-10000}
port=44321
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/tlsdiag-live.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
(cd "$here" && cargo build --release -q --features live)
cd "$work"
for name in server other; do
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$name.test" \
    -keyout $name.key -out $name.pem 2>/dev/null
done
openssl s_server -accept $port -cert server.pem -key server.key -naccept 1000000 -quiet \
  </dev/null >/dev/null 2>&1 &
pids+=($!)
sleep 1
/usr/bin/time -f "tlsdiag live: %e s wall, %U s user, %S s system, peak RSS %M KiB" \
  "$here/target/release/tlsdiag" live -i lo -f "tcp port $port" --port $port -q \
  --save-failures "$work/failed" >"$work/summary.txt" 2>"$work/stderr.txt" &
pids+=($!)
live=$!
sleep 2
start=$(date +%s.%N)
python3 - "$port" "$conns" <<'PY'
import socket, ssl, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
trusting = ssl.create_default_context(cafile="server.pem")
trusting.check_hostname = False
rejecting = ssl.create_default_context(cafile="other.pem")
for i in range(n):
    ctx = rejecting if i % 10 == 9 else trusting
    try:
        with socket.create_connection(("127.0.0.1", port)) as s:
            with ctx.wrap_socket(s, server_hostname="server.test"):
                pass
    except ssl.SSLError:
        pass
PY
end=$(date +%s.%N)
sleep 2
pkill -TERM -P $live  # tlsdiag, the child of GNU time
wait $live || true
echo "$conns connections in $(echo "$end - $start" | bc) s"
grep -E "connections|diagnoses|capture|dropped" "$work/summary.txt" | sed 's/^ */  /'
grep -E "tlsdiag live:|saved" "$work/stderr.txt"
