#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end check of the embark-* tools: keys, rule encryption, pcap round trips that are
# byte-exact, classification that agrees on plaintext and ciphertext, and bad input.
# usage: test_tools.sh BINDIR EXAMPLESDIR
set -eu
bin=$1 ex=$2
t=$(mktemp -d /tmp/embark-tools.XXXXXX)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_fail() { # expect_fail PATTERN CMD...: must exit non-zero and print PATTERN on stderr
  pat=$1; shift
  if "$@" >"$t/out" 2>"$t/err"; then fail "succeeded: $*"; fi
  grep -q -- "$pat" "$t/err" || { cat "$t/err" >&2; fail "no '$pat' from: $*"; }
}

for tool in embark-keygen embark-rules embark-pcap embark-classify; do
  "$bin/$tool" --help >/dev/null || fail "$tool --help"
done

"$bin/embark-keygen" "$t/key"
[ "$(stat -c %a "$t/key")" = 600 ] || fail "key mode"
expect_fail "cannot create key file" "$bin/embark-keygen" "$t/key"
cp "$t/key" "$t/loosekey"; chmod 644 "$t/loosekey"
expect_fail "must be 0600" "$bin/embark-rules" encrypt --key "$t/loosekey" --in "$ex/rules.txt" --out "$t/x.enc"
[ ! -e "$t/x.enc" ] || fail "output left behind"

"$bin/embark-rules" encrypt --key "$t/key" --in "$ex/rules.txt" --out "$t/rules.enc" \
  --pools "$ex/pools.txt" --pools-out "$t/pools.enc" 2>/dev/null
grep -q '^deny id=botnet' "$t/rules.enc" || fail "encrypted rules"
! grep -q '203\.0\.113' "$t/rules.enc" || fail "plaintext address in encrypted rules"
[ "$(grep -vc '^#' "$t/pools.enc")" = 25 ] || fail "pool values"
"$bin/embark-rules" keywords --key "$t/key" --in "$ex/keywords.txt" --out "$t/kw.enc" 2>/dev/null
! grep -qi 'confidential' "$t/kw.enc" || fail "keyword in clear"

printf 'deny src=1.2.3.4/24\n' >"$t/bad.txt"
expect_fail "bad.txt:1: src: '1.2.3.4/24' has host bits set" \
  "$bin/embark-rules" encrypt --key "$t/key" --in "$t/bad.txt" --out "$t/bad.enc"
[ ! -e "$t/bad.enc" ] || fail "output left behind"

for link in eth raw; do
  "$bin/embark-testgen" "$t/plain-$link.pcap" 3000 7 $link
  "$bin/embark-pcap" encrypt --key "$t/key" --rules "$ex/rules.txt" --pools "$ex/pools.txt" \
    "$t/plain-$link.pcap" "$t/enc-$link.pcap" 2>"$t/err" || { cat "$t/err"; fail "encrypt $link"; }
  "$bin/embark-pcap" decrypt --key "$t/key" --rules "$ex/rules.txt" --pools "$ex/pools.txt" \
    "$t/enc-$link.pcap" "$t/dec-$link.pcap" 2>"$t/err" || { cat "$t/err"; fail "decrypt $link"; }
  cmp "$t/plain-$link.pcap" "$t/dec-$link.pcap" || fail "round trip not byte-exact ($link)"
  "$bin/embark-classify" --rules "$ex/rules.txt" "$t/plain-$link.pcap" >"$t/cp"
  "$bin/embark-classify" --rules "$t/rules.enc" "$t/enc-$link.pcap" >"$t/ce"
  cmp "$t/cp" "$t/ce" || { diff "$t/cp" "$t/ce" | head >&2; fail "classification differs ($link)"; }
  [ "$(grep -vc ' default ' "$t/cp")" -gt 500 ] || fail "too few specific matches ($link)"
done

# header-only mode round-trips too
"$bin/embark-pcap" encrypt --header-only --key "$t/key" "$t/plain-eth.pcap" "$t/h.pcap" 2>/dev/null
"$bin/embark-pcap" decrypt --key "$t/key" "$t/h.pcap" "$t/hd.pcap" 2>/dev/null
cmp "$t/plain-eth.pcap" "$t/hd.pcap" || fail "header-only round trip"

# fragments are refused and counted, the rest still written
"$bin/embark-testgen" "$t/frag.pcap" 500 3 eth frag
rc=0; "$bin/embark-pcap" encrypt --key "$t/key" "$t/frag.pcap" "$t/fe.pcap" 2>"$t/err" || rc=$?
[ $rc = 3 ] || fail "fragments: exit $rc"
grep -q "IPv4 fragment refused: " "$t/err" || fail "fragment count missing"

# wrong key: everything refused as tampered
"$bin/embark-keygen" "$t/key2"
rc=0; "$bin/embark-pcap" decrypt --key "$t/key2" --rules "$ex/rules.txt" "$t/enc-eth.pcap" "$t/w.pcap" 2>"$t/err" || rc=$?
[ $rc = 3 ] && grep -q "wrote 0, dropped 3000; authentication failed" "$t/err" || { cat "$t/err"; fail "wrong key"; }

# truncated pcap: clear error, no output
head -c 50000 "$t/plain-eth.pcap" >"$t/trunc.pcap"
expect_fail "trunc.pcap: packet" "$bin/embark-pcap" encrypt --key "$t/key" "$t/trunc.pcap" "$t/te.pcap"
[ ! -e "$t/te.pcap" ] || fail "half-written output"
expect_fail "cannot read pcap" "$bin/embark-pcap" encrypt --key "$t/key" "$ex/rules.txt" "$t/te.pcap"
expect_fail "need --key" "$bin/embark-pcap" encrypt "$t/plain-eth.pcap" "$t/te.pcap"
ls "$t" | grep -q tmp && fail "temporary files left"
echo "test_embark_tools: ok"
