#!/usr/bin/env bash
# Live capture at a busy server's packet rate: the first PACKETS packets of the bench capture
# (default 200,000), replayed by tcpreplay --topspeed onto a veth pair and captured on its far
# end inside a network namespace of our own, alternately by `tcpdump -w /dev/null` and by
# `tlsdiag live --format ndjson`, RUNS times each (default 3). Prints each run's replay rate
# and kernel drops, and compares the verdicts of each tlsdiag run without drops with
# `tlsdiag analyze` on the same packets (tcp.stream, outcome and code of every connection).
#
# Needs root; installs what it uses when missing (tcpreplay, tcpdump, tshark for editcap,
# libpcap-dev, and for benches/make_capture.sh, which records the bench capture when
# target/bench has none: openssl, ethtool, faketime, iproute2).
#
#   benches/live_rate.sh [PACKETS] [RUNS]
# TLSDIAG=path/to/tlsdiag measures another build (e.g. an older one) instead of this tree's.
set -euo pipefail
packets=${1:-200000}
runs=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/tlsdiag-rate.XXXXXX)
ns=tlsdiag-rate
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del $ns 2>/dev/null || true
  ip link del tlsdiag-rate0 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] || { echo "live_rate.sh: run as root (namespaces, capture)" >&2; exit 1; }

need=()
for pair in tcpreplay:tcpreplay tcpdump:tcpdump editcap:tshark openssl:openssl ethtool:ethtool \
  faketime:faketime ip:iproute2 python3:python3; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
dpkg -s libpcap-dev >/dev/null 2>&1 || need+=(libpcap-dev)
if ((${#need[@]})); then
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

bench=$(ls -S "$here"/target/bench/bulk-[0-9]*.pcap 2>/dev/null | head -1 || true)
if [ -z "$bench" ]; then
  "$here/benches/make_capture.sh" 300 20
  bench=$(ls -S "$here"/target/bench/bulk-[0-9]*.pcap | head -1)
fi
editcap -r "$bench" "$work/cut.pcap" "1-$packets"
if [ -z "${TLSDIAG:-}" ]; then
  (cd "$here" && cargo build --release -q --features live)
fi
tlsdiag=${TLSDIAG:-$here/target/release/tlsdiag}
"$tlsdiag" analyze --format ndjson "$work/cut.pcap" >"$work/file.ndjson"

ip netns del $ns 2>/dev/null || true
ip netns add $ns
ip link add tlsdiag-rate0 type veth peer name tlsdiag-rate1 netns $ns
ip link set tlsdiag-rate0 up
ip -n $ns link set lo up
ip -n $ns link set tlsdiag-rate1 up

# The verdicts of an ndjson report: tcp.stream, outcome and code, one line each.
verdicts() {
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    c = json.loads(line)
    if "summary" not in c:
        print(c["tcp_stream"], c["outcome"], (c.get("diagnosis") or {}).get("code", "-"))
' "$1" | sort -n
}
verdicts "$work/file.ndjson" >"$work/file.verdicts"

# Replays the cut while CAPTURE runs in the namespace; prints the replay's packets per second.
replay() {
  sleep 2
  tcpreplay --topspeed -i tlsdiag-rate0 "$work/cut.pcap" 2>&1 |
    sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p'
  sleep 2
}

printf '%-8s %4s %12s %10s %8s  %s\n' tool run "replay pps" received dropped verdicts
for run in $(seq "$runs"); do
  ip netns exec $ns tcpdump -i tlsdiag-rate1 -s 0 -w /dev/null 2>"$work/tcpdump.err" &
  pid=$!; pids+=($pid)
  pps=$(replay)
  kill -INT $pid; wait $pid || true
  received=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$work/tcpdump.err")
  dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/tcpdump.err")
  printf '%-8s %4s %12s %10s %8s\n' tcpdump "$run" "$pps" "$received" "$dropped"

  ip netns exec $ns "$tlsdiag" live -i tlsdiag-rate1 --format ndjson \
    >"$work/live.ndjson" 2>"$work/live.err" &
  pid=$!; pids+=($pid)
  pps=$(replay)
  kill -INT $pid; wait $pid || true
  read -r received dropped < <(python3 -c '
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])["summary"]["capture"]
print(s["received"], s["dropped_by_kernel"] + s["dropped_by_interface"])
' "$work/live.ndjson")
  verdicts "$work/live.ndjson" >"$work/live.verdicts"
  if [ "$dropped" -gt 0 ]; then
    same="not compared (drops)"
  elif cmp -s "$work/file.verdicts" "$work/live.verdicts"; then
    same="same as analyze ($(wc -l <"$work/file.verdicts") connections)"
  else
    same="DIFFER from analyze: $(diff "$work/file.verdicts" "$work/live.verdicts" | grep -c '^[<>]') lines"
    diff "$work/file.verdicts" "$work/live.verdicts" | head -10 >&2 || true
  fi
  printf '%-8s %4s %12s %10s %8s  %s\n' tlsdiag "$run" "$pps" "$received" "$dropped" "$same"
done

# With a ring too small for the rate (-B 1M), drops happen: the verdicts they may explain say so.
ip netns exec $ns "$tlsdiag" live -i tlsdiag-rate1 -B 1M --format ndjson \
  >"$work/live.ndjson" 2>"$work/live.err" &
pid=$!; pids+=($pid)
pps=$(replay)
kill -INT $pid; wait $pid || true
python3 - "$work/live.ndjson" "$pps" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
s = lines[-1]["summary"]["capture"]
conns = lines[:-1]
told = [c for c in conns if any("the kernel dropped" in e["fact"]
                                for e in (c.get("diagnosis") or {}).get("evidence", []))]
print(f"tlsdiag -B 1M: replay {sys.argv[2]} pps, {s['received']} received, "
      f"{s['dropped_by_kernel'] + s['dropped_by_interface']} dropped; "
      f"{len(told)} of {len(conns)} connections' evidence names the drops in their window")
PY
