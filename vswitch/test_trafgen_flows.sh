#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# e2-trafgen's flow model and its accounting on receive, on its own: net_ring ports loop
# what is sent back to the sender, so every figure can be checked against what was sent.
# Counts are compared with each other, never with a clock (the machine may be busy: how
# many packets and flows a run manages is not judged, only that they add up).
set -euo pipefail
BIN=${1:?usage: test_trafgen_flows.sh BUILD/vswitch}
T=$(mktemp -d /tmp/e2-tgflows.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; tail -30 "$T/out" 2>/dev/null; exit 1; }
ok() { echo "ok - $*"; }
n=0
tg() { # vdev args... -> $T/out
  local vdevs=$1
  shift
  n=$((n + 1))
  # shellcheck disable=SC2086 # vdevs is a list of flags
  timeout -k 5 120 "$BIN/e2-trafgen" -l 0 --no-huge --no-shconf -m 256 --no-pci --no-telemetry \
    --log-level error --file-prefix "tgf$$-$n" $vdevs -- "$@" >"$T/out" 2>"$T/err" ||
    fail "e2-trafgen $*: $(cat "$T/err")"
}
val() { sed -n "s/^$1=//p" "$T/out"; }

# Churn with fixed lifetimes through one looped port: every flow that sent arrives, on
# that port, none on two; the interval lines count what the totals count.
tg "--vdev net_ring0" --tx 0 --rx 0 --rate 50k --duration 1 --flows 100 --new-flows-per-s 500 --interval-ms 100
started=$(val flows_started)
[ "$started" -gt 100 ] || fail "no new flows began (flows_started=$started)"
[ "$(val flows_received)" = "$started" ] || fail "flows_received=$(val flows_received), flows_started=$started"
[ "$(val port0_rx_flows)" = "$started" ] || fail "port0_rx_flows=$(val port0_rx_flows), flows_started=$started"
[ "$(val flows_broken)" = 0 ] || fail "flows_broken=$(val flows_broken) through one port"
[ "$(val port0_rx_packets)" = "$(val rx_packets)" ] || fail "port0_rx_packets differs from rx_packets"
[ "$(val rx_packets)" = "$(val tx_packets)" ] || fail "a loop lost packets: $(val tx_packets) sent, $(val rx_packets) back"
lines=$(grep -c '^interval ' "$T/out" || true)
[ "$lines" -ge 1 ] || fail "no interval lines"
sum=$(awk '/^interval / {for (i = 2; i <= NF; i++) {split($i, kv, "="); if (kv[1] == "tx_packets") s += kv[2]}} END {print s + 0}' "$T/out")
[ "$sum" -le "$(val tx_packets)" ] || fail "interval tx_packets add up to $sum, more than the $(val tx_packets) sent"
grep '^interval ' "$T/out" | head -1 | grep -q 'port0_flows=[1-9]' || fail "interval line without port0_flows: $(grep -m1 '^interval ' "$T/out")"
ok "fixed lifetimes: $started flows started, all received on one port, $lines interval lines"

# Scattered 5-tuples decode to the same flow numbers (with flows beyond 2^16).
tg "--vdev net_ring0" --tx 0 --rx 0 --count 200000 --flows 100000 --random-tuples --flow-stats
{ [ "$(val flows_received)" = 100000 ] && [ "$(val flows_untracked)" = 0 ]; } || fail "random tuples: received $(val flows_received) of 100000 flows"
ok "random tuples: 100000 flows decoded"

# Without churn the flows are exactly --flows, as before.
tg "--vdev net_ring0" --tx 0 --rx 0 --count 6400 --flows 64 --flow-stats
{ [ "$(val flows_started)" = 64 ] && [ "$(val flows_received)" = 64 ]; } || fail "64 flows: started $(val flows_started), received $(val flows_received)"
ok "no churn: 64 flows"

# Exponential lifetimes, a ramp of rates (the duration is the steps' total).
tg "--vdev net_ring0" --tx 0 --rx 0 --rate-steps 20k,40k,20k --step-s 0.3 --flows 50 --new-flows-per-s 300 --lifetimes exp
[ "$(val flows_received)" = "$(val flows_started)" ] || fail "exp: started $(val flows_started), received $(val flows_received)"
[ "$(val tx_packets)" -gt 0 ] || fail "the ramp sent nothing"
ok "exp lifetimes and rate steps: $(val flows_started) flows, $(val tx_packets) packets"

# Two receive ports, each its own loop: everything comes back on the port it was sent on,
# none on the other; the per-port figures add up to the totals.
tg "--vdev net_ring0 --vdev net_ring1" --tx 0 --rx 1,0 --count 20000 --flows 200
{ [ "$(val port1_rx_packets)" = 0 ] && [ "$(val port1_rx_flows)" = 0 ]; } || fail "port 1 received what was sent on port 0"
{ [ "$(val port0_rx_packets)" = "$(val rx_packets)" ] && [ "$(val port0_rx_flows)" = 200 ]; } || fail "port 0: $(val port0_rx_packets) packets, $(val port0_rx_flows) flows"
[ "$(val flows_broken)" = 0 ] || fail "flows_broken=$(val flows_broken)"
ok "two receive ports: all on port 0, 200 flows"
