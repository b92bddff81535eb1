#!/usr/bin/env bash
# Whether two builds write the same reports, byte for byte: every bundled capture together and
# each bench file in target/bench, in text, json and ndjson, with -j 1 and -j 2. For changes
# that must not change behaviour (a refactor): build the old commit, keep its binary, build
# the new one, and compare.
#
#   benches/same_reports.sh OLD_BINARY [NEW_BINARY]    (default new: target/release/tlsdiag)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
old=$1
new=${2:-$here/target/release/tlsdiag}
cd "$here"
inputs=("captures/*.pcap captures/*.pcapng")
for f in target/bench/*.pcap; do
  [ -e "$f" ] && inputs+=("$f")
done
differ=0
for input in "${inputs[@]}"; do
  for format in text json ndjson; do
    for jobs in 1 2; do
      # shellcheck disable=SC2086 # the bundled captures are a glob
      a=$("$old" analyze --color never --format $format -j $jobs $input 2>/dev/null | sha256sum | cut -c1-16)
      # shellcheck disable=SC2086
      b=$("$new" analyze --color never --format $format -j $jobs $input 2>/dev/null | sha256sum | cut -c1-16)
      verdict=same
      [ "$a" = "$b" ] || { verdict=DIFFERENT; differ=1; }
      printf '%-40s %-6s -j %s  %s %s  %s\n' "${input:0:40}" "$format" "$jobs" "$a" "$b" "$verdict"
    done
  done
done
exit $differ
