#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# e2d's single-copy path between vhost ports (ports/vhost_direct.c) with real
# front-ends: e2-trafgen over virtio-user sends 64- and 1500-byte UDP flows through
# port_in -> port_out pairs, one way and then the other, and the books balance exactly
# (sent = received + drops e2d counted) with every flow intact; the frames went by the
# single-copy path (port_in's direct_packets). A capture put on the edge mid-run sends
# the frames down the ordinary path and back, with nothing lost or counted twice; a port
# with direct=0 takes the ordinary path only. Each trafgen run is a new front-end, so
# e2d also hands its rings back and takes them again. Every process is stopped by PID.
set -euo pipefail
BIN=${1:?usage: test_vhost_direct.sh BUILD/vswitch}
SRC=$(cd "$(dirname "$0")" && pwd)
ACCOUNT=$SRC/tools/e2-account
T=$(mktemp -d /tmp/e2-vdirect.XXXXXX)
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
  [ -S "$T/e2d.ctl" ] && { echo "--- stats"; "$BIN/e2ctl-dp" --ctl "$T/e2d.ctl" stats 2>&1 | head -30; }
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

ctl() { "$BIN/e2ctl-dp" --ctl "$T/e2d.ctl" "$@"; }
start_e2d() { # config
  "$BIN/e2d" --ctl "$T/e2d.ctl" --config "$1" --worker-core "$WCORE" --no-huge --file-prefix "vd$$" \
    --log-level info >"$T/e2d.log" 2>&1 &
  E2D=$!
  PIDS+=("$E2D")
  for _ in $(seq 100); do
    [ -S "$T/e2d.ctl" ] && return 0
    kill -0 "$E2D" 2>/dev/null || fail "e2d exited at start"
    sleep 0.05
  done
  fail "e2d did not open its control socket"
}
stop_e2d() { kill -TERM "$E2D"; wait "$E2D" || fail "e2d exited with $? on SIGTERM"; rm -f "$T/e2d.ctl"; }
EXTRA_VDEV=() # a third front-end, for section 4
trafgen() { # out-file args...
  local out=$1; shift
  timeout 60 "$BIN/e2-trafgen" -l $GCORE --in-memory --single-file-segments -m 256 --no-pci --no-telemetry \
    --file-prefix "vdtg$$" --log-level error --vdev "net_virtio_user0,path=$T/v0.sock,queue_size=1024" \
    --vdev "net_virtio_user1,path=$T/v1.sock,queue_size=1024" "${EXTRA_VDEV[@]}" -- --flows 16 --flow-stats "$@" \
    >"$out" 2>>"$T/tg.log"
}
val() { sed -n "s/^$2=//p" "$1"; }
direct() { ctl stats | awk -v m="$1" '$1 == m { for (i = 2; i <= NF; i++) if ($i ~ /^direct_packets=/) { sub(/.*=/, "", $i); print $i } }'; }
# balance OUT: the books of e2d since the last `stats reset` against trafgen's report
balance() {
  local out=$1 rc=0
  ACC=$(ctl stats | "$ACCOUNT" sent="$(val "$out" tx_packets)" received="$(val "$out" rx_packets)" max_drop_pct=5) || rc=$?
  [ $rc = 0 ] || fail "books do not balance (rc $rc): $(echo $ACC)"
  [ "$(val "$out" flows_received)" = 16 ] && [ "$(val "$out" flows_broken)" = 0 ] ||
    fail "flows received $(val "$out" flows_received), broken $(val "$out" flows_broken)"
}
acc() { echo "$ACC" | sed -n "s/^$1=//p"; }

cat >"$T/pairs.conf" <<CONF
port add v0 vhost path=$T/v0.sock
port add v1 vhost path=$T/v1.sock
module add in0 port_in port=v0
module add in1 port_in port=v1
module add out0 port_out port=v0
module add out1 port_out port=v1
connect in0 out1
connect in1 out0
CONF
start_e2d "$T/pairs.conf"

