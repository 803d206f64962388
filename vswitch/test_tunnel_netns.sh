#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Two e2d processes in two network namespaces joined by a veth pair (af_packet ports).
# e2d A reads frames from a pcap file, classifies them with a bpf filter onto two graph
# edges, tags one edge's frames with NSH metadata (safe=1, url=...) and tunnels both
# edges over the veth as VXLAN-GPE + NSH (edge = SPI). e2d B demultiplexes by SPI, matches
# the metadata, strips it and writes each edge to its own pcap file: every frame must
# arrive byte for byte on its edge, and the metadata must arrive with it.
# Needs root, ip netns and tcpdump (exit 77 = skipped otherwise). Processes stopped by PID.
set -euo pipefail
BIN=${1:?usage: test_tunnel_netns.sh BUILD/vswitch}
[ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v tcpdump >/dev/null || { echo "skip: needs root, ip, tcpdump"; exit 77; }
T=$(mktemp -d /tmp/e2d-netns.XXXXXX)
NA=e2a-$$ NB=e2b-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$NA" 2>/dev/null || true
  ip netns del "$NB" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$T"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }
ok() { echo "ok - $*"; }

ip netns add "$NA" && ip netns add "$NB" || { echo "skip: cannot create network namespaces"; exit 77; }
ip link add va netns "$NA" type veth peer name vb netns "$NB" || { echo "skip: cannot create a veth pair"; exit 77; }
for x in "$NA va" "$NB vb"; do
  set -- $x
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" || true
  ip netns exec "$1" ip link set "$2" mtu 9000 up   # jumbo frames: no MTU trouble (seed §3.4.2)
done
MAC_A=$(ip netns exec "$NA" cat /sys/class/net/va/address)
MAC_B=$(ip netns exec "$NB" cat /sys/class/net/vb/address)

# 20 UDP frames of 60 bytes from 10.0.0.1 to 10.0.0.2: source port i, destination port
# 80 for even i (the edge with metadata) and 53 for odd i.
hex() { printf '%b' "$(echo "$1" | sed 's/../\\x&/g')"; }
{
  hex d4c3b2a1020004000000000000000000ffff000001000000
  for i in $(seq 1 20); do
    dport=$([ $((i % 2)) = 0 ] && echo 0050 || echo 0035)
    hex "$(printf '%08x' "$i" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')000000003c0000003c000000"
    hex "02000000000202000000000108004500002e000000004011$(printf '%04x' 0)0a0000010a000002$(printf '%04x' "$i")${dport}001a0000"
    hex "$(printf 'e2%.0s' $(seq 18))"
  done
} >"$T/in.pcap"
[ "$(tcpdump -r "$T/in.pcap" -nn 2>/dev/null | wc -l)" = 20 ] || fail "test input pcap is broken"

cat >"$T/b.conf" <<CONF
port add link pmd devargs=net_af_packet0,iface=vb
port add o0 pmd devargs=net_pcap0,tx_pcap=$T/edge0.pcap
port add o1 pmd devargs=net_pcap1,tx_pcap=$T/edge1.pcap
module add in port_in port=link
module add td tunnel_decap default=2
module cmd td edge spi=100 gate=0
module cmd td edge spi=200 gate=1
module add m nsh_match default=1
module cmd m add attr=safe value=1 gate=0
module add pop nsh_pop
module add out0 port_out port=o0
module add out1 port_out port=o1
module add s sink
connect in td
connect td:0 out0
connect td:1 m
connect td:2 s
connect m:0 pop
connect m:1 s
connect pop out1
CONF
cat >"$T/a.conf" <<CONF
port add src pmd devargs=net_pcap2,rx_pcap=$T/in.pcap
port add link pmd devargs=net_af_packet1,iface=va
module add in port_in port=src
module add f bpf default=0
module cmd f add filter="udp dst port 80" gate=1
module add md nsh_push safe=1 url=example.com/e2
module add te tunnel_encap dst=$MAC_B src=$MAC_A transport=vxlan-gpe src_ip=192.0.2.1 dst_ip=192.0.2.2 vni=7
module cmd te edge igate=0 spi=100
module cmd te edge igate=1 spi=200
module add out port_out port=link
connect in f
connect f:0 te:0
connect f:1 md
connect md te:1
connect te out
CONF

start_e2d() { # name netns config
  ip netns exec "$2" "$BIN/e2d" --ctl "$T/$1.ctl" --config "$3" --no-huge --mbufs 2047 --file-prefix "e2nt-$1-$$" \
    --log-level error >"$T/$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 200); do
    [ -S "$T/$1.ctl" ] && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || fail "e2d $1 exited at start"
    sleep 0.05
  done
  fail "e2d $1 did not open its control socket"
}
ctl() { "$BIN/e2ctl-dp" --ctl "$T/$1.ctl" "${@:2}"; }

start_e2d b "$NB" "$T/b.conf"
start_e2d a "$NA" "$T/a.conf"
# wait for all 20 frames to leave B
for _ in $(seq 60); do
  sent=$(ctl b stats 2>/dev/null | awk '$1=="out0" || $1=="out1" {n += $4} END {print n+0}')
  [ "$sent" -ge 20 ] && break
  sleep 0.1
done
ctl b stats >"$T/b.stats" 2>&1 || true
ctl a stats >"$T/a.stats" 2>&1 || true
# a clean stop closes (flushes) the pcap files
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
for p in "${PIDS[@]}"; do wait "$p" || fail "e2d exited with $? on SIGTERM"; done
PIDS=()

frames() { tcpdump -r "$1" -nn -t -x "${@:2}" 2>/dev/null; }
[ "$(tcpdump -r "$T/edge0.pcap" -nn 2>/dev/null | wc -l)" = 10 ] || fail "edge 0 (spi 100) did not get 10 frames: $(cat "$T/b.stats")"
[ "$(tcpdump -r "$T/edge1.pcap" -nn 2>/dev/null | wc -l)" = 10 ] || fail "edge 1 (spi 200) did not get 10 frames: $(cat "$T/b.stats")"
[ "$(frames "$T/in.pcap" 'udp dst port 53')" = "$(frames "$T/edge0.pcap")" ] || fail "edge 0 frames differ from what was sent"
ok "edge 0: 10 frames tunnelled between namespaces, byte for byte"
# edge 1 reached out1 only through nsh_match safe=1: the metadata arrived, then was stripped
[ "$(frames "$T/in.pcap" 'udp dst port 80')" = "$(frames "$T/edge1.pcap")" ] || fail "edge 1 frames differ from what was sent"
ok "edge 1: 10 frames with NSH metadata (safe=1) matched in the other e2d, stripped, byte for byte"
[ -n "${E2_TEST_VERBOSE:-}" ] && cat "$T/a.stats" "$T/b.stats"
exit 0
