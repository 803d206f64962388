#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds the same image twice in separate directories and checks the bytes are equal,
# that the cache skips an unchanged rebuild, that a changed input rebuilds, and that
# the archive holds init, busybox, modules, the NFs and their libraries.
set -euo pipefail
build=$1 fwd=$2 fw=$3
work=$(mktemp -d /tmp/e2-image-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$build" --out "$work/a" --name t --nf "$fwd" --nf "$fw" >/dev/null
sleep 1   # a different wall clock must not matter
"$build" --out "$work/b" --name t --nf "$fwd" --nf "$fw" >/dev/null
cmp "$work/a/t.initrd" "$work/b/t.initrd" || fail "two builds differ"
cmp "$work/a/t.sha256" "$work/b/t.sha256" || fail "checksums differ"
(cd "$work/a" && sha256sum --quiet -c t.sha256) || fail "recorded checksum wrong"

msg=$("$build" --out "$work/a" --name t --nf "$fwd" --nf "$fw")
grep -q 'up to date' <<<"$msg" || fail "unchanged inputs rebuilt"
mkdir "$work/cfg" && echo "default allow" > "$work/cfg/x.rules"
msg=$("$build" --out "$work/a" --name t --nf "$fwd" --nf "$fw" --config "$work/cfg")
grep -q built <<<"$msg" || fail "changed inputs not rebuilt"
cmp -s "$work/a/t.initrd" "$work/b/t.initrd" && fail "config not in image"

list=$(gzip -dc "$work/a/t.initrd" | cpio -t --quiet)
for f in init bin/busybox usr/bin/e2-fwd usr/bin/e2-firewall etc/e2/x.rules etc/e2/modules \
         etc/e2/default-nf lib64/ld-linux-x86-64.so.2; do
  grep -qx "$f" <<<"$list" || fail "image lacks $f"
done
grep -q '/virtio_net.ko$' <<<"$list" || fail "image lacks virtio_net.ko"
grep -q 'libc.so.6$' <<<"$list" || fail "image lacks libc"
[ "$(gzip -dc "$work/a/t.initrd" | cpio -i --quiet --to-stdout etc/e2/default-nf)" = e2-fwd ] ||
  fail "default NF is not the first --nf"

"$build" --out "$work/c" --name t --nf /nonexistent 2>"$work/err" && fail "missing NF accepted"
grep -q "NF binary '/nonexistent' does not exist" "$work/err" || fail "unclear error: $(cat "$work/err")"
"$build" --out "$work/c" --name 'bad name' --nf "$fwd" 2>/dev/null && fail "bad name accepted"
echo "ok: reproducible ($(cut -c1-16 "$work/b/t.sha256" | tail -1)...), cached, complete"
