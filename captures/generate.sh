#!/usr/bin/env bash
# Records the bundled captures: real TLS servers and clients (OpenSSL, GnuTLS) talking on
# loopback, recorded by tcpdump (pcap) or dumpcap (pcapng). Nothing here writes a packet by hand.
#
# Needs root (port 443, capture on lo) and: openssl, gnutls-bin (gnutls-serv, gnutls-cli),
# tcpdump, dumpcap, tshark, editcap and capinfos (tshark), iproute2 (ss, ip netns), nftables, iptables, curl,
# python3 (with scapy and cryptography from PyPI, for rewrap.py, sslv2_peers.py and
# rewrite_tls13_draft.py), faketime, tcprewrite.
#   apt-get install openssl gnutls-bin tcpdump tshark iproute2 nftables iptables curl python3 faketime tcpreplay
#   pip install scapy cryptography
# The key log captures (keylog/, the `keylogs` list) also run other clients; each scenario skips
# a client whose tool is missing, with a message: chromium (keylog_chromium), node and a JDK
# (javac, java) (keylog_other_clients); alter_handshake.py needs scapy too.
#   apt-get install chromium nodejs default-jdk-headless
#
# Usage: captures/generate.sh [scenario ...]     (default: all)
# Re-running replaces the files; keys and certificates are made anew each run, so the bytes
# (and certificate dates) change, and tests must read facts from the files, not remember them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/tlsdiag-captures.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
  for ns in tlsdiag-c tlsdiag-s tlsdiag-r; do ip netns del $ns 2>/dev/null || true; done
}
trap cleanup EXIT

