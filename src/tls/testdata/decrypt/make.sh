#!/usr/bin/env bash
# Records one real TLS exchange per case on loopback (openssl s_server -rev and s_client,
# tcpdump on lo) and writes it as a text fixture: the client's key log lines, every TLS
# record in capture order with its direction, and what tshark decrypts with the same key
# log, as the oracle the unit tests compare with. Needs root (tcpdump), openssl, tshark.
#   src/tls/testdata/decrypt/make.sh [NAME...]     (all cases, or those named)
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
    -subj /CN=localhost 2>/dev/null
port=44400

# name | server options | client options [| K: the client sends a KeyUpdate first]
cases=(
    "tls13-aes128gcm|-ciphersuites TLS_AES_128_GCM_SHA256|-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256"
    "tls13-aes256gcm|-ciphersuites TLS_AES_256_GCM_SHA384|-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384"
    "tls13-chacha20|-ciphersuites TLS_CHACHA20_POLY1305_SHA256|-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256"
    "tls13-aes128ccm|-ciphersuites TLS_AES_128_CCM_SHA256|-tls1_3 -ciphersuites TLS_AES_128_CCM_SHA256"
    "tls13-aes128ccm8|-ciphersuites TLS_AES_128_CCM_8_SHA256|-tls1_3 -ciphersuites TLS_AES_128_CCM_8_SHA256"
    "tls12-ecdhe-rsa-aes128gcm|-cipher ECDHE-RSA-AES128-GCM-SHA256|-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256"
    "tls12-ecdhe-rsa-aes256gcm|-cipher ECDHE-RSA-AES256-GCM-SHA384|-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384"
    "tls12-ecdhe-rsa-chacha20|-cipher ECDHE-RSA-CHACHA20-POLY1305|-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305"
    "tls12-rsa-aes128ccm|-cipher AES128-CCM|-tls1_2 -cipher AES128-CCM"
    "tls12-rsa-aes256ccm8|-cipher AES256-CCM8|-tls1_2 -cipher AES256-CCM8"
    "tls12-ecdhe-rsa-aes128sha-etm|-cipher ECDHE-RSA-AES128-SHA|-tls1_2 -cipher ECDHE-RSA-AES128-SHA"
    "tls12-ecdhe-rsa-aes128sha-mte|-cipher ECDHE-RSA-AES128-SHA -no_etm|-tls1_2 -cipher ECDHE-RSA-AES128-SHA"
    "tls12-rsa-aes256sha256|-cipher AES256-SHA256|-tls1_2 -cipher AES256-SHA256"
    "tls12-ecdhe-rsa-aes256sha384-mte|-cipher ECDHE-RSA-AES256-SHA384 -no_etm|-tls1_2 -cipher ECDHE-RSA-AES256-SHA384"
    "tls11-ecdhe-rsa-aes256sha-etm|-cipher ECDHE-RSA-AES256-SHA:@SECLEVEL=0|-tls1_1 -cipher ECDHE-RSA-AES256-SHA:@SECLEVEL=0"
    "tls10-ecdhe-rsa-aes128sha-mte|-cipher ECDHE-RSA-AES128-SHA:@SECLEVEL=0 -no_etm|-tls1 -cipher ECDHE-RSA-AES128-SHA:@SECLEVEL=0"
    "tls10-ecdhe-rsa-aes128sha-etm|-cipher ECDHE-RSA-AES128-SHA:@SECLEVEL=0|-tls1 -cipher ECDHE-RSA-AES128-SHA:@SECLEVEL=0"
    "tls13-keyupdate|-ciphersuites TLS_AES_128_GCM_SHA256|-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256|K"
)

for case in "${cases[@]}"; do
    IFS='|' read -r name sopts copts keyupdate <<<"$case"
    port=$((port + 1))
    if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
        continue
    fi
    rm -f cap.pcap keys.txt
    tcpdump -i lo -U -w cap.pcap "tcp port $port" >/dev/null 2>&1 &
    tpid=$!
    sleep 1
    # shellcheck disable=SC2086
    openssl s_server -accept "127.0.0.1:$port" -cert cert.pem -key key.pem -rev -naccept 1 \
        -quiet $sopts >/dev/null 2>&1 &
    spid=$!
    sleep 0.5
    # The client says one line; the server answers it reversed (-rev). Interactive
    # s_client (no -quiet) reads a K at the start of a line as: send a KeyUpdate that asks
    # the server to update too.
    # s_client reads a command from a whole read of its input, so the K goes alone.
    quiet=-quiet
    first=''
    if [ "$keyupdate" = K ]; then
        quiet=''
        first='K\n'
    fi
    # shellcheck disable=SC2086
    (printf "$first"; sleep 0.5; printf 'hello, tlsdiag\n'; sleep 1) |
        timeout 10 openssl s_client -connect "127.0.0.1:$port" -keylogfile keys.txt $quiet \
            $copts >/dev/null 2>&1 || true
    sleep 0.5
    kill "$spid" 2>/dev/null || true
    kill "$tpid" 2>/dev/null || true
    wait "$tpid" 2>/dev/null || true
    python3 - "$name" "$port" "$sopts" "$copts" "$out/$name.txt" "$keyupdate" <<'PY'
import subprocess, sys
name, port, sopts, copts, path, keyupdate = sys.argv[1:]
fields = subprocess.run(
    ["tshark", "-r", "cap.pcap", "-Y", "tcp.len>0", "-T", "fields", "-e", "tcp.srcport",
     "-e", "tcp.payload"], capture_output=True, text=True, check=True).stdout
# Loopback loses nothing: each direction's payloads, in order, are its byte stream.
streams = {"c": b"", "s": b""}
records = []  # (end offset in capture order, direction, type, version, body)
order = 0
for line in fields.splitlines():
    src, payload = line.split("\t")
    d = "s" if src == port else "c"
    streams[d] += bytes.fromhex(payload)
    data = streams[d]
    while len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big"):
        n = 5 + int.from_bytes(data[3:5], "big")
        records.append((d, data[0], data[1:3].hex(), data[5:n].hex()))
        data = data[n:]
    streams[d] = data
dump = subprocess.run(
    ["tshark", "-r", "cap.pcap", "-o", "tls.keylog_file:keys.txt", "-x"],
    capture_output=True, text=True, check=True).stdout
plain, cur = [], None
for line in dump.splitlines():
    if line.startswith("Decrypted TLS"):
        cur = []
        plain.append(cur)
    elif cur is not None and len(line) > 6 and line[4:6] == "  ":
        cur.append("".join(line[6:54].split()))
    else:
        cur = None
keys = [l for l in open("keys.txt").read().splitlines() if l and not l.startswith("#")]
version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
with open(path, "w") as f:
    f.write(f"# {name}: one TLS exchange on loopback, made by make.sh with {version}:\n")
    f.write(f"#   openssl s_server -rev {sopts}\n#   openssl s_client {copts}\n")
    if keyupdate:
        f.write("#   and a K line first, for a KeyUpdate that asks the server to update too\n")
    f.write("# keylog: the client's -keylogfile lines; record DIR TYPE VERSION BODY: every record\n")
    f.write("# in capture order (c: client to server, s: server to client); tshark: the plaintext\n")
    f.write("# of each record that tshark decrypts with the same key log, in the same order.\n")
    for k in keys:
        f.write(f"keylog {k}\n")
    for d, t, v, body in records:
        f.write(f"record {d} {t} {v} {body}\n")
    for p in plain:
        f.write(f"tshark {''.join(p)}\n")
print(f"{name}: {len(records)} records, {len(plain)} decrypted by tshark")
PY
done
