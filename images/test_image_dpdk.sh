#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The --dpdk image (native NFs on the guest's NICs through DPDK): reproducible, and the
# archive holds what the guest's DPDK needs — uio_pci_generic and no virtio_net, the
# virtio PMD and its buses once each, as files in DPDK's plugin directory and linked to
# from the library directory — and an NF without DPDK is refused.
set -euo pipefail
build=$1
shift
nfargs=()
for nf in "$@"; do nfargs+=(--nf "$nf"); done
work=$(mktemp -d /tmp/e2-image-dpdk-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$build" --out "$work/a" --name n --dpdk "${nfargs[@]}" >/dev/null
"$build" --out "$work/b" --name n --dpdk "${nfargs[@]}" >/dev/null
cmp "$work/a/n.initrd" "$work/b/n.initrd" || fail "two builds differ"
msg=$("$build" --out "$work/a" --name n --dpdk "${nfargs[@]}")
grep -q 'up to date' <<<"$msg" || fail "unchanged inputs rebuilt"

mkdir "$work/x" && (cd "$work/x" && gzip -dc "$work/a/n.initrd" | cpio -i -d --quiet)
r=$work/x
[ "$(cat "$r/etc/e2/nic-mode")" = dpdk ] || fail "nic-mode is not dpdk"
grep -qx uio_pci_generic "$r/etc/e2/modules" || fail "uio_pci_generic is not loaded"
ls "$r"/lib/modules/*/uio_pci_generic.ko >/dev/null || fail "image lacks uio_pci_generic.ko"
ls "$r"/lib/modules/*/virtio_net.ko >/dev/null 2>&1 && fail "virtio_net.ko would take the NICs"
pmds=$(find "$r/usr/lib" -type d -name 'pmds-*')
[ -n "$pmds" ] || fail "no DPDK plugin directory"
for p in net_virtio bus_pci mempool_ring; do
  n=$(find "$r" -name "librte_$p.so*" -type f | wc -l)
  [ "$n" = 1 ] || fail "$n regular files for the $p PMD (want 1, in the plugin directory)"
  [ -f "$pmds"/librte_$p.so.*.* ] || fail "the $p PMD is not in ${pmds#"$r"}"
done
l=$(find "$r" -name 'librte_bus_pci.so.*' -type l | head -n 1)
[ -n "$l" ] && [ "$(readlink "$l")" = "${pmds#"$r"}/$(basename "$pmds"/librte_bus_pci.so.*.*)" ] ||
  fail "the library directory does not link to the bus_pci plugin"
for nf in "$@"; do [ -x "$r/usr/bin/$(basename "$nf")" ] || fail "image lacks $(basename "$nf")"; done

"$build" --out "$work/c" --name n --dpdk --nf /bin/true 2>"$work/err" && fail "an NF without DPDK accepted"
grep -q "do not link DPDK" "$work/err" || fail "unclear error: $(cat "$work/err")"
echo "ok: --dpdk image reproducible, PMDs once each in ${pmds#"$r"}, uio_pci_generic, no virtio_net"