for tool in openssl gnutls-serv gnutls-cli tcpdump dumpcap tshark editcap capinfos ss ip nft iptables curl python3 faketime; do
  command -v "$tool" >/dev/null || { echo "generate.sh: $tool is missing (see the header)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "generate.sh: run as root (port 443, capture on lo)" >&2; exit 1; }

# SSLv2 needs no new tool: scapy's TLS automata (python3 -m pip install scapy cryptography) speak
# it, see sslv2_peers.py.

# --- keys and certificates: a CA, an intermediate and a leaf for server.test; a self-signed one.
pki() {
  cd "$work"
  local days=365
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days $days \
    -subj "/O=tlsdiag test/CN=tlsdiag Test Root CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr \
    -subj "/O=tlsdiag test/CN=tlsdiag Test Intermediate CA" 2>/dev/null
  printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > int.ext
  openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out int.pem \
    -days $days -extfile int.ext 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr \
    -subj "/O=tlsdiag test/CN=server.test" 2>/dev/null
  printf 'subjectAltName=DNS:server.test,DNS:www.server.test\nextendedKeyUsage=serverAuth\n' > leaf.ext
  openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -out leaf.pem \
    -days $days -extfile leaf.ext 2>/dev/null
  cat leaf.pem int.pem > chain.pem
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout self.key -out self.pem \
    -days $days -subj "/CN=self-signed.test" -addext subjectAltName=DNS:self-signed.test 2>/dev/null
  # A CA that signed nothing here: a client trusting only it rejects every server.
  openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days $days \
    -subj "/CN=Some Other CA" 2>/dev/null
  cd - >/dev/null
}

# --- capture plumbing
capture_pid=""
start_capture() { # file filter [tool] [interface]
  local file=$1 filter=$2 tool=${3:-tcpdump} iface=${4:-lo}
  rm -f "$file"
  if [ "$tool" = dumpcap ]; then
    dumpcap -q -i "$iface" -f "$filter" -w "$file" 2>/dev/null &
  else
    # Immediate mode: without it packets sit in the kernel's buffer and are lost at exit.
    tcpdump -q -i "$iface" --immediate-mode -U -s 0 -w "$file" "$filter" 2>/dev/null &
  fi
  capture_pid=$!
  pids+=("$capture_pid")
  for _ in $(seq 50); do [ -s "$file" ] && break; sleep 0.1; done
  sleep 0.5
}
stop_capture() {
  sleep 0.5
  kill -INT "$capture_pid" 2>/dev/null || true
  wait "$capture_pid" 2>/dev/null || true
}

server_pid=""
start_server() { # port command...
  local port=$1; shift
  "$@" >"$work/server.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && return; sleep 0.1; done
  echo "server on port $port did not start: $*" >&2; cat "$work/server.log" >&2; exit 1
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }

s_server() { # port extra-args...
  local port=$1; shift
  start_server "$port" openssl s_server -accept "$port" -naccept 100 -quiet "$@"
}
# s_client that sends one line and reads until the server closes or 2 s pass.
s_client() { # port extra-args...
  local port=$1; shift
  (echo "hello from s_client"; sleep 0.3) | timeout 3 openssl s_client -connect "127.0.0.1:$port" -quiet "$@" \
    >/dev/null 2>&1 || true
}

# The Python ssl server of plaintext_servers.py: MODE PORT.
plaintext_server() {
  start_server "$2" python3 "$here/plaintext_servers.py" "$1" "$2" "$work/chain.pem" "$work/leaf.key"
}

made=() # the files this run wrote, for the check at the end
say() { printf '%-28s %s\n' "$1" "$2"; made+=("$1"); }

# --- scenarios
tls13_sni_alpn() {
  local f="$here/tls13-sni-alpn.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_3 -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem" -alpn h2
  s_client 443 -tls1_3 -servername server.test -alpn h2,http/1.1 -CAfile "$work/ca.pem"
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.3 success, SNI server.test, ALPN h2 (OpenSSL both sides)"
}

tls12_ecdhe_chain() {
  local f="$here/tls12-ecdhe-chain.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -cert "$work/leaf.pem" -key "$work/leaf.key" \
    -cert_chain "$work/int.pem"
  s_client 443 -tls1_2 -servername server.test -CAfile "$work/ca.pem" -verify_return_error
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.2 ECDHE-RSA-AES128-GCM success, leaf + intermediate in clear"
}

protocol_version() {
  local f="$here/protocol-version.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -cert "$work/leaf.pem" -key "$work/leaf.key"
  s_client 443 -tls1_3 -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "server speaks only TLS 1.2, client only 1.3: protocol_version (70)"
}

no_shared_cipher() {
  local f="$here/no-shared-cipher.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -cipher AES256-SHA -cert "$work/leaf.pem" -key "$work/leaf.key"
  s_client 443 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.2, no cipher suite in common: handshake_failure (40) from the server"
}

unknown_ca() {
  local f="$here/unknown-ca.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -cert "$work/self.pem" -key "$work/self.key"
  s_client 443 -tls1_2 -servername self-signed.test -CAfile "$work/other.pem" -verify_return_error
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.2, verifying client rejects a self-signed certificate: unknown_ca (48)"
}

refused() {
  local f="$here/refused.pcap"
  start_capture "$f" "tcp port 443"
  timeout 3 openssl s_client -connect 127.0.0.1:443 </dev/null >/dev/null 2>&1 || true
  stop_capture
  say "$(basename "$f")" "nothing listens on 443: SYN answered by RST"
}

gnutls_any() {
  local f="$here/gnutls-tls13-any.pcap"
  # -i any: tcpdump writes LINUX_SLL2.
  start_capture "$f" "tcp port 443" tcpdump any
  start_server 443 gnutls-serv --port 443 --x509certfile "$work/chain.pem" --x509keyfile "$work/leaf.key"
  (echo "GET / HTTP/1.0"; echo; sleep 0.5) | timeout 5 gnutls-cli --port 443 --sni-hostname server.test \
    --x509cafile "$work/ca.pem" --verify-hostname server.test 127.0.0.1 >/dev/null 2>&1 || true
  stop_server; stop_capture
  say "$(basename "$f")" "GnuTLS server and client, TLS 1.3, recorded with tcpdump -i any (SLL2)"
}

tls12_pcapng() {
  local f="$here/tls12-dumpcap.pcapng"
  start_capture "$f" "tcp port 8443" dumpcap
  start_server 8443 gnutls-serv --port 8443 --x509certfile "$work/chain.pem" --x509keyfile "$work/leaf.key"
  (echo "GET / HTTP/1.0"; echo; sleep 0.5) | timeout 5 gnutls-cli --port 8443 --sni-hostname server.test \
    --x509cafile "$work/ca.pem" --verify-hostname server.test --priority 'NORMAL:-VERS-TLS1.3' 127.0.0.1 >/dev/null 2>&1 || true
  stop_server; stop_capture
  say "$(basename "$f")" "GnuTLS TLS 1.2 success on port 8443, recorded by dumpcap (pcapng)"
}

interleaved() {
  local f="$here/interleaved.pcap"
  start_capture "$f" "tcp port 443 or tcp port 4433"
  s_server 443 -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem"
  local main=$server_pid
  s_server 4433 -tls1_2 -cert "$work/self.pem" -key "$work/self.key"
  local c=()
  s_client 443 -servername server.test & c+=($!)
  s_client 443 -servername www.server.test -tls1_2 & c+=($!)
  s_client 4433 -servername self-signed.test -tls1_3 & c+=($!)
  s_client 443 -servername server.test -tls1_3 & c+=($!)
  s_client 4433 -servername self-signed.test -tls1_2 & c+=($!)
  wait "${c[@]}"
  stop_server; server_pid=$main; stop_server; stop_capture
  say "$(basename "$f")" "five concurrent connections, two servers, one protocol_version failure"
}

resumed_tls12() {
  local f="$here/resumed-tls12.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -cert "$work/leaf.pem" -key "$work/leaf.key"
  s_client 443 -tls1_2 -servername server.test -sess_out "$work/sess.pem" -no_ticket
  s_client 443 -tls1_2 -servername server.test -sess_in "$work/sess.pem" -no_ticket
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.2 full handshake, then a resumed one (session id)"
}

resumed_tls13() {
  local f="$here/resumed-tls13.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_3 -cert "$work/leaf.pem" -key "$work/leaf.key"
  s_client 443 -tls1_3 -servername server.test -sess_out "$work/sess13.pem"
  s_client 443 -tls1_3 -servername server.test -sess_in "$work/sess13.pem"
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.3 full handshake, then one resumed with the ticket (PSK)"
}

starttls_smtp() {
  local f="$here/starttls-smtp.pcap"
  start_capture "$f" "tcp port 25"
  plaintext_server smtp 25
  s_client 25 -starttls smtp -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "SMTP STARTTLS (Python ssl server, s_client -starttls smtp)"
}

postgres_sslrequest() {
  local f="$here/postgres-sslrequest.pcap"
  start_capture "$f" "tcp port 5432"
  plaintext_server postgres 5432
  s_client 5432 -starttls postgres -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "PostgreSQL SSLRequest, then TLS (s_client -starttls postgres)"
}

http_on_443() {
  local f="$here/http-on-443.pcap"
  start_capture "$f" "tcp port 443"
  plaintext_server http 443
  curl -s -o /dev/null --max-time 3 http://127.0.0.1:443/ || true
  s_client 443 -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "plain HTTP on 443: curl's GET, then a TLS client answered with HTTP 400"
}

# TCP Fast Open: the ClientHello rides in the SYN. Run in a network namespace of our own so
# that the sysctl (client and server TFO without cookies) touches nothing else.
tcp_fast_open() {
  local f="$here/tcp-fast-open.pcap" ns=tlsdiag-tfo
  ip netns del "$ns" 2>/dev/null || true
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv4.tcp_fastopen=0x607
  ip netns exec "$ns" tcpdump -q -i lo --immediate-mode -U -s 0 -w "$f" "tcp port 443" 2>/dev/null &
  capture_pid=$!; pids+=("$capture_pid"); sleep 1
  ip netns exec "$ns" openssl s_server -accept 443 -quiet -www -cert "$work/leaf.pem" -key "$work/leaf.key" \
    >/dev/null 2>&1 &
  server_pid=$!; pids+=("$server_pid"); sleep 1
  ip netns exec "$ns" curl -sk --tcp-fastopen --max-time 3 -o /dev/null https://127.0.0.1/ || true
  stop_server; stop_capture
  ip netns del "$ns"
  say "$(basename "$f")" "TCP Fast Open: curl's ClientHello in the SYN (own network namespace)"
}

# Two hosts of our own (network namespaces joined by a veth pair) talking IPv6.
ipv6_veth() {
  local f="$here/ipv6-veth.pcap" c=tlsdiag-v6c s=tlsdiag-v6s
  for ns in $c $s; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip link add tlsdiag-v0 netns $c type veth peer name tlsdiag-v1 netns $s
  ip -n $c addr add fd00:99::1/64 dev tlsdiag-v0 nodad
  ip -n $s addr add fd00:99::2/64 dev tlsdiag-v1 nodad
  ip -n $c link set tlsdiag-v0 up
  ip -n $s link set tlsdiag-v1 up
  ip netns exec $c tcpdump -q -i tlsdiag-v0 --immediate-mode -U -s 0 -w "$f" "tcp port 443" 2>/dev/null &
  capture_pid=$!; pids+=("$capture_pid"); sleep 1
  ip netns exec $s openssl s_server -accept '[::]:443' -quiet -cert "$work/leaf.pem" -key "$work/leaf.key" \
    -cert_chain "$work/int.pem" >/dev/null 2>&1 &
  server_pid=$!; pids+=("$server_pid"); sleep 1
  (echo hello; sleep 0.3) | ip netns exec $c timeout 3 openssl s_client -connect '[fd00:99::2]:443' \
    -servername server.test -quiet >/dev/null 2>&1 || true
  stop_server; stop_capture
  ip netns del $c; ip netns del $s
  say "$(basename "$f")" "IPv6 between two namespaces over a veth pair, TLS 1.3 success"
}

# Derived, not recorded: this kernel has no 802.1Q module, so the VLAN-tagged file is the IPv6
# capture with a tag added by tcprewrite (tcpreplay); the packets are otherwise unchanged.
vlan_tagged() {
  local f="$here/vlan-ipv6.pcap"
  command -v tcprewrite >/dev/null || { echo "generate.sh: vlan_tagged needs tcprewrite (tcpreplay)" >&2; return 1; }
  tcprewrite --enet-vlan=add --enet-vlan-tag=100 --enet-vlan-cfi=0 --enet-vlan-pri=0 \
    --infile="$here/ipv6-veth.pcap" --outfile="$f"
  say "$(basename "$f")" "derived: ipv6-veth.pcap with 802.1Q tag 100 added by tcprewrite"
}

# Derived, not recorded: the server-to-client half of a real capture, as a capture point on an
# asymmetric route sees it. tshark writes the filtered copy; no packet is changed.
one_direction() {
  local src="$here/tls12-ecdhe-chain.pcap" f="$here/one-direction-server-only.pcap"
  tshark -r "$src" -Y "tcp.srcport == 443" -w "$f" -F pcap
  say "$(basename "$f")" "derived: only the server's packets of tls12-ecdhe-chain.pcap"
  # TLS 1.3 hides the handshake's end: one side's packets cannot tell how it went.
  tshark -r "$here/tls13-sni-alpn.pcap" -Y "tcp.srcport == 443" -w "$here/one-direction-tls13-server.pcap" -F pcap
  say "one-direction-tls13-server.pcap" "derived: only the server's packets of tls13-sni-alpn.pcap"
  tshark -r "$here/tls13-sni-alpn.pcap" -Y "tcp.dstport == 443" -w "$here/one-direction-tls13-client.pcap" -F pcap
  say "one-direction-tls13-client.pcap" "derived: only the client's packets of tls13-sni-alpn.pcap"
  # A side that gives up in the clear says so even alone: the client's alert of unknown-ca.pcap.
  tshark -r "$here/unknown-ca.pcap" -Y "tcp.dstport == 443" -w "$here/one-direction-client-alert.pcap" -F pcap
  say "one-direction-client-alert.pcap" "derived: only the client's packets of unknown-ca.pcap"
}

# Derived: the packets of protocol-version.pcap labelled with a link type tlsdiag does not
# decode (USER0, by editcap -T), to show they are counted and named, never a crash.
unknown_link_type() {
  local f="$here/unknown-link-type.pcap"
  editcap -T user0 -F pcap "$here/protocol-version.pcap" "$f"
  say "$(basename "$f")" "derived: protocol-version.pcap relabelled as link type USER0"
}

# Linux cooked captures of TLS on lo: what `-i any` writes. dumpcap and `tcpdump -y LINUX_SLL`
# write SLL v1 (ARPHRD 772, loopback, in every packet), plain `tcpdump -i any` writes SLL2.
cooked_any() {
  local f
  for f in sll-any-dumpcap.pcapng sll-any-tcpdump.pcap sll2-any-tcpdump.pcap; do
    rm -f "$here/$f"
    case $f in
      sll-any-dumpcap.pcapng) dumpcap -q -i any -f "tcp port 443" -w "$here/$f" 2>/dev/null & ;;
      sll-any-tcpdump.pcap) tcpdump -q -i any -y LINUX_SLL --immediate-mode -U -s 0 -w "$here/$f" "tcp port 443" 2>/dev/null & ;;
      sll2-any-tcpdump.pcap) tcpdump -q -i any --immediate-mode -U -s 0 -w "$here/$f" "tcp port 443" 2>/dev/null & ;;
    esac
    capture_pid=$!; pids+=("$capture_pid")
    for _ in $(seq 50); do [ -s "$here/$f" ] && break; sleep 0.1; done
    sleep 0.5
    s_server 443 -tls1_3 -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem" -alpn h2
    s_client 443 -tls1_3 -servername server.test -alpn h2,http/1.1 -CAfile "$work/ca.pem"
    s_client 443 -tls1_2 -servername server.test -CAfile "$work/ca.pem"
    stop_server; stop_capture
    say "$f" "-i any on lo (Linux cooked capture): a TLS 1.3 success; a TLS 1.2-only client refused (70)"
  done
}

