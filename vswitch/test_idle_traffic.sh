#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# e2d's idle policies (--idle adaptive|poll|eager) with real traffic at light load: an NF
# process (e2-trafgen over virtio-user, the default 256-entry rings) sends through e2d
# and back, and every packet is accounted for (tools/e2-account): sent = received +
# what e2d counted as dropped + what it still holds. Light loads are where an idle
# worker naps between arrivals, so that is where a nap could strand or lose a packet
# unseen. Loss itself is not a failure here (the machine may be busy and the generator
# descheduled: a timing); unaccounted packets are. Also: each mode's flags are applied
# whatever their order, and a worker that napped through seconds of silence still takes
# every packet of traffic that starts again. Every process is stopped by PID on exit.
set -euo pipefail
BIN=${1:?usage: test_idle_traffic.sh BUILD/vswitch}
SRC=$(cd "$(dirname "$0")" && pwd)
ACCOUNT=$SRC/tools/e2-account
T=$(mktemp -d /tmp/e2d-idle.XXXXXX)
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
  for f in "$T"/*.log; do echo "--- $f"; tail -20 "$f"; done
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

cat >"$T/fwd.conf" <<CONF
port add v0 vhost path=$T/v0.sock
port add v1 vhost path=$T/v1.sock
module add in0 port_in port=v0
module add in1 port_in port=v1
module add out0 port_out port=v0
module add out1 port_out port=v1
connect in0 out1
connect in1 out0
CONF

start_e2d() { # name flags...
  local name=$1; shift
  "$BIN/e2d" --ctl "$T/$name.ctl" --config "$T/fwd.conf" --worker-core "$WCORE" --no-huge \
    --file-prefix "e2di$$-$name" --log-level error "$@" >"$T/$name.log" 2>&1 &
  E2D_PID=$!
  PIDS+=("$E2D_PID")
  for _ in $(seq 200); do
    [ -S "$T/$name.ctl" ] && return 0
    kill -0 "$E2D_PID" 2>/dev/null || fail "e2d $name exited at start"
    sleep 0.05
  done
  fail "e2d $name did not open its control socket"
}
stop_e2d() { kill -TERM "$E2D_PID"; wait "$E2D_PID" || fail "e2d exited with $? on SIGTERM"; }
ctl() { "$BIN/e2ctl-dp" --ctl "$T/$1.ctl" "${@:2}"; }
trafgen() { # args...
  "$BIN/e2-trafgen" -l $GCORE --in-memory --single-file-segments -m 256 --no-pci --no-telemetry \
    --file-prefix "tgi$$" --log-level error --vdev "net_virtio_user0,path=$T/v0.sock" \
    --vdev "net_virtio_user1,path=$T/v1.sock" -- --tx 0 --rx 1 --flows 64 "$@"
}
val() { grep "^$1=" | cut -d= -f2; }
# run NAME RATE SECONDS: traffic through e2d NAME from a fresh counter; the books must
# balance; any counted drop is allowed (printed, not judged)
run() {
  local name=$1 rate=$2 secs=$3 out tx rx acc rc=0
  ctl "$name" stats reset >/dev/null
  out=$(trafgen --rate "$rate" --duration "$secs" 2>>"$T/tg.log") || fail "trafgen: $out"
  tx=$(echo "$out" | val tx_packets); rx=$(echo "$out" | val rx_packets)
  acc=$(ctl "$name" stats | "$ACCOUNT" sent="${tx:-0}" received="${rx:-0}" max_drop_pct=100 min_sent=1) || rc=$?
  [ $rc = 0 ] || fail "e2d $name at $rate pps: the books do not balance: $(echo $acc)"
  [ -n "$(echo "$out" | val rtt_us_p99)" ] || fail "e2-trafgen printed no round-trip percentiles: $(echo $out)"
  RESULT="$rate pps: sent $tx, received $rx, counted drops $(echo "$acc" | val counted_drops), unaccounted 0, rtt p50/p99 $(echo "$out" | val rtt_us_p50)/$(echo "$out" | val rtt_us_p99) us"
}

# --- 1. each mode at two light loads: one with gaps longer than the adaptive quiet time
#        (it naps between bursts of 32), one with shorter gaps ---------------------------
for mode in adaptive poll eager; do
  start_e2d "$mode" --idle "$mode"
  grep -q "idle policy $mode:" "$T/$mode.log" || fail "e2d --idle $mode did not say so: $(cat "$T/$mode.log")"
  for rate in 10000 100000; do
    run "$mode" "$rate" 1
    ok "--idle $mode, $RESULT"
  done
  # what the policy learnt is shown (its values are timings: printed, not judged)
  idle=$(ctl "$mode" sched show | grep "^w0:idle ") || fail "sched show has no w0:idle line"
  grep -q " mode=$mode spin_us=" <<<"$idle" || fail "sched show: $idle"
  echo "# $idle"
  stop_e2d
done

# --- 2. flags in any order: the mode's defaults fill only what was not given ---------
start_e2d order --max-sleep-us 300 --idle eager --idle-ring 1024
grep -q "idle policy eager: polls 0 us without a packet before a nap, naps 300 us at most" "$T/order.log" ||
  fail "--max-sleep-us before --idle was not kept: $(cat "$T/order.log")"
stop_e2d
start_e2d order2 --idle-spin-us 50 --idle adaptive
grep -q "idle policy adaptive: polls 50 us without a packet before a nap, naps 1000 us at most" "$T/order2.log" ||
  fail "--idle-spin-us before --idle was not kept: $(cat "$T/order2.log")"
stop_e2d
ok "flags in any order: the mode's defaults fill only what was not given"

# --- 3. traffic that starts after seconds of silence (naps at their longest) ---------
start_e2d silent
sleep 3
run silent 100000 1
ok "after 3 s of silence, --idle adaptive, $RESULT"
stop_e2d
