#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# e2-bare-vhost --direct (bench/vswitch's single-copy reference) forwards what it is
# given, byte for byte where the headers tell: e2-trafgen sends 64- and 1500-byte UDP
# flows through it one way and then the other, and every frame sent is either received
# (each flow seen) or counted in the forwarder's drops. Each trafgen run is a new
# front-end, so the forwarder also hands its rings back and takes them again.
# Every process is stopped by PID on exit.
set -euo pipefail
BIN=${1:?usage: test_bare_direct.sh BUILD/vswitch}
T=$(mktemp -d /tmp/e2-baredirect.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$T"/*.log "$T"/*.out "$T"/report; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}
ok() { echo "ok - $*"; }

free_huge=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ "$free_huge" -lt 128 ]; then
  echo "SKIP: virtio-user needs hugepages ($free_huge free 2 MiB pages; ci/setup reserves them)"
  exit 77
fi
NCPU=$(nproc)
FCORE=$((NCPU - 1)); GCORE=0

"$BIN/e2-bare-vhost" --lcores "0@$FCORE,1@$FCORE" --no-huge -m 128 --no-pci --no-telemetry \
  --file-prefix "bd$$" --log-level error -- --direct --report "$T/report" "$T/s0.sock" "$T/s1.sock" \
  >"$T/bare.log" 2>&1 &
BARE=$!
PIDS+=("$BARE")

drops() { # the forwarder's drop count so far
  rm -f "$T/report"
  kill -USR2 "$BARE" 2>/dev/null || fail "e2-bare-vhost is gone"
  for _ in $(seq 100); do [ -f "$T/report" ] && break; sleep 0.02; done
  [ -f "$T/report" ] || fail "no report from e2-bare-vhost"
  tr ' ' '\n' <"$T/report" | sed -n 's/^drops=//p'
}
val() { sed -n "s/^$2=//p" "$T/tg$1.out"; }

run=0
for spec in "64 0 1" "1500 1 0" "64 1 0" "1500 0 1"; do
  read -r size tx rx <<<"$spec"
  run=$((run + 1))
  # the first run needs no report: drops start at 0 (and a signal this early could
  # come before the forwarder has set its handler)
  if [ $run = 1 ]; then before=0; else before=$(drops); fi
  # the forwarder is the vhost-user client and reconnects: trafgen serves both sockets
  timeout 60 "$BIN/e2-trafgen" -l $GCORE --in-memory --single-file-segments -m 256 --no-pci --no-telemetry \
    --file-prefix "bdtg$$" --log-level error --vdev "net_virtio_user0,path=$T/s0.sock,server=1" \
    --vdev "net_virtio_user1,path=$T/s1.sock,server=1" \
    -- --tx "$tx" --rx "$rx" --rate 50000 --duration 2 --size "$size" --flows 16 --flow-stats \
    >"$T/tg$run.out" 2>"$T/tg$run.log" || fail "e2-trafgen failed (run $run)"
  after=$(drops)
  sent=$(val $run tx_packets); got=$(val $run rx_packets); lost=$((sent - got)); dropped=$((after - before))
  [ "$sent" -gt 0 ] || fail "nothing sent in run $run"
  [ "$lost" -eq "$dropped" ] || fail "run $run ($size B, $tx -> $rx): sent $sent, received $got, forwarder dropped $dropped"
  [ "$(val $run flows_received)" = 16 ] && [ "$(val $run flows_broken)" = 0 ] ||
    fail "run $run: flows received $(val $run flows_received), broken $(val $run flows_broken)"
  ok "$size B, port $tx -> $rx: sent $sent = received $got + dropped $dropped, 16 flows intact"
done
kill -0 "$BARE" 2>/dev/null || fail "e2-bare-vhost died"
[ "$(grep -c 'link up' "$T/bare.log")" -ge 8 ] || fail "the forwarder did not take the rings of every run"
ok "four front-ends in turn, rings handed back and taken again"