# A real VXLAN tunnel (VNI 4242, UDP 4789) between two namespaces over a veth pair; TLS runs
# between the tunnel's inner addresses, and the capture is on the veth: every packet is
# Ethernet / IPv4 / UDP / VXLAN / Ethernet / IPv4 / TCP.
vxlan_tunnel() {
  local f="$here/vxlan.pcap" c=tlsdiag-xc s=tlsdiag-xs
  for ns in $c $s; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip link add tlsdiag-x0 netns $c type veth peer name tlsdiag-x1 netns $s
  ip -n $c addr add 198.18.5.1/24 dev tlsdiag-x0; ip -n $c link set tlsdiag-x0 up
  ip -n $s addr add 198.18.5.2/24 dev tlsdiag-x1; ip -n $s link set tlsdiag-x1 up
  ip -n $c link add name vx0 type vxlan id 4242 dstport 4789 local 198.18.5.1 remote 198.18.5.2
  ip -n $s link add name vx0 type vxlan id 4242 dstport 4789 local 198.18.5.2 remote 198.18.5.1
  # MTU 1450: the 50 bytes VXLAN adds still fit the veth's 1500, so nothing fragments.
  ip -n $c link set vx0 mtu 1450; ip -n $s link set vx0 mtu 1450
  ip -n $c addr add 198.18.6.1/24 dev vx0; ip -n $c link set vx0 up
  ip -n $s addr add 198.18.6.2/24 dev vx0; ip -n $s link set vx0 up
  rm -f "$f"
  ip netns exec $c tcpdump -q -i tlsdiag-x0 --immediate-mode -U -s 0 -w "$f" "udp port 4789" 2>/dev/null &
  capture_pid=$!; pids+=("$capture_pid"); sleep 1
  ip netns exec $s openssl s_server -accept 443 -naccept 2 -quiet -cert "$work/leaf.pem" -key "$work/leaf.key" \
    -cert_chain "$work/int.pem" >/dev/null 2>&1 &
  server_pid=$!; pids+=("$server_pid"); sleep 1
  for v in -tls1_3 -tls1_2; do
    (echo hello; sleep 0.3) | ip netns exec $c timeout 3 openssl s_client -connect 198.18.6.2:443 $v \
      -servername server.test -quiet >/dev/null 2>&1 || true
  done
  stop_server; stop_capture
  ip netns del $c; ip netns del $s
  say "$(basename "$f")" "VXLAN 4242 between two namespaces (real tunnel), TLS 1.3 and 1.2 successes"
}

# The same tunnel with the VXLAN device at MTU 1500 over the veth's 1500: an inner packet of
# full size becomes an outer UDP datagram of 1550 bytes, which the kernel really fragments.
# The client offers an ffdhe8192 key share (1 KB) and a long ALPN list, as a post-quantum key
# share would make it big: its ClientHello (2.7 KB) starts in a fragmented datagram, and so
# does the server's first flight. The filter keeps the later fragments, which have no UDP header.
vxlan_fragmented() {
  local f="$here/vxlan-fragmented.pcap" c=tlsdiag-xc s=tlsdiag-xs alpn
  for ns in $c $s; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip link add tlsdiag-x0 netns $c type veth peer name tlsdiag-x1 netns $s
  ip -n $c addr add 198.18.5.1/24 dev tlsdiag-x0; ip -n $c link set tlsdiag-x0 up
  ip -n $s addr add 198.18.5.2/24 dev tlsdiag-x1; ip -n $s link set tlsdiag-x1 up
  ip -n $c link add name vx0 type vxlan id 4243 dstport 4789 local 198.18.5.1 remote 198.18.5.2
  ip -n $s link add name vx0 type vxlan id 4243 dstport 4789 local 198.18.5.2 remote 198.18.5.1
  ip -n $c link set vx0 mtu 1500; ip -n $s link set vx0 mtu 1500
  ip -n $c addr add 198.18.6.1/24 dev vx0; ip -n $c link set vx0 up
  ip -n $s addr add 198.18.6.2/24 dev vx0; ip -n $s link set vx0 up
  rm -f "$f"
  ip netns exec $c tcpdump -q -i tlsdiag-x0 --immediate-mode -U -s 0 -w "$f" \
    "udp port 4789 or (ip[6:2] & 0x1fff != 0)" 2>/dev/null &
  capture_pid=$!; pids+=("$capture_pid"); sleep 1
  ip netns exec $s openssl s_server -accept 443 -naccept 1 -quiet -cert "$work/leaf.pem" -key "$work/leaf.key" \
    -cert_chain "$work/int.pem" >/dev/null 2>&1 &
  server_pid=$!; pids+=("$server_pid"); sleep 1
  alpn=$(python3 -c "print(','.join('proto-%02d-%s' % (i, 'x' * 20) for i in range(50)))")
  (echo hello; sleep 0.3) | ip netns exec $c timeout 3 openssl s_client -connect 198.18.6.2:443 -tls1_3 \
    -groups ffdhe8192:X25519 -alpn "$alpn" -servername server.test -quiet >/dev/null 2>&1 || true
  stop_server; stop_capture
  ip netns del $c; ip netns del $s
  say "$(basename "$f")" "VXLAN 4243 at MTU 1500 over a 1500 veth: outer datagrams fragmented by the kernel, TLS 1.3 success"
}

# Derived, not recorded: this kernel has no GRE, Geneve, IPIP, SIT, MPLS or PPPoE support, so
# these are real captures with the encapsulation added around each packet by rewrap.py
# (scapy); the inner packets are the recorded ones, unchanged.
rewrapped() {
  python3 -c "import scapy" 2>/dev/null || { echo "generate.sh: rewrapped needs scapy (pip install scapy)" >&2; return 1; }
  local kind src
  for kind in gre gretap erspan2 erspan3 geneve ipip mpls pppoe qinq sit; do
    src="$here/tls13-sni-alpn.pcap"
    [ $kind = sit ] && src="$here/ipv6-veth.pcap"
    python3 "$here/rewrap.py" $kind "$src" "$here/wrapped-$kind.pcap"
    say "wrapped-$kind.pcap" "derived: $(basename "$src") wrapped in $kind by rewrap.py"
  done
}

# ---------------------------------------------------------------------------------------------
# Failure classes. Network faults use hosts of our own: network namespaces joined by veth pairs,
# with addresses from 198.18.0.0/15 (RFC 2544's range for test networks), and nftables or
# iptables inside the namespaces. Nothing leaves this machine.
NS_C=tlsdiag-c NS_S=tlsdiag-s NS_R=tlsdiag-r
C_IP=198.18.0.1 S_IP=198.18.0.2

hosts_up() {
  hosts_down
  for ns in $NS_C $NS_S; do ip netns add $ns; ip -n $ns link set lo up; done
  ip link add tlsdiag-c0 netns $NS_C type veth peer name tlsdiag-s0 netns $NS_S
  ip -n $NS_C addr add $C_IP/24 dev tlsdiag-c0
  ip -n $NS_S addr add $S_IP/24 dev tlsdiag-s0
  ip -n $NS_C link set tlsdiag-c0 up
  ip -n $NS_S link set tlsdiag-s0 up
}
# One nftables rule on the server host's input path.
server_input_rule() {
  ip netns exec $NS_S nft -f - <<NFT
table inet tlsdiag {
  chain input {
    type filter hook input priority 0;
    $1;
  }
}
NFT
}

hosts_down() { for ns in $NS_C $NS_S $NS_R; do ip netns del $ns 2>/dev/null || true; done; }

# client 198.18.1.1 -- router (198.18.1.254 | 198.18.2.254) -- server 198.18.2.2
routed_hosts_up() {
  hosts_down
  for ns in $NS_C $NS_S $NS_R; do ip netns add $ns; ip -n $ns link set lo up; done
  ip link add tlsdiag-c0 netns $NS_C type veth peer name tlsdiag-rc netns $NS_R
  ip link add tlsdiag-s0 netns $NS_S type veth peer name tlsdiag-rs netns $NS_R
  ip -n $NS_C addr add 198.18.1.1/24 dev tlsdiag-c0
  ip -n $NS_R addr add 198.18.1.254/24 dev tlsdiag-rc
  ip -n $NS_R addr add 198.18.2.254/24 dev tlsdiag-rs
  ip -n $NS_S addr add 198.18.2.2/24 dev tlsdiag-s0
  for pair in "$NS_C tlsdiag-c0" "$NS_R tlsdiag-rc" "$NS_R tlsdiag-rs" "$NS_S tlsdiag-s0"; do
    set -- $pair; ip -n "$1" link set "$2" up
  done
  ip -n $NS_C route add default via 198.18.1.254
  ip -n $NS_S route add default via 198.18.2.254
  ip netns exec $NS_R sysctl -qw net.ipv4.ip_forward=1
}

# Capture on the client's interface, as a client-side tcpdump would.
client_capture() { # file filter
  rm -f "$1"
  ip netns exec $NS_C tcpdump -q -i tlsdiag-c0 --immediate-mode -U -s 0 -w "$1" "$2" 2>/dev/null &
  capture_pid=$!; pids+=("$capture_pid"); sleep 1
}
in_server() { # command... (runs in the background as the server)
  ip netns exec $NS_S "$@" >"$work/server.log" 2>&1 &
  server_pid=$!; pids+=("$server_pid"); sleep 1
}

tcp_no_response() {
  local f="$here/tcp-no-response.pcap"
  hosts_up
  server_input_rule "tcp dport 443 drop"
  client_capture "$f" "tcp port 443"
  ip netns exec $NS_C curl -sk --connect-timeout 4 -o /dev/null https://$S_IP/ || true
  stop_capture; hosts_down
  say "$(basename "$f")" "server drops SYNs to 443 (nftables): SYN retransmitted, never answered"
}

icmp_unreachable() {
  local f="$here/icmp-admin-prohibited.pcap"
  hosts_up
  server_input_rule "tcp dport 443 reject with icmpx type admin-prohibited"
  client_capture "$f" "tcp port 443 or icmp"
  ip netns exec $NS_C curl -sk --connect-timeout 3 -o /dev/null https://$S_IP/ || true
  stop_capture; hosts_down
  say "$(basename "$f")" "server's firewall rejects 443 with ICMP administratively prohibited"
}

client_hello_lost() {
  local f="$here/client-hello-lost.pcap"
  hosts_up
  # Drop any packet to 443 longer than 250 bytes: SYN and ACKs pass, the ClientHello does not.
  server_input_rule "tcp dport 443 meta length > 250 drop"
  in_server openssl s_server -accept 443 -quiet -cert "$work/leaf.pem" -key "$work/leaf.key"
  client_capture "$f" "tcp port 443"
  ip netns exec $NS_C timeout 5 openssl s_client -connect $S_IP:443 -servername server.test </dev/null >/dev/null 2>&1 || true
  stop_server; stop_capture; hosts_down
  say "$(basename "$f")" "packets over 250 bytes dropped on the path: the ClientHello is retransmitted, never acknowledged"
}