# --- 1. both sizes, both ways, by the single-copy path ------------------------------
run=0
for spec in "64 0 1 in0" "1500 1 0 in1" "1500 0 1 in0" "64 1 0 in1"; do
  read -r size tx rx mod <<<"$spec"
  run=$((run + 1))
  ctl stats reset >/dev/null
  d0=$(direct "$mod")
  trafgen "$T/tg$run.out" --tx "$tx" --rx "$rx" --rate 200000 --duration 2 --size "$size" ||
    fail "e2-trafgen failed (run $run)"
  balance "$T/tg$run.out"
  got=$(acc received); d=$(( $(direct "$mod") - d0 ))
  [ "$got" -gt 0 ] || fail "run $run: nothing came back"
  # every frame e2d received went the single-copy way (the front-end's set-up messages
  # come before its traffic)
  [ "$d" -ge "$(( got * 9 / 10 ))" ] || fail "run $run: only $d of $got frames by the single-copy path"
  ok "$size B, port $tx -> $rx: sent $(acc sent) = received $got + counted drops $(acc counted_drops), $d by the single-copy path, 16 flows intact"
done
grep -q "link up (single-copy path)" "$T/e2d.log" || fail "e2d did not say it took the single-copy path"

# --- 2. a capture on the edge mid-run: the ordinary path, then back -----------------
ctl stats reset >/dev/null
d0=$(direct in0)
trafgen "$T/cap.out" --tx 0 --rx 1 --rate 50000 --duration 3 --size 200 &
TG=$!
PIDS+=("$TG")
sleep 1
out=$(ctl capture v0 file="$T/cap.pcap" seconds=10 2>&1) || fail "capture refused: $out"
sleep 0.7
ctl capture stop v0 >/dev/null || fail "capture stop refused"
wait "$TG" || fail "e2-trafgen failed (capture run)"
balance "$T/cap.out"
captured=$(tcpdump -nr "$T/cap.pcap" 2>/dev/null | wc -l)
d=$(( $(direct in0) - d0 ))
[ "$captured" -gt 0 ] || fail "the capture holds no frames"
# the captured frames went the ordinary path (and a few more: the capture module is on
# the edge a moment before it starts writing and after it stops)
[ "$d" -gt 0 ] && [ $(( d + captured )) -le "$(acc received)" ] ||
  fail "single-copy $d and captured $captured: more than the $(acc received) frames received"
ok "capture mid-run: $captured frames captured on the ordinary path, $d single-copy, sent $(acc sent) = received $(acc received) + counted drops $(acc counted_drops)"
ctl list | grep -q "^cap\." && fail "the capture module stayed in the graph"
stop_e2d

# --- 3. direct=0: the ordinary path only --------------------------------------------
sed -i "s|^port add v1 vhost path=$T/v1.sock\$|& direct=0|" "$T/pairs.conf"
start_e2d "$T/pairs.conf"
trafgen "$T/off.out" --tx 0 --rx 1 --rate 200000 --duration 1 --size 64 || fail "e2-trafgen failed (direct=0)"
balance "$T/off.out"
[ "$(direct in0)" = 0 ] || fail "direct=0 on the output port, yet $(direct in0) frames went the single-copy way"
ok "direct=0: sent $(acc sent) = received $(acc received) + counted drops $(acc counted_drops), none by the single-copy path"
kill -0 "$E2D" 2>/dev/null || fail "e2d died"
stop_e2d

