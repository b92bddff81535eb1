#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 60: the CI smoke run), seeding empty corpora
# from the real captures in captures/. Needs cargo-fuzz; the stable toolchain works with
# RUSTC_BOOTSTRAP=1. Exits non-zero on the first crash, leaving the input in fuzz/artifacts/.
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(capture_file jobs packet tls_stream certificate report_text keylog decrypt)
export RUSTC_BOOTSTRAP=1

seed() {
    local target=$1 dir=corpus/$1
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || return 0
    local caps=(../captures/*.pcap ../captures/*.pcapng)
    case $target in
    capture_file | jobs) cp "${caps[@]}" ../captures/broken/* "$dir"/ ;;
    packet)
        # One seed per packet: the first 40 frames of each capture, as raw link-layer bytes.
        python3 - "$dir" "${caps[@]}" <<'PY'
import struct, sys
out, files = sys.argv[1], sys.argv[2:]
n = 0
for f in files:
    data = open(f, 'rb').read()
    if data[:4] not in (b'\xd4\xc3\xb2\xa1', b'\xa1\xb2\xc3\xd4'):
        continue
    end = '<' if data[:4] == b'\xd4\xc3\xb2\xa1' else '>'
    link = struct.unpack(end + 'I', data[20:24])[0] & 0xffff
    off = 24
    for _ in range(40):
        if off + 16 > len(data):
            break
        incl = struct.unpack(end + 'I', data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        # The target's first byte picks the link type from its list.
        links = [0, 1, 101, 108, 113, 228, 229, 276]
        if link not in links:
            break
        open(f'{out}/{n:05}', 'wb').write(bytes([links.index(link)]) + pkt)
        n += 1
        off += 16 + incl
PY
        ;;
    report_text)
        # Length-prefixed pieces: an SNI with OSC and CSI sequences, ALPN names that are not
        # UTF-8, a subject with a bidi override (the fuzzer finds the rest).
        printf '\x12\x1b]0;PWNED\x07\x1b[2Jevil\n.test\x02h2\x03\xff\xfe\x1b\x09bidi\xe2\x80\xaegpj' >"$dir/hostile"
        ;;
    keylog)
        # The key log lines of the decryption fixtures, whole and in 7-byte pieces.
        grep -h '^keylog ' ../src/tls/testdata/decrypt/*.txt | sed 's/^keylog //' >"$dir/lines"
        { printf '\x07'; cat "$dir/lines"; } >"$dir/pieces"
        ;;
    decrypt)
        # One seed per decryption fixture: its suite, the client's secret and randoms, and the
        # client's records under that secret, which decrypt: the fuzzer starts from records
        # that pass authentication.
        python3 - "$dir" ../src/tls/testdata/decrypt/*.txt <<'PY'
import sys
SUITES = [(0x0304, 0x1301), (0x0304, 0x1302), (0x0304, 0x1303), (0x0304, 0x1304),
          (0x0304, 0x1305), (0x0303, 0xc02f), (0x0303, 0xc030), (0x0303, 0xcca8),
          (0x0303, 0xc09c), (0x0303, 0xc0a1), (0x0303, 0xc013), (0x0303, 0x003d),
          (0x0303, 0xc028), (0x0302, 0xc014), (0x0301, 0xc013)]
out, files = sys.argv[1], sys.argv[2:]
for path in files:
    keys, records = {}, []
    for line in open(path):
        f = line.split()
        if f and f[0] == "keylog":
            keys[f[1]] = bytes.fromhex(f[3])
        elif f and f[0] == "record":
            records.append((f[1], int(f[2]), bytes.fromhex(f[3]), bytes.fromhex(f[4])))
    if not records:
        continue
    ch = next(b for d, t, v, b in records if d == "c" and t == 22)
    sh = next(b for d, t, v, b in records if d == "s" and t == 22)
    at = 39 + sh[38]
    suite = int.from_bytes(sh[at:at + 2], "big")
    version, etm, ext = int.from_bytes(sh[4:6], "big"), 0, sh[at + 5:]
    while len(ext) >= 4:
        kind, n = int.from_bytes(ext[:2], "big"), int.from_bytes(ext[2:4], "big")
        if kind == 43:
            version = int.from_bytes(ext[4:6], "big")
        etm |= kind == 22
        ext = ext[4 + n:]
    if version == 0x0304:
        secret = keys["CLIENT_TRAFFIC_SECRET_0"]
        mine = [r for r in records if r[0] == "c" and r[1] == 23][1:]
    else:
        secret = keys["CLIENT_RANDOM"]
        ccs = next(i for i, r in enumerate(records) if r[0] == "c" and r[1] == 20)
        mine = [r for r in records[ccs + 1:] if r[0] == "c"]
    seed = bytes([SUITES.index((version, suite)), 2 | etm, len(secret)]) + secret
    seed += ch[6:38] + sh[6:38]
    for d, t, v, body in mine:
        seed += bytes([t]) + v + len(body).to_bytes(2, "big") + body
    name = path.rsplit("/", 1)[-1].removesuffix(".txt")
    open(f"{out}/{name}", "wb").write(seed)
PY
        ;;
    tls_stream | certificate)
        command -v tshark >/dev/null || { echo "no tshark: $target starts from an empty corpus"; return 0; }
        local field=tcp.payload
        [ "$target" = certificate ] && field=tls.handshake.certificate
        local n=0
        for f in "${caps[@]}"; do
            tshark -r "$f" -Y "$field" -T fields -e "$field" 2>/dev/null | tr ',' '\n' | head -200 |
                while read -r hex; do
                    [ -n "$hex" ] && python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' \
                        "$hex" >"$dir/$(basename "$f")-$((n++))"
                done
        done
        ;;
    esac
}

for t in "${targets[@]}"; do
    seed "$t"
    echo "== $t: ${secs}s, corpus $(ls corpus/$t | wc -l) inputs"
    log=$(mktemp)
    if ! cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "== $t: CRASH, the input is in fuzz/artifacts/$t"
        exit 1
    fi
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$log" || tail -n 5 "$log"
    rm -f "$log"
done