middlebox_reset() {
  local f="$here/middlebox-reset.pcap"
  routed_hosts_up
  # The router resets connections whose ClientHello names blocked.test, as SNI filters do.
  ip netns exec $NS_R iptables -A FORWARD -p tcp --dport 443 -m string --string "blocked.test" --algo bm \
    -j REJECT --reject-with tcp-reset
  in_server openssl s_server -accept 443 -quiet -cert "$work/leaf.pem" -key "$work/leaf.key"
  client_capture "$f" "tcp port 443"
  ip netns exec $NS_C timeout 4 openssl s_client -connect 198.18.2.2:443 -servername blocked.test </dev/null >/dev/null 2>&1 || true
  stop_server; stop_capture; hosts_down
  say "$(basename "$f")" "a router injects an RST after the ClientHello for blocked.test (iptables string match)"
}

no_server_hello() {
  local f="$here/no-server-hello.pcap"
  start_capture "$f" "tcp port 443"
  plaintext_server silent 443
  timeout 4 openssl s_client -connect 127.0.0.1:443 -servername server.test </dev/null >/dev/null 2>&1 || true
  stop_server; stop_capture
  say "$(basename "$f")" "the server accepts TCP and never answers the ClientHello; the client gives up"
}

server_reset_closed() {
  local mode f
  for mode in reset close; do
    f="$here/server-$mode.pcap"
    start_capture "$f" "tcp port 443"
    plaintext_server $mode 443
    s_client 443 -servername server.test
    stop_server; stop_capture
    say "$(basename "$f")" "the server reads the ClientHello and ends the connection ($mode), no alert"
  done
}

client_reset_closed() {
  local mode f
  for mode in reset close; do
    f="$here/client-$mode.pcap"
    start_capture "$f" "tcp port 443"
    s_server 443 -tls1_2 -cert "$work/self.pem" -key "$work/self.key"
    python3 "$here/hello_client.py" $mode 127.0.0.1 443 self-signed.test || true
    stop_server; stop_capture
    say "$(basename "$f")" "the client reads the server's flight and leaves ($mode), no alert"
  done
}

# Port reuse: a client leaves a connection without the server learning of it (its RST is dropped
# on the way out), then connects again from the same port (curl --local-port). The server, still
# holding the old connection, answers the new SYN with a challenge ACK (RFC 5961); the client
# resets it, the server drops the old connection, and the client's retransmitted SYN opens the
# connection that completes its handshake.
port_reuse() {
  local f="$here/port-reuse.pcap"
  hosts_up
  ip netns exec $NS_C nft -f - <<NFT
table inet tlsdiag {
  chain output {
    type filter hook output priority 0;
    tcp dport 443 tcp flags & (rst | fin) != 0 drop;
  }
}
NFT
  client_capture "$f" "tcp port 443"
  in_server openssl s_server -accept 443 -naccept 2 -quiet -tls1_2 -cert "$work/leaf.pem" -key "$work/leaf.key"
  ip netns exec $NS_C python3 "$here/hello_client.py" reset $S_IP 443 server.test 40000 || true
  ip netns exec $NS_C nft delete table inet tlsdiag
  sleep 0.5
  ip netns exec $NS_C curl -sk --local-port 40000 --max-time 4 -o /dev/null https://$S_IP/ || true
  stop_server; stop_capture; hosts_down
  say "$(basename "$f")" "a second connection from the same port: challenge ACK, the client's RST, then the handshake"
}

not_tls_server_ssh() {
  local f="$here/ssh-on-443.pcap"
  start_capture "$f" "tcp port 443"
  plaintext_server ssh 443
  s_client 443 -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "a TLS client reaches an SSH server on 443"
}

unrecognized_name() {
  local f="$here/unrecognized-name.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -servername server.test -servername_fatal -cert "$work/leaf.pem" -key "$work/leaf.key" \
    -cert2 "$work/leaf.pem" -key2 "$work/leaf.key"
  s_client 443 -servername other.test
  stop_server; stop_capture
  say "$(basename "$f")" "SNI other.test on a server that serves only server.test: unrecognized_name (112)"
}

missing_sni() {
  local f="$here/missing-sni.pcap"
  start_capture "$f" "tcp port 443"
  plaintext_server nosni 443
  s_client 443 -noservername
  stop_server; stop_capture
  say "$(basename "$f")" "a ClientHello without SNI to a server that requires it (Python ssl)"
}

no_application_protocol() {
  local f="$here/no-application-protocol.pcap"
  start_capture "$f" "tcp port 443"
  start_server 443 gnutls-serv --port 443 --x509certfile "$work/chain.pem" --x509keyfile "$work/leaf.key" --alpn h2 --alpn-fatal
  s_client 443 -servername server.test -alpn http/1.1
  stop_server; stop_capture
  say "$(basename "$f")" "GnuTLS server insists on ALPN h2, the client offers http/1.1: no_application_protocol"
}

no_common_signature() {
  local f="$here/no-common-signature.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -cert "$work/leaf.pem" -key "$work/leaf.key" -sigalgs ECDSA+SHA256
  s_client 443 -tls1_2 -servername server.test -sigalgs RSA+SHA256
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.2, no signature algorithm in common: handshake_failure (40)"
}

# A leaf for server.test signed with the clock moved by SHIFT (faketime), valid DAYS from then,
# served by a TLS 1.2 s_server to a verifying s_client.
dated_leaf_rejected() { # file shift days summary
  local f="$here/$1"
  faketime -f "$2" openssl x509 -req -in "$work/leaf.csr" -CA "$work/int.pem" -CAkey "$work/int.key" \
    -CAcreateserial -out "$work/dated.pem" -days "$3" -extfile "$work/leaf.ext" 2>/dev/null
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -cert "$work/dated.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem"
  s_client 443 -tls1_2 -servername server.test -CAfile "$work/ca.pem" -verify_return_error
  stop_server; stop_capture
  say "$1" "$4"
}

cert_expired() {
  dated_leaf_rejected cert-expired.pcap "-400d" 30 "TLS 1.2, the leaf expired about a year before: certificate_expired (45)"
}

cert_not_yet_valid() {
  dated_leaf_rejected cert-not-yet-valid.pcap "+10d" 365 "TLS 1.2, the leaf becomes valid 10 days after the connection"
}

# Established, with warnings: TLS 1.0 and RSA key exchange, allowed at OpenSSL's security level 0.
legacy_tls10() {
  local f="$here/legacy-tls10-rsa.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1 -cipher 'AES128-SHA:@SECLEVEL=0' -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem"
  s_client 443 -tls1 -cipher 'AES128-SHA:@SECLEVEL=0' -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "an established TLS 1.0 connection with RSA key exchange (warnings)"
}

cert_name_mismatch() {
  local f="$here/cert-name-mismatch.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem"
  s_client 443 -tls1_2 -servername wrong.test -verify_hostname wrong.test -CAfile "$work/ca.pem" -verify_return_error
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.2, the certificate is for server.test, the client asks for wrong.test"
}

cert_chain_incomplete() {
  local f="$here/cert-chain-incomplete.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -cert "$work/leaf.pem" -key "$work/leaf.key"
  s_client 443 -tls1_2 -servername server.test -CAfile "$work/ca.pem" -verify_return_error
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.2, the server sends the leaf without its intermediate"
}

cert_rejected_tls13() {
  local f="$here/cert-rejected-tls13.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_3 -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem"
  (echo hi; sleep 0.3) | timeout 4 gnutls-cli --port 443 --sni-hostname server.test --x509cafile "$work/other.pem" \
    127.0.0.1 >/dev/null 2>&1 || true
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.3, GnuTLS client distrusts the chain: one encrypted alert-sized record"
}

client_cert() {
  local f
  f="$here/client-cert-required-tls12.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -Verify 1 -cert "$work/leaf.pem" -key "$work/leaf.key" -CAfile "$work/ca.pem"
  s_client 443 -tls1_2 -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "mutual TLS 1.2, the client has no certificate: handshake_failure (40)"
  f="$here/client-cert-required-tls13.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_3 -Verify 1 -cert "$work/leaf.pem" -key "$work/leaf.key" -CAfile "$work/ca.pem"
  s_client 443 -tls1_3 -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "mutual TLS 1.3, the client has no certificate: encrypted alert after its Finished"
  f="$here/client-cert-rejected.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -Verify 1 -verify_return_error -cert "$work/leaf.pem" -key "$work/leaf.key" -CAfile "$work/ca.pem"
  s_client 443 -tls1_2 -servername server.test -cert "$work/self.pem" -key "$work/self.key"
  stop_server; stop_capture
  say "$(basename "$f")" "mutual TLS 1.2, the client's certificate is from a CA the server does not trust"
}

hello_retry_failed() {
  local f="$here/hello-retry-failed.pcap"
  hosts_up
  # The server wants secp384r1, so it answers the client's x25519 share with a
  # HelloRetryRequest; the second ClientHello, larger by its P-384 share, exceeds what the path
  # lets through (330 bytes; the first is 297), as on a path that drops large packets.
  server_input_rule "tcp dport 443 meta length > 330 drop"
  in_server openssl s_server -accept 443 -quiet -tls1_3 -groups secp384r1 -cert "$work/leaf.pem" -key "$work/leaf.key"
  client_capture "$f" "tcp port 443"
  ip netns exec $NS_C timeout 4 openssl s_client -connect $S_IP:443 -tls1_3 -servername server.test \
    </dev/null >/dev/null 2>&1 || true
  stop_server; stop_capture; hosts_down
  say "$(basename "$f")" "HelloRetryRequest for secp384r1; the larger second ClientHello is lost on the path"
}