# --- 4. classifiers on the way: hmatch and hash_split spread flows over two ports ---
# Flows 0 and 1 (UDP source ports 1024, 1025) go to v2 by rule; the others are spread
# over v1 and v2 by hash_split. e2-account checks every module's gates against what the
# next module received; the same tree with direct=0 on v2 (the ordinary path) must put
# the same flows on the same ports.
cat >"$T/tree.conf" <<CONF
port add v0 vhost path=$T/v0.sock
port add v1 vhost path=$T/v1.sock
port add v2 vhost path=$T/v2.sock
module add in0 port_in port=v0
module add out1 port_out port=v1
module add out2 port_out port=v2
module add hm hmatch fields=34:2 default=0
module cmd hm add values=1024 gate=1
module cmd hm add values=1025 gate=1
module add sp hash_split gates=2
connect in0 hm
connect hm:0 sp
connect hm:1 out2
connect sp:0 out1
connect sp:1 out2
CONF
misses() { ctl module cmd hm stats | awk '$1 == "misses" { print $2 }'; }
EXTRA_VDEV=(--vdev "net_virtio_user2,path=$T/v2.sock,queue_size=1024")
declare -A FLOWS
for mode in direct ordinary; do
  [ $mode = ordinary ] && sed -i "s|^port add v2 vhost path=$T/v2.sock\$|& direct=0|" "$T/tree.conf"
  start_e2d "$T/tree.conf"
  for size in 64 1500; do
    d0=$(direct in0); m0=$(misses)
    trafgen "$T/tree-$mode-$size.out" --tx 0 --rx 1,2 --rate 100000 --duration 1.5 --size "$size" ||
      fail "e2-trafgen failed (tree, $mode, $size B)"
    balance "$T/tree-$mode-$size.out"
    got=$(acc received); sent_=$(acc sent); d=$(( $(direct in0) - d0 )); miss=$(( $(misses) - m0 ))
    f1=$(val "$T/tree-$mode-$size.out" port1_rx_flows); f2=$(val "$T/tree-$mode-$size.out" port2_rx_flows)
    [ "$f1" -gt 0 ] && [ "$f2" -ge 2 ] || fail "tree, $mode, $size B: flows on v1 $f1, on v2 $f2"
    # flows 2..15 match no rule: 14 of every 16 frames (each frame goes to the next flow)
    [ $(( miss * 16 )) -ge $(( got * 13 )) ] && [ $(( miss * 16 )) -le $(( sent_ * 15 )) ] ||
      fail "tree, $mode, $size B: hmatch counted $miss misses of $got frames received"
    FLOWS[$mode,$size]="$f1/$f2"
    if [ $mode = direct ]; then
      [ "$d" -ge "$(( got * 9 / 10 ))" ] || fail "tree, $size B: only $d of $got frames by the single-copy path"
    else
      [ "$d" = 0 ] || fail "tree with direct=0 on v2: $d frames by the single-copy path"
    fi
    ok "tree ($mode path), $size B: sent $(acc sent) = received $got + counted drops $(acc counted_drops), $d single-copy, flows on v1/v2 $f1/$f2, hmatch misses $miss"
    ctl stats reset >/dev/null
  done
  stop_e2d
done
for size in 64 1500; do
  [ "${FLOWS[direct,$size]}" = "${FLOWS[ordinary,$size]}" ] ||
    fail "$size B: flows on v1/v2 ${FLOWS[direct,$size]} by the single-copy path, ${FLOWS[ordinary,$size]} by the ordinary one"
done
ok "the classifiers decide the same on both paths"

# --- 5. a gate that leads nowhere: those frames take the ordinary path (and its drop) --
# hash_split's gate 1 is left unconnected: frames hashed there are counted past hmatch
# by neither path twice, and dropped (counted) by the ordinary path; the rest go direct.
sed -i -e '/^connect sp:1 out2$/d' -e "s|^port add v2 vhost path=$T/v2.sock direct=0\$|port add v2 vhost path=$T/v2.sock|" "$T/tree.conf"
start_e2d "$T/tree.conf"
trafgen "$T/gap.out" --tx 0 --rx 1,2 --rate 100000 --duration 1 --size 64 || fail "e2-trafgen failed (gate to nowhere)"
ACC=$(ctl stats | "$ACCOUNT" sent="$(val "$T/gap.out" tx_packets)" received="$(val "$T/gap.out" rx_packets)" max_drop_pct=90) ||
  fail "books do not balance with a gate to nowhere: $(echo $ACC)"
sp_drops=$(ctl stats | awk '$1 == "sp" { print $5 }')
d=$(direct in0)
[ "$d" -gt 0 ] && [ "${sp_drops:-0}" -gt 0 ] || fail "gate to nowhere: $d single-copy, hash_split dropped ${sp_drops:-none}"
ok "gate to nowhere: sent $(acc sent) = received $(acc received) + counted drops $(acc counted_drops) (hash_split's $sp_drops), $d single-copy"
stop_e2d
