#!/usr/bin/env bash
# Writes EXPECTED.tsv beside this script: for every capture in captures/keylog/, what tshark
# reads in it with its key log, for the people and the tests of issue 20 (the tests run tshark
# themselves; this file is for reading). One row per capture and key log: NAME.keys, and any
# NAME.SOMETHING.keys (a key log of another run); a capture without one (Java's; the pcapng that
# holds its own secrets) gets one row without `-o tls.keylog_file`.
#
# Columns:
#   file, keys        the capture and the key log given to tshark (`-` for none)
#   client            the client's TLS stack (from the file's name, as generate.sh made it)
#   version, suite    of each ServerHello in the clear (tls.handshake.version, or 0x0304 in
#                     supported_versions; tls.handshake.ciphersuite by name)
#   alerts            FRAME:SENDER:DESCRIPTION(CODE):clear|encrypted for each alert tshark reads
#                     with the key log (tls.alert_message.desc); `encrypted` when tshark reads no
#                     description in that frame without it (for NAME-dsb.pcapng, in NAME.pcap)
#   decrypted_handshake  FRAME:TYPES of the handshake messages tshark reads only with the key log
#                     (tls.handshake.type, numbers: 0 HelloRequest, 1 ClientHello, 2 ServerHello,
#                     4 NewSessionTicket, 8 EncryptedExtensions, 11 Certificate,
#                     12 ServerKeyExchange, 13 CertificateRequest, 14 ServerHelloDone,
#                     15 CertificateVerify, 16 ClientKeyExchange, 20 Finished)
#   decrypted_app_data   per TCP stream, the application data bytes tshark decrypts each way
#                     (`tshark -z follow,tls,raw,STREAM`), or `none`
#
# usage: captures/keylog/expected.sh     (needs tshark)
set -euo pipefail
cd "$(dirname "$0")"
export LC_ALL=C

client_of() {
  case $1 in
    curl-*) echo "curl 7.88 (OpenSSL 3.0)" ;;
    gnutls-*) echo "gnutls-cli 3.7" ;;
    chromium-*) echo "Chromium headless (BoringSSL)" ;;
    node-*) echo "Node tls (OpenSSL 3.0)" ;;
    python-*) echo "Python ssl (OpenSSL 3.0)" ;;
    java-*) echo "Java 17 JSSE" ;;
    *-altered.pcap) echo "openssl s_client 3.0; derived: one byte changed by alter_handshake.py" ;;
    *-dsb.pcapng) echo "openssl s_client 3.0; derived: key log inside (editcap --inject-secrets)" ;;
    *) echo "openssl s_client 3.0" ;;
  esac
}

alert_name() {
  case $1 in
    0) echo close_notify ;; 10) echo unexpected_message ;; 20) echo bad_record_mac ;;
    40) echo handshake_failure ;; 42) echo bad_certificate ;; 45) echo certificate_expired ;;
    46) echo certificate_unknown ;; 48) echo unknown_ca ;; 50) echo decode_error ;;
    51) echo decrypt_error ;; 80) echo internal_error ;; 90) echo user_canceled ;;
    116) echo certificate_required ;; *) echo alert ;;
  esac
}

join() { local IFS=' '; echo "${*:-none}"; }