downgrade() {
  local f="$here/inappropriate-fallback.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -cert "$work/leaf.pem" -key "$work/leaf.key"
  s_client 443 -tls1_2 -fallback_scsv -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "a TLS 1.2 fallback retry with TLS_FALLBACK_SCSV to a TLS 1.3 server"
}

psk_mismatch() {
  local f="$here/psk-mismatch.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -nocert -psk 1234abcd
  s_client 443 -tls1_2 -psk 5678abcd
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.2 PSK with different keys: the server cannot verify the Finished (bad_record_mac)"
}

small_snaplen() {
  local f="$here/snaplen-100.pcap"
  rm -f "$f"
  tcpdump -q -i lo --immediate-mode -U -s 100 -w "$f" "tcp port 443" 2>/dev/null &
  capture_pid=$!; pids+=("$capture_pid"); sleep 1
  s_server 443 -tls1_2 -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem"
  s_client 443 -tls1_2 -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "a TLS 1.2 success recorded with tcpdump -s 100: payloads cut"
}

# Recorded with tcpdump -s 100: the protocol_version failure on 443 and on a port tlsdiag does not
# know (4433), where the ClientHello is cut after its first bytes and the server's 7-byte alert
# is whole; then a TLS 1.2 success on 4434, where every flight is cut.
cut_alert() {
  local f="$here/snaplen-alert.pcap"
  rm -f "$f"
  tcpdump -q -i lo --immediate-mode -U -s 100 -w "$f" "tcp portrange 4433-4434 or tcp port 443" 2>/dev/null &
  capture_pid=$!; pids+=("$capture_pid"); sleep 1
  for port in 443 4433; do
    s_server $port -tls1_2 -cert "$work/leaf.pem" -key "$work/leaf.key"
    s_client $port -tls1_3 -servername server.test
    stop_server
  done
  s_server 4434 -tls1_2 -cert "$work/leaf.pem" -key "$work/leaf.key"
  s_client 4434 -tls1_2 -servername server.test
  stop_server; stop_capture
  say "$(basename "$f")" "tcpdump -s 100: protocol_version on 443 and 4433 (the alert is whole), a success on 4434"
}

# A download over TLS 1.2: 24 KiB in records of 1 KiB (s_server -WWW -max_send_frag 512) to
# curl, so that application data outlasts the handshake by many records.
download() {
  local f="$here/download.pcap"
  head -c 32768 /dev/urandom > "$work/file.bin"
  start_capture "$f" "tcp port 443"
  cd "$work"
  s_server 443 -tls1_2 -WWW -max_send_frag 512 -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem"
  cd - >/dev/null
  curl -s --cacert "$work/ca.pem" --resolve server.test:443:127.0.0.1 -o /dev/null https://server.test/file.bin || true
  stop_server; stop_capture
  say "$(basename "$f")" "TLS 1.2 download of 32 KiB in 512-byte records (s_server -WWW, curl)"
}

# Text a peer chose, made to attack the reader's terminal: an SNI with OSC, CSI and a newline
# followed by JSON, ALPN names that are not UTF-8, a self-signed certificate whose subject holds
# escapes and a bidi override (TLS 1.2, so it is in the clear), and a plaintext banner with
# escapes answering a ClientHello.
hostile_text() {
  local f="$here/hostile-text.pcap"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -utf8 \
    -keyout "$work/hostile.key" -out "$work/hostile.pem" \
    -subj "/O=$(printf 'evil\033]0;PWNED\007 corp')/CN=$(printf 'bidi\342\200\256gpj.test\033[2J')" 2>/dev/null
  start_capture "$f" "tcp port 443 or tcp port 4433"
  s_server 443 -tls1_2 -cert "$work/hostile.pem" -key "$work/hostile.key" -alpn h2
  s_client 443 -tls1_2 -servername $'\e]0;PWNED\a\e[2J\e[31mevil\n{"injected":1}.test' \
    -alpn $'h2,\xff\xfe\e[31m'
  stop_server
  plaintext_server banner 4433
  s_client 4433 -servername banner.test
  stop_server; stop_capture
  say "$(basename "$f")" "terminal escapes in an SNI, ALPN names, a certificate subject and a banner"
}

# Markup in a peer's text, for the HTML report (tests/html.rs): a certificate whose O and CN
# hold HTML, rejected by a client that trusts another CA and asked for an SNI holding a
# script; then a server that answers a ClientHello with an HTML page holding a script. The
# ALPN name starts and ends with letters: ja4plus (tests/fingerprints.rs) does not write the
# hex form the JA4 specification gives to other first and last bytes.
hostile_markup() {
  local f="$here/hostile-markup.pcap"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -utf8 \
    -keyout "$work/markup.key" -out "$work/markup.pem" \
    -subj '/O=<script>alert("subject")<\/script>/CN=<img src=x onerror=alert(1)>.test' 2>/dev/null
  start_capture "$f" "tcp port 443 or tcp port 4433"
  s_server 443 -tls1_2 -cert "$work/markup.pem" -key "$work/markup.key"
  s_client 443 -tls1_2 -servername '<script>alert("sni")</script>.test' -alpn 'x<b>h2</b>x' \
    -CAfile "$work/other.pem" -verify_return_error
  stop_server
  plaintext_server markup 4433
  s_client 4433 -servername '"><svg onload=alert(2)>.test'
  stop_server; stop_capture
  say "$(basename "$f")" "HTML in an SNI, ALPN, a certificate subject (rejected) and a server's answer"
}

# Derived from recorded captures, by editcap (packets dropped, none changed), where the class is
# about the capture itself.
# SSLv2: scapy's automata on both sides (sslv2_peers.py); no OpenSSL or GnuTLS here speaks it.
sslv2() {
  local f="$here/sslv2.pcap"
  start_capture "$f" "tcp port 443"
  start_server 443 timeout 20 python3 "$here/sslv2_peers.py" server 443 "$work/leaf.pem" "$work/leaf.key"
  timeout 20 python3 "$here/sslv2_peers.py" client 127.0.0.1 443 </dev/null >/dev/null 2>&1 || true
  stop_server; stop_capture
  say "$(basename "$f")" "SSLv2 success: scapy client and server, SSL2_DES_192_EDE3_CBC_WITH_MD5"
}

# A client that speaks only SSLv2 (scapy's) against a TLS server (OpenSSL) that does not.
sslv2_refused() {
  local f="$here/sslv2-refused.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -cert "$work/leaf.pem" -key "$work/leaf.key"
  timeout 10 python3 "$here/sslv2_peers.py" client 127.0.0.1 443 </dev/null >/dev/null 2>&1 || true
  stop_server; stop_capture
  say "$(basename "$f")" "SSLv2-only client (scapy), TLS server (OpenSSL) refuses it"
}

derived_captures() {
  # capture_started_late on a long connection: download.pcap joined at the client's request
  # (its first application-data record: both sides send some), and just after it (only the
  # server's records follow).
  local request last
  request=$(tshark -r "$here/download.pcap" -Y 'tcp.dstport == 443 && tls.record.content_type == 23' \
    -T fields -e frame.number | head -1)
  last=$(tshark -r "$here/download.pcap" -T fields -e frame.number | tail -1)
  editcap -r "$here/download.pcap" "$here/joined-request.pcap" "$request-$last"
  say "joined-request.pcap" "derived: download.pcap from packet $request (the client's request) on"
  editcap -r "$here/download.pcap" "$here/joined-download.pcap" "$((request + 1))-$last"
  say "joined-download.pcap" "derived: download.pcap from packet $((request + 1)) (after the request) on"
  # capture_started_late: the connection from its 7th packet on (after the ClientHello).
  editcap -r "$here/tls12-ecdhe-chain.pcap" "$here/started-late.pcap" 7-14
  say "started-late.pcap" "derived: tls12-ecdhe-chain.pcap from packet 7 on"
  # capture_ended: the first five packets (ClientHello sent, nothing after).
  editcap -r "$here/tls12-ecdhe-chain.pcap" "$here/ended-early.pcap" 1-5
  say "ended-early.pcap" "derived: tls12-ecdhe-chain.pcap cut after packet 5"
  # stream_gap: packet 6 (the server's flight) removed; the client's ACK of it remains.
  editcap "$here/tls12-ecdhe-chain.pcap" "$here/lost-segment.pcap" 6
  say "lost-segment.pcap" "derived: tls12-ecdhe-chain.pcap without packet 6 (the server's first flight)"
  # alert: the one byte of protocol-version.pcap's alert description changed to internal_error.
  python3 "$here/rewrite_alert.py" "$here/protocol-version.pcap" "$here/alert-internal-error.pcap" 6 80
  say "alert-internal-error.pcap" "derived: protocol-version.pcap with the alert relabelled internal_error (80)"
  # TLS 1.3 drafts: no installed stack speaks one, so tls13-sni-alpn.pcap's real handshake is
  # rewritten into the early drafts' form (see rewrite_tls13_draft.py): draft 18, which
  # tls-parser reads, and draft 21, which tlsdiag reads itself.
  for draft in 18 21; do
    python3 "$here/rewrite_tls13_draft.py" "$here/tls13-sni-alpn.pcap" "$here/tls13-draft$draft.pcap" $draft
    say "tls13-draft$draft.pcap" "derived: tls13-sni-alpn.pcap rewritten to TLS 1.3 draft $draft (version 0x7f$(printf %02x $draft))"
  done
}

