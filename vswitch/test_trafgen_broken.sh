#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# e2-trafgen's per-port flow accounting through a real switch: e2d's rangesplit sends
# every flow ID to instance port 1; once traffic runs (the first --interval-ms line), the
# whole range moves to port 2. Without the flow tracker every running flow continues on
# port 2, so each is counted on both ports and as broken; with it every flow stays on
# port 1 and none breaks. The move waits for traffic, not for a clock, and sending lasts
# seconds beyond it, so a busy machine changes how many packets, not the counts judged.
# Every process is stopped by PID on exit.
set -euo pipefail
BIN=${1:?usage: test_trafgen_broken.sh BUILD/vswitch}
T=$(mktemp -d /tmp/e2-tgbroken.XXXXXX)
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
  for f in "$T"/*.log "$T"/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}
ok() { echo "ok - $*"; }

free_huge=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ "$free_huge" -lt 128 ]; then
  echo "SKIP: virtio-user needs hugepages ($free_huge free 2 MiB pages; ci/setup reserves them)"
  exit 77
fi
NCPU=$(nproc)
WCORE=$((NCPU - 1)); GCORE=0
FLOWS=64

run() { # track
  local track=$1 e2d tg
  rm -f "$T"/*.sock
  cat >"$T/rs$track.conf" <<CONF
port add v0 vhost path=$T/v0.sock
port add v1 vhost path=$T/v1.sock
port add v2 vhost path=$T/v2.sock
module add in0 port_in port=v0
module add fh flowhash bits=16
module add rs rangesplit bits=16 track=$track
module add out1 port_out port=v1
module add out2 port_out port=v2
connect in0 fh
connect fh rs
connect rs:0 out1
connect rs:1 out2
module cmd rs add range=0-65536 gate=0
CONF
  "$BIN/e2d" --ctl "$T/e2d$track.ctl" --config "$T/rs$track.conf" --worker-core "$WCORE" --no-huge \
    --file-prefix "e2dtb$$-$track" --log-level error >"$T/e2d$track.log" 2>&1 &
  e2d=$!
  PIDS+=("$e2d")
  for _ in $(seq 200); do [ -S "$T/e2d$track.ctl" ] && break; sleep 0.05; done
  [ -S "$T/e2d$track.ctl" ] || fail "e2d did not open its control socket"
  "$BIN/e2-trafgen" -l $GCORE --in-memory --single-file-segments -m 256 --no-pci --no-telemetry \
    --file-prefix "tgb$$-$track" --log-level error --vdev "net_virtio_user0,path=$T/v0.sock" \
    --vdev "net_virtio_user1,path=$T/v1.sock" --vdev "net_virtio_user2,path=$T/v2.sock" \
    -- --tx 0 --rx 1,2 --rate 20000 --duration 8 --flows $FLOWS --interval-ms 100 >"$T/tg$track.out" 2>"$T/tg$track.log" &
  tg=$!
  PIDS+=("$tg")
  for _ in $(seq 1200); do
    grep -q '^interval ' "$T/tg$track.out" && break
    kill -0 "$tg" 2>/dev/null || fail "e2-trafgen ended before sending"
    sleep 0.05
  done
  grep -q '^interval ' "$T/tg$track.out" || fail "no traffic within 60 s"
  "$BIN/e2ctl-dp" --ctl "$T/e2d$track.ctl" module cmd rs move range=0-65536 gate=1 >/dev/null ||
    fail "move refused"
  wait "$tg" || fail "e2-trafgen failed"
  kill -TERM "$e2d"
  wait "$e2d" || true
}
val() { sed -n "s/^$2=//p" "$T/tg$1.out"; }

run 0
[ "$(val 0 port1_rx_flows)" = $FLOWS ] || fail "no tracker: port1_rx_flows=$(val 0 port1_rx_flows), not $FLOWS"
[ "$(val 0 port2_rx_flows)" = $FLOWS ] || fail "no tracker: port2_rx_flows=$(val 0 port2_rx_flows), not $FLOWS"
[ "$(val 0 flows_broken)" = $FLOWS ] || fail "no tracker: flows_broken=$(val 0 flows_broken), not $FLOWS"
[ "$(val 0 flows_received)" = $FLOWS ] || fail "no tracker: flows_received=$(val 0 flows_received)"
ok "without the tracker all $FLOWS flows moved: each counted on both ports and as broken"

run 1
[ "$(val 1 port1_rx_flows)" = $FLOWS ] || fail "tracker: port1_rx_flows=$(val 1 port1_rx_flows), not $FLOWS"
[ "$(val 1 port2_rx_flows)" = 0 ] || fail "tracker: port2_rx_flows=$(val 1 port2_rx_flows), not 0"
[ "$(val 1 flows_broken)" = 0 ] || fail "tracker: flows_broken=$(val 1 flows_broken), not 0"
ok "with the tracker all $FLOWS flows stayed on port 1, none broken"