row() { # capture keys
  local cap=$1 keys=$2 opts=() version suite alerts=() handshake=() app=() line plain=$1
  [ "$keys" = - ] || opts=(-o "tls.keylog_file:$keys")
  # What tshark reads with no secret at all. NAME-dsb.pcapng carries its own (a Decryption
  # Secrets Block), and this tshark (4.0) can neither read it without them nor write a copy
  # without them, so the pcap it was made from, packet for packet, stands in.
  case $cap in *-dsb.pcapng) plain=${cap%-dsb.pcapng}.pcap ;; esac

  version=$(tshark -r "$cap" -Y 'tls.handshake.type == 2' -T fields \
      -e tls.handshake.extensions.supported_version -e tls.handshake.version 2>/dev/null |
    awk -F'\t' '{v = ($1 == "0x0304") ? "TLS 1.3" : ($2 == "0x0303") ? "TLS 1.2" : ($2 == "0x0302") ? "TLS 1.1" : ($2 == "0x0301") ? "TLS 1.0" : $2
                 if (!(v in seen)) { seen[v]; out = out (out == "" ? "" : ",") v } } END { print (out == "" ? "none" : out) }')
  suite=$(tshark -r "$cap" -Y 'tls.handshake.type == 2' -O tls -V 2>/dev/null |
    sed -n 's/^ *Cipher Suite: \([A-Z0-9_]*\) .*/\1/p' | awk '!($0 in s) { s[$0]; out = out (out == "" ? "" : ",") $0 } END { print (out == "" ? "none" : out) }')

  # Alerts: the frames whose description tshark reads without the key log are in the clear.
  local clear
  clear=" $(tshark -r "$plain" -Y tls.alert_message.desc -T fields -e frame.number 2>/dev/null | tr '\n' ' ') "
  while IFS=$'\t' read -r frame port descs; do
    [ -n "$frame" ] || continue
    local sender=client where=encrypted d
    [ "$port" = 443 ] && sender=server
    case $clear in *" $frame "*) where=clear ;; esac
    for d in ${descs//,/ }; do alerts+=("$frame:$sender:$(alert_name "$d")($d):$where"); done
  done < <(tshark -r "$cap" "${opts[@]}" -Y tls.alert_message.desc -T fields -e frame.number -e tcp.srcport \
             -e tls.alert_message.desc 2>/dev/null)

  # Handshake messages read only with the key log: per frame, the types with it less those without.
  while read -r line; do handshake+=("$line"); done < <(
    join_frames() { tshark -r "$1" "${@:2}" -Y tls.handshake.type -T fields -e frame.number -e tls.handshake.type 2>/dev/null; }
    awk -F'\t' 'NR == FNR { plain[$1] = $2; next }
      { n = split($2, with, ","); m = split(plain[$1], without, ","); delete used; out = ""
        for (i = 1; i <= n; i++) { hit = 0
          for (j = 1; j <= m; j++) if (!(j in used) && without[j] == with[i]) { used[j]; hit = 1; break }
          if (!hit) out = out (out == "" ? "" : ",") with[i] }
        if (out != "") print $1 ":" out }' <(join_frames "$plain") <(join_frames "$cap" "${opts[@]}"))

  # Application data: what tshark's TLS follow gives per stream. Node 0's bytes are flush left,
  # the other side's indented; this tshark names as Node 0 either side, so its port says which.
  local streams s
  streams=$(tshark -r "$cap" -T fields -e tcp.stream 2>/dev/null | sort -un)
  for s in $streams; do
    line=$(tshark -r "$cap" "${opts[@]}" -q -z "follow,tls,raw,$s" 2>/dev/null |
      awk '/^Node 0: / { server0 = ($3 ~ /:443$/); next }
           /^====|^Follow:|^Filter:|^Node 1:/ { next }
           /^\t/ { gsub(/\t/, ""); other += length($0) / 2; next } NF { first += length($0) / 2 }
           END { c = server0 ? other : first; s = server0 ? first : other
                 if (c + s > 0) printf "%d c>s, %d s>c", c, s }')
    [ -n "$line" ] && app+=("stream $s: $line")
  done

  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cap" "$keys" "$(client_of "$cap")" "$version" "$suite" \
    "$(join "${alerts[@]}")" "$(join "${handshake[@]}")" "$(IFS=';'; echo "${app[*]:-none}")"
}

{
  printf 'file\tkeys\tclient\tversion\tsuite\talerts\tdecrypted_handshake\tdecrypted_app_data\n'
  for cap in *.pcap *.pcapng; do
    [ -f "$cap" ] || continue
    base=${cap%.*} keysets=()
    for k in "$base.keys" "$base".*.keys; do [ -f "$k" ] && keysets+=("$k"); done
    [ ${#keysets[@]} -gt 0 ] || keysets=(-)
    for k in "${keysets[@]}"; do row "$cap" "$k"; done
  done
} > EXPECTED.tsv.new
mv EXPECTED.tsv.new EXPECTED.tsv
echo "wrote $(pwd)/EXPECTED.tsv ($(($(wc -l < EXPECTED.tsv) - 1)) rows)"