# ---------------------------------------------------------------------------------------------
# Key logs (issue 20): captures in keylog/, each NAME.pcap beside NAME.keys, the client's TLS
# secrets in NSS key log format (CLIENT_RANDOM for TLS 1.0-1.2; the *_TRAFFIC_SECRET lines for
# TLS 1.3), written by the client itself: s_client -keylogfile, SSLKEYLOGFILE for curl, gnutls-cli
# and Chromium's --ssl-key-log-file, Node's 'keylog' event, Python's SSLContext.keylog_filename.
# keylog/expected.sh writes keylog/EXPECTED.tsv: what tshark decrypts with each key log.
kdir="$here/keylog"

kl_start() { # name: a new capture of 443 into keylog/NAME.pcap, its key log removed
  mkdir -p "$kdir"
  rm -f "$kdir/$1.keys"
  start_capture "$kdir/$1.pcap" "tcp port 443"
}
kl_done() { # name summary
  stop_server; stop_capture
  say "keylog/$1.pcap" "$2"
}
# s_client with its key log: it sends one line, reads the answer and, at the end of its input
# (no -quiet, so no -ign_eof), sends close_notify.
kl_s_client() { # keys extra-args...
  local keys=$1; shift
  (echo "hello from s_client"; sleep 0.5) | timeout 4 openssl s_client -connect 127.0.0.1:443 \
    -keylogfile "$keys" "$@" >/dev/null 2>&1 || true
}
# One s_server -rev (it answers each line reversed) and one s_client with its key log:
# kl_openssl NAME SUMMARY SERVER-ARGS... -- CLIENT-ARGS...
kl_openssl() {
  local name=$1 summary=$2 sargs=(); shift 2
  while [ "$1" != -- ]; do sargs+=("$1"); shift; done; shift
  kl_start "$name"
  s_server 443 -rev "${sargs[@]}"
  kl_s_client "$kdir/$name.keys" "$@"
  kl_done "$name" "$summary"
}
# A leaf for server.test signed with the clock moved by SHIFT, valid DAYS from then.
kl_dated_leaf() { # out shift days
  faketime -f "$2" openssl x509 -req -in "$work/leaf.csr" -CA "$work/int.pem" -CAkey "$work/int.key" \
    -CAcreateserial -out "$1" -days "$3" -extfile "$work/leaf.ext" 2>/dev/null
}

# TLS 1.3 successes, one per cipher suite (OpenSSL both sides; the CCM suites must be named on
# both, as neither side offers them by default): a line each way, close_notify both ways.
keylog_tls13_suites() {
  local s name
  for s in TLS_AES_128_GCM_SHA256:aes128gcm TLS_AES_256_GCM_SHA384:aes256gcm \
    TLS_CHACHA20_POLY1305_SHA256:chacha20 TLS_AES_128_CCM_SHA256:aes128ccm TLS_AES_128_CCM_8_SHA256:aes128ccm8; do
    name=tls13-${s#*:} s=${s%%:*}
    kl_openssl "$name" "TLS 1.3 $s success, with key log" \
      -tls1_3 -ciphersuites "$s" -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem" -- \
      -tls1_3 -ciphersuites "$s" -servername server.test -CAfile "$work/ca.pem" -verify_return_error
  done
}

# TLS 1.3 with ALPN: the server's choice travels in EncryptedExtensions, readable only decrypted.
keylog_alpn() {
  kl_openssl tls13-alpn "TLS 1.3 success, h2 chosen in EncryptedExtensions, with key log" \
    -tls1_3 -alpn h2,http/1.1 -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem" -- \
    -tls1_3 -alpn h2 -servername server.test -CAfile "$work/ca.pem" -verify_return_error
}

# TLS 1.2 (and one 1.0) successes, one per record protection: AEADs, CBC with HMAC-SHA1 with and
# without encrypt_then_mac, HMAC-SHA256 and -SHA384, and one without the extended master secret.
keylog_tls12_suites() {
  local s name rsa=(-cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem")
  local verify=(-servername server.test -CAfile "$work/ca.pem" -verify_return_error)
  for s in ECDHE-RSA-AES128-GCM-SHA256:ecdhe-rsa-aes128gcm ECDHE-RSA-AES256-GCM-SHA384:ecdhe-rsa-aes256gcm \
    ECDHE-RSA-CHACHA20-POLY1305:ecdhe-rsa-chacha20 ECDHE-RSA-AES128-SHA:ecdhe-rsa-aes128sha-etm \
    AES256-SHA256:rsa-aes256sha256 ECDHE-RSA-AES256-SHA384:ecdhe-rsa-aes256sha384; do
    name=tls12-${s#*:} s=${s%%:*}
    kl_openssl "$name" "TLS 1.2 $s success, with key log" \
      -tls1_2 -cipher "$s" "${rsa[@]}" -- -tls1_2 -cipher "$s" "${verify[@]}"
  done
  # OpenSSL offers encrypt_then_mac by default; -no_etm on the client leaves MAC-then-encrypt.
  kl_openssl tls12-ecdhe-rsa-aes128sha-noetm "TLS 1.2 ECDHE-RSA-AES128-SHA without encrypt_then_mac, with key log" \
    -tls1_2 -cipher ECDHE-RSA-AES128-SHA "${rsa[@]}" -- -tls1_2 -cipher ECDHE-RSA-AES128-SHA -no_etm "${verify[@]}"
  # AES-CCM with ECDHE needs an ECDSA certificate: a P-256 leaf for server.test under the intermediate.
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ec.key" -out "$work/ec.csr" \
    -subj "/O=tlsdiag test/CN=server.test" 2>/dev/null
  openssl x509 -req -in "$work/ec.csr" -CA "$work/int.pem" -CAkey "$work/int.key" -CAcreateserial \
    -out "$work/ec.pem" -days 365 -extfile "$work/leaf.ext" 2>/dev/null
  kl_openssl tls12-ecdhe-ecdsa-aes128ccm "TLS 1.2 ECDHE-ECDSA-AES128-CCM success (P-256 leaf), with key log" \
    -tls1_2 -cipher ECDHE-ECDSA-AES128-CCM -cert "$work/ec.pem" -key "$work/ec.key" -cert_chain "$work/int.pem" -- \
    -tls1_2 -cipher ECDHE-ECDSA-AES128-CCM "${verify[@]}"
  kl_openssl tls10-ecdhe-rsa-aes256sha "TLS 1.0 ECDHE-RSA-AES256-SHA (CBC) success, with key log" \
    -tls1 -cipher 'ECDHE-RSA-AES256-SHA:@SECLEVEL=0' "${rsa[@]}" -- \
    -tls1 -cipher 'ECDHE-RSA-AES256-SHA:@SECLEVEL=0' "${verify[@]}"
  # OpenSSL 3.0's s_client has no -no_ems: the client's configuration turns the option off
  # (Options = -ExtendedMasterSecret), so its ClientHello offers no extended_master_secret.
  printf '%s\n' 'openssl_conf = openssl_init' '[openssl_init]' 'ssl_conf = ssl_sect' '[ssl_sect]' \
    'system_default = tlsdiag_no_ems' '[tlsdiag_no_ems]' 'Options = -ExtendedMasterSecret' > "$work/no-ems.cnf"
  name=tls12-ecdhe-rsa-aes128gcm-no-ems
  kl_start "$name"
  s_server 443 -rev -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 "${rsa[@]}"
  OPENSSL_CONF="$work/no-ems.cnf" kl_s_client "$kdir/$name.keys" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 "${verify[@]}"
  kl_done "$name" "TLS 1.2 ECDHE-RSA-AES128-GCM without extended_master_secret, with key log"
}

# TLS 1.3 failures with the client's key log (s_client). OpenSSL's client rejecting the server's
# certificate sends its alert in the clear: it makes its handshake write key only for its second
# flight, so its key log holds SERVER_HANDSHAKE_TRAFFIC_SECRET alone (GnuTLS and Chromium encrypt
# that alert, see below). The server refusing the client's certificate (or its absence) answers
# the client's Finished under its application traffic keys.
keylog_tls13_failures() {
  local rsa=(-cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem")
  kl_dated_leaf "$work/expired.pem" -400d 30
  kl_openssl tls13-cert-expired "TLS 1.3, the client rejects an expired leaf: certificate_expired (45) in clear" \
    -tls1_3 -cert "$work/expired.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem" -- \
    -tls1_3 -servername server.test -CAfile "$work/ca.pem" -verify_return_error
  kl_openssl tls13-unknown-ca "TLS 1.3, the client trusts another CA: unknown_ca (48) in clear" \
    -tls1_3 "${rsa[@]}" -- -tls1_3 -servername server.test -CAfile "$work/other.pem" -verify_return_error
  kl_openssl tls13-name-mismatch "TLS 1.3, the client expects wrong.test: bad_certificate (42) in clear" \
    -tls1_3 "${rsa[@]}" -- \
    -tls1_3 -servername wrong.test -verify_hostname wrong.test -CAfile "$work/ca.pem" -verify_return_error
  kl_openssl tls13-client-cert-required "TLS 1.3, the server requires a client certificate, none sent: certificate_required (116), encrypted" \
    -tls1_3 -Verify 1 -CAfile "$work/ca.pem" "${rsa[@]}" -- -tls1_3 -servername server.test -CAfile "$work/ca.pem"
  kl_openssl tls13-client-cert-rejected "TLS 1.3, the server rejects the client's self-signed certificate: unknown_ca (48), encrypted" \
    -tls1_3 -Verify 1 -verify_return_error -CAfile "$work/ca.pem" "${rsa[@]}" -- \
    -tls1_3 -servername server.test -CAfile "$work/ca.pem" -cert "$work/self.pem" -key "$work/self.key"
}

# TLS 1.3 failures recorded with other OpenSSL and GnuTLS clients writing SSLKEYLOGFILE: curl
# against s_server -www, gnutls-cli against s_server -rev. GnuTLS, unlike OpenSSL, sends its
# certificate alert under its handshake traffic keys, after its ChangeCipherSpec.
keylog_curl_gnutls() {
  local rsa=(-cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem") name
  name=curl-tls13-unknown-ca
  kl_start "$name"
  s_server 443 -tls1_3 -www "${rsa[@]}"
  SSLKEYLOGFILE="$kdir/$name.keys" curl -s --max-time 3 --cacert "$work/other.pem" \
    --resolve server.test:443:127.0.0.1 -o /dev/null https://server.test/ || true
  kl_done "$name" "curl (OpenSSL), TLS 1.3, trusts another CA: unknown_ca (48) in clear"
  name=curl-tls13-client-cert-required
  kl_start "$name"
  s_server 443 -tls1_3 -www -Verify 1 -CAfile "$work/ca.pem" "${rsa[@]}"
  SSLKEYLOGFILE="$kdir/$name.keys" curl -s --max-time 3 --cacert "$work/ca.pem" \
    --resolve server.test:443:127.0.0.1 -o /dev/null https://server.test/ || true
  kl_done "$name" "curl (OpenSSL), TLS 1.3, no client certificate: certificate_required (116), encrypted"
  kl_dated_leaf "$work/expired.pem" -400d 30
  name=gnutls-tls13-cert-expired
  kl_start "$name"
  s_server 443 -rev -tls1_3 -cert "$work/expired.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem"
  (echo "hello from gnutls-cli"; sleep 0.5) | SSLKEYLOGFILE="$kdir/$name.keys" timeout 4 gnutls-cli --port 443 \
    --sni-hostname server.test --verify-hostname server.test --x509cafile "$work/ca.pem" 127.0.0.1 >/dev/null 2>&1 || true
  kl_done "$name" "gnutls-cli, TLS 1.3, rejects an expired leaf: bad_certificate (42), encrypted"
  name=gnutls-tls13-name-mismatch
  kl_start "$name"
  s_server 443 -rev -tls1_3 "${rsa[@]}"
  (echo "hello from gnutls-cli"; sleep 0.5) | SSLKEYLOGFILE="$kdir/$name.keys" timeout 4 gnutls-cli --port 443 \
    --sni-hostname wrong.test --verify-hostname wrong.test --x509cafile "$work/ca.pem" 127.0.0.1 >/dev/null 2>&1 || true
  kl_done "$name" "gnutls-cli, TLS 1.3, expects wrong.test: bad_certificate (42), encrypted"
  name=gnutls-tls13-unknown-ca
  kl_start "$name"
  s_server 443 -rev -tls1_3 "${rsa[@]}"
  (echo "hello from gnutls-cli"; sleep 0.5) | SSLKEYLOGFILE="$kdir/$name.keys" timeout 4 gnutls-cli --port 443 \
    --sni-hostname server.test --verify-hostname server.test --x509cafile "$work/other.pem" 127.0.0.1 >/dev/null 2>&1 || true
  kl_done "$name" "gnutls-cli, TLS 1.3, trusts another CA: bad_certificate (42), encrypted"
}

# TLS 1.2 client certificate failures with the client's key log. OpenSSL checks a client's
# Certificate as it reads it, before the client's ChangeCipherSpec, so in a first handshake its
# alert is in the clear; in a renegotiation (s_server's "R" command: renegotiate and ask for a
# certificate) the whole second handshake and the alert ride under the first one's keys.
keylog_tls12_failures() {
  local rsa=(-cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem") name
  kl_openssl tls12-client-cert-required "TLS 1.2, a client certificate required, none sent: handshake_failure (40) in clear" \
    -tls1_2 -Verify 1 -CAfile "$work/ca.pem" "${rsa[@]}" -- -tls1_2 -servername server.test -CAfile "$work/ca.pem"
  kl_openssl tls12-client-cert-rejected "TLS 1.2, the server rejects the client's certificate: unknown_ca (48) in clear" \
    -tls1_2 -Verify 1 -verify_return_error -CAfile "$work/ca.pem" "${rsa[@]}" -- \
    -tls1_2 -servername server.test -CAfile "$work/ca.pem" -cert "$work/self.pem" -key "$work/self.key"
  name=tls12-client-cert-rejected-reneg
  kl_start "$name"
  # No -quiet: s_server reads its commands on standard input; "R" comes after the first
  # handshake and the client's line. Without resumption the renegotiation is a full handshake.
  # (start_server would give it /dev/null: a command put in the background reads no input.)
  openssl s_server -accept 443 -naccept 1 -tls1_2 -no_resumption_on_reneg -verify_return_error \
    -CAfile "$work/ca.pem" "${rsa[@]}" < <(sleep 1.5; echo R; sleep 3) >"$work/server.log" 2>&1 &
  server_pid=$!; pids+=("$server_pid")
  for _ in $(seq 50); do ss -ltn "sport = :443" | grep -q LISTEN && break; sleep 0.1; done
  (echo "hello from s_client"; sleep 2.5) | timeout 4 openssl s_client -connect 127.0.0.1:443 -tls1_2 \
    -servername server.test -CAfile "$work/ca.pem" -cert "$work/self.pem" -key "$work/self.key" \
    -keylogfile "$kdir/$name.keys" >/dev/null 2>&1 || true
  kl_done "$name" "TLS 1.2, the server renegotiates for a client certificate and rejects it: unknown_ca (48), encrypted"
}

# Chromium (BoringSSL), headless, in a network namespace of its own that has only lo, so that
# nothing it tries reaches past this machine; s_server -www in the same namespace.
keylog_chromium() {
  local ns=tlsdiag-kc name flags
  command -v chromium >/dev/null || { echo "generate.sh: keylog_chromium skipped: chromium is missing (apt-get install chromium)" >&2; return 0; }
  ip netns del $ns 2>/dev/null || true
  ip netns add $ns; ip -n $ns link set lo up
  for name in chromium-tls13-success chromium-tls13-unknown-ca; do
    mkdir -p "$kdir"; rm -f "$kdir/$name.keys" "$kdir/$name.pcap"; rm -rf "$work/chromium"
    ip netns exec $ns tcpdump -q -i lo --immediate-mode -U -s 0 -w "$kdir/$name.pcap" "tcp port 443" 2>/dev/null &
    capture_pid=$!; pids+=("$capture_pid"); sleep 1
    ip netns exec $ns openssl s_server -accept 443 -quiet -www -cert "$work/leaf.pem" -key "$work/leaf.key" \
      -cert_chain "$work/int.pem" >/dev/null 2>&1 &
    server_pid=$!; pids+=("$server_pid"); sleep 1
    # Chromium trusts its own store, where the test CA is not: the success ignores certificate errors.
    flags=(); [ $name = chromium-tls13-success ] && flags=(--ignore-certificate-errors)
    ip netns exec $ns timeout 30 chromium --headless --no-sandbox --user-data-dir="$work/chromium" \
      --no-first-run --disable-background-networking --ssl-key-log-file="$kdir/$name.keys" \
      --host-resolver-rules='MAP server.test 127.0.0.1' "${flags[@]}" --dump-dom https://server.test/ \
      >/dev/null 2>&1 || true
    stop_server; stop_capture
  done
  ip netns del $ns
  say "keylog/chromium-tls13-success.pcap" "headless Chromium (BoringSSL) ignoring certificate errors: GET / answered; a second connection left idle"
  say "keylog/chromium-tls13-unknown-ca.pcap" "headless Chromium, the test CA unknown to it: certificate_unknown (46), encrypted"
}

# Other client stacks against s_server -rev (TLS 1.3): Node's tls (key log from its 'keylog'
# event), Python's ssl (keylog_filename) and Java's JSSE (no key log: its captures have none).
# Each succeeds, then trusts another CA than the server's and rejects its certificate.
keylog_other_clients() {
  local rsa=(-cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem") ca name
  for ca in ca:success other:unknown-ca; do
    if command -v node >/dev/null; then
      name=node-tls13-${ca#*:}
      kl_start "$name"; s_server 443 -rev "${rsa[@]}"
      timeout 5 node "$here/clients/node_client.js" 127.0.0.1 443 server.test "$work/${ca%%:*}.pem" "$kdir/$name.keys" \
        >/dev/null 2>&1 || true
      kl_done "$name" "Node tls client ($([ ${ca%%:*} = ca ] && echo success || echo 'trusts another CA')), with key log"
    else
      echo "generate.sh: node clients skipped: node is missing (apt-get install nodejs)" >&2
    fi
    name=python-tls13-${ca#*:}
    kl_start "$name"; s_server 443 -rev "${rsa[@]}"
    timeout 5 python3 "$here/clients/python_client.py" 127.0.0.1 443 server.test "$work/${ca%%:*}.pem" "$kdir/$name.keys" \
      >/dev/null 2>&1 || true
    kl_done "$name" "Python ssl client ($([ ${ca%%:*} = ca ] && echo success || echo 'trusts another CA')), with key log"
    if command -v javac >/dev/null && command -v java >/dev/null; then
      [ -f "$work/java/JavaClient.class" ] || javac -d "$work/java" "$here/clients/JavaClient.java"
      name=java-tls13-${ca#*:}
      kl_start "$name"; s_server 443 -rev "${rsa[@]}"
      timeout 10 java -cp "$work/java" JavaClient 127.0.0.1 443 server.test "$work/${ca%%:*}.pem" >/dev/null 2>&1 || true
      kl_done "$name" "Java JSSE client ($([ ${ca%%:*} = ca ] && echo success || echo 'trusts another CA')), no key log"
    else
      echo "generate.sh: java clients skipped: javac or java is missing (apt-get install default-jdk-headless)" >&2
    fi
  done
}

# Derived from the key log captures (after keylog_tls13_failures and keylog_tls12_suites), and a
# key log from another run:
# - a pcapng carrying its own key log (a Decryption Secrets Block, editcap --inject-secrets),
#   which tshark decrypts with no key log option: tls13-client-cert-required, whose alert is
#   encrypted;
# - tls13-aes128gcm.wrong.keys: the key log of a second, uncaptured run of the same client and
#   server as tls13-aes128gcm.pcap; it holds no secret of the captured connection;
# - a middlebox's change to a TLS 1.2 handshake: one byte of the server's Certificate message
#   (alter_handshake.py), so the key log still decrypts but neither Finished matches the
#   captured transcript.
keylog_derived() {
  local name=tls13-client-cert-required
  editcap --inject-secrets "tls,$kdir/$name.keys" "$kdir/$name.pcap" "$kdir/$name-dsb.pcapng"
  say "keylog/$name-dsb.pcapng" "derived: $name.pcap with its key log inside (editcap --inject-secrets)"
  s_server 443 -rev -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 -cert "$work/leaf.pem" -key "$work/leaf.key" \
    -cert_chain "$work/int.pem"
  rm -f "$kdir/tls13-aes128gcm.wrong.keys"
  kl_s_client "$kdir/tls13-aes128gcm.wrong.keys" -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 \
    -servername server.test -CAfile "$work/ca.pem" -verify_return_error
  stop_server
  echo "keylog/tls13-aes128gcm.wrong.keys: the key log of another run of tls13-aes128gcm's client"
  python3 -c "import scapy" 2>/dev/null || { echo "generate.sh: keylog_derived needs scapy (pip install scapy)" >&2; return 1; }
  name=tls12-ecdhe-rsa-aes128gcm
  python3 "$here/alter_handshake.py" "$kdir/$name.pcap" "$kdir/$name-altered.pcap"
  cp "$kdir/$name.keys" "$kdir/$name-altered.keys"
  say "keylog/$name-altered.pcap" "derived: $name.pcap with one byte of the server's Certificate changed"
}

# --- retries, and client stacks side by side: what the summary's links and groups are for
retry_refused() {
  local f="$here/retry-refused.pcap" curl_pid
  start_capture "$f" "tcp port 443"
  # curl's first attempt finds nothing listening on 443 (RST); it retries a second later
  # (--retry-connrefused), when s_server is up, and gets its page.
  curl -s --retry 3 --retry-connrefused --retry-delay 1 --cacert "$work/ca.pem" \
    --resolve server.test:443:127.0.0.1 -o /dev/null https://server.test/ &
  curl_pid=$!; pids+=("$curl_pid")
  sleep 0.3
  s_server 443 -www -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem"
  wait "$curl_pid" || true
  stop_server; stop_capture
  say "$(basename "$f")" "curl --retry-connrefused: refused, then retried a second later and established"
}

fallback_after_protocol_version() {
  local f="$here/fallback-protocol-version.pcap"
  start_capture "$f" "tcp port 443"
  s_server 443 -tls1_2 -cert "$work/leaf.pem" -key "$work/leaf.key" -cert_chain "$work/int.pem"
  # The fallback dance of older browsers, scripted: TLS 1.3 alone is refused with
  # protocol_version; the client tries again offering TLS 1.2 at most, with TLS_FALLBACK_SCSV
  # as RFC 7507 asks.
  s_client 443 -tls1_3 -servername server.test
  s_client 443 -tls1_2 -fallback_scsv -servername server.test -CAfile "$work/ca.pem"
  stop_server; stop_capture
  say "$(basename "$f")" "openssl s_client: TLS 1.3 refused (protocol_version), retried at TLS 1.2 with the fallback SCSV"
}

# Headless Chromium against a server that resets its first connection after the ClientHello
# and serves the next ones: Chromium retries on its own and loads the page. In a namespace of
# its own with only lo, as keylog_chromium, so nothing it tries leaves the machine.
chromium_retry() {
  local f="$here/chromium-retry.pcap" ns=tlsdiag-cr
  command -v chromium >/dev/null || { echo "generate.sh: chromium_retry skipped: chromium is missing (apt-get install chromium)" >&2; return 0; }
  ip netns del $ns 2>/dev/null || true
  ip netns add $ns; ip -n $ns link set lo up; rm -rf "$work/chromium"
  ip netns exec $ns tcpdump -q -i lo --immediate-mode -U -s 0 -w "$f" "tcp port 443" 2>/dev/null &
  capture_pid=$!; pids+=("$capture_pid"); sleep 1
  ip netns exec $ns python3 "$here/plaintext_servers.py" resetfirst 443 "$work/chain.pem" "$work/leaf.key" \
    >/dev/null 2>&1 &
  server_pid=$!; pids+=("$server_pid"); sleep 1
  ip netns exec $ns timeout 30 chromium --headless --no-sandbox --user-data-dir="$work/chromium" \
    --no-first-run --disable-background-networking --ignore-certificate-errors \
    --host-resolver-rules='MAP server.test 127.0.0.1' --dump-dom https://server.test/ >/dev/null 2>&1 || true
  stop_server; stop_capture
  ip netns del $ns
  say "$(basename "$f")" "headless Chromium: its first connection reset after the ClientHello, its retry loads the page"
}

two_client_stacks() {
  local f="$here/two-client-stacks.pcap" old=198.18.0.3 i
  hosts_up
  ip -n $NS_C addr add $old/24 dev tlsdiag-c0
  client_capture "$f" "tcp port 443"
  in_server openssl s_server -accept 443 -quiet -www -no_tls1 -no_tls1_1 -cert "$work/leaf.pem" \
    -key "$work/leaf.key" -cert_chain "$work/int.pem"
  # An old client at 198.18.0.3 (the route's source hint picks the address) that speaks TLS 1.0
  # only, against a server of TLS 1.2 and 1.3: refused each time.
  ip -n $NS_C route replace $S_IP/32 dev tlsdiag-c0 src $old
  for i in 1 2 3; do
    echo | ip netns exec $NS_C timeout 3 openssl s_client -connect $S_IP:443 -tls1 \
      -cipher 'DEFAULT:@SECLEVEL=0' -servername server.test >/dev/null 2>&1 || true
  done
  # Modern clients at 198.18.0.1: curl (OpenSSL) and gnutls-cli, each twice, get through.
  ip -n $NS_C route replace $S_IP/32 dev tlsdiag-c0 src $C_IP
  for i in 1 2; do
    ip netns exec $NS_C curl -s --cacert "$work/ca.pem" --resolve server.test:443:$S_IP -o /dev/null \
      https://server.test/ || true
    (echo "GET / HTTP/1.0"; echo; sleep 0.3) | ip netns exec $NS_C timeout 5 gnutls-cli --port 443 \
      --sni-hostname server.test --verify-hostname server.test --x509cafile "$work/ca.pem" $S_IP \
      >/dev/null 2>&1 || true
  done
  stop_server; stop_capture; hosts_down
  say "$(basename "$f")" "a TLS 1.0-only client fails three times against a TLS 1.2+ server; curl and gnutls-cli from another address get through"
}

keylogs=(keylog_tls13_suites keylog_alpn keylog_tls12_suites keylog_tls13_failures keylog_curl_gnutls keylog_tls12_failures
  keylog_chromium keylog_other_clients keylog_derived)

failures=(tcp_no_response icmp_unreachable client_hello_lost middlebox_reset no_server_hello
  server_reset_closed client_reset_closed port_reuse not_tls_server_ssh unrecognized_name missing_sni
  no_application_protocol no_common_signature cert_expired cert_not_yet_valid cert_name_mismatch cert_chain_incomplete
  cert_rejected_tls13 client_cert hello_retry_failed downgrade psk_mismatch small_snaplen legacy_tls10
  cut_alert download hostile_text hostile_markup sslv2 sslv2_refused derived_captures)

retries=(retry_refused fallback_after_protocol_version chromium_retry two_client_stacks)

all=(tls13_sni_alpn tls12_ecdhe_chain protocol_version no_shared_cipher unknown_ca refused
  gnutls_any tls12_pcapng interleaved resumed_tls12 resumed_tls13 starttls_smtp postgres_sslrequest http_on_443
  tcp_fast_open ipv6_veth vlan_tagged one_direction unknown_link_type cooked_any vxlan_tunnel vxlan_fragmented rewrapped
  "${failures[@]}" "${retries[@]}" "${keylogs[@]}")
pki
for s in "${@:-${all[@]}}"; do
  "$s"
done

# Sanity check, printed only (never fails the run): each file's format, link type, packet count
# and TCP conversations as tshark sees them.
echo
echo "--- check: capinfos and tshark -q -z conv,tcp"
for f in "${made[@]}"; do
  echo "$f: $(capinfos -T -r -t -E -c "$here/$f" 2>/dev/null | cut -f2- | tr '\t' ' ' || true) packets"
  tshark -r "$here/$f" -q -z conv,tcp 2>/dev/null | grep -- '<->' | sed 's/^/    /' || true
done
