#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The controller's plans are E2D commands: every line `e2ctl plan` writes for a server
# is applied, in order, to a running e2d (one per server, one after the other), for
# each example policy; then a split's phase-1 lines on the old instance's server; then
# the running system's example with instances withdrawn and restored (virsh shutdown
# and start): the base lines first, then each event's lines on top, without a restart.
# A refused line fails the test with e2d's message. Every e2d is stopped by PID.
set -euo pipefail
E2CTL=${1:?usage: test_plan_e2d.sh ORCH_E2CTL VSWITCH_BUILD_DIR SOURCE_DIR}
VS=${2:?}; SRC=${3:?}
T=$(mktemp -d /tmp/e2-plan-e2d.XXXXXX)
PID=""
stop_e2d() {
  [ -n "$PID" ] || return 0
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}
cleanup() { stop_e2d; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/e2d.log" ] && tail -5 "$T/e2d.log" >&2; exit 1; }

start_e2d() {
  rm -f "$T/e2d.ctl"
  # the agent's part: the fabric port `nic` (a null device that receives nothing)
  echo "port add nic pmd devargs=net_null0,no-rx=1" >"$T/agent.conf"
  # a server's plan has a few dozen range-split stages, each with its flow tables
  "$VS/e2d" --ctl "$T/e2d.ctl" --config "$T/agent.conf" --no-huge --mbufs 4095 --table-mb 640 --file-prefix "plan$$" \
    --log-level error >"$T/e2d.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do [ -S "$T/e2d.ctl" ] && return 0; sleep 0.05; done
  fail "e2d did not start"
}

# apply FILE WHAT: every line in one e2ctl session, which stops at the first refusal
apply() {
  if ! "$VS/e2ctl-dp" --ctl "$T/e2d.ctl" -f "$1" >"$T/out" 2>&1; then
    at=$(sed -n 's/.*stopped at .*:\([0-9]*\)$/\1/p' "$T/out")
    fail "$2: e2d refused line ${at:-?} '$(sed -n "${at:-0}p" "$1")': $(grep -v 'stopped at' "$T/out" | tail -3)"
  fi
  grep -cv '^\(#.*\)\?$' "$1"
}

# the indented lines of one section of the text plan ("E2D on big0:", "Phase 1, ...")
section() { # plan-file header-regex
  awk -v h="$2" '$0 ~ "^" h {f=1; next} /^[^ ]/ {f=0} f && /^  / {sub(/^  /, ""); print}' "$1"
}

plan_args() { # policy
  echo --policy "$SRC/examples/$1" --nfs "$SRC/examples/nfs.yaml" --hardware "$SRC/examples/hardware-4servers.yaml"
}

for policy in policy-fig3.1.yaml policy-fig3.12.yaml; do
  # shellcheck disable=SC2046
  "$E2CTL" plan $(plan_args "$policy") >"$T/plan.txt" 2>"$T/plan.err" || fail "e2ctl plan $policy: $(cat "$T/plan.err")"
  # the same deployment after a split of ids.3 (its E2D sections are the end state)
  # shellcheck disable=SC2046
  "$E2CTL" plan $(plan_args "$policy") --split ids.3 >"$T/split.txt" 2>"$T/plan.err" ||
    fail "e2ctl plan $policy --split ids.3: $(cat "$T/plan.err")"
  grep -q "^Phase 1, E2D on " "$T/split.txt" || fail "$policy: the split has no phase 1"
  phase1_applied=0
  servers=$(sed -n 's/^E2D on \([^:]*\):$/\1/p' "$T/plan.txt")
  [ -n "$servers" ] || fail "$policy: the plan has no E2D section"
  for s in $servers; do
    section "$T/plan.txt" "E2D on $s:" >"$T/$s.lines"
    start_e2d
    n=$(apply "$T/$s.lines" "$policy/$s")
    echo "ok - $policy: $n lines for $s applied to a live e2d"
    # the split of ids.3 happens on its server: the new instance is launched (its own
    # lines of the end state), then phase 1 applies on top of the running graph
    if grep -q "^Phase 1, E2D on $s " "$T/split.txt"; then
      new=$(sed -n 's/^Split of [^:]*: new instance \([^ ]*\) on \([^ ]*\) .*/\1 \2/p' "$T/split.txt")
      set -- $new
      if [ "$2" = "$s" ]; then
        section "$T/split.txt" "E2D on $s:" | grep -E "^(port add|module add|module cmd|connect) $1\." >"$T/launch" || true
        n=$(apply "$T/launch" "$policy/$s launch of $1")
        echo "ok - $policy: $n lines launching $1 applied on $s"
        section "$T/split.txt" "Phase 1, E2D on $s " >"$T/phase1"
        n=$(apply "$T/phase1" "$policy/$s phase 1")
        [ "$n" -gt 0 ] || fail "$policy: empty phase 1"
        echo "ok - $policy: $n phase-1 lines of the split applied on $s"
        phase1_applied=1
      fi
    fi
    stop_e2d
  done
  [ $phase1_applied = 1 ] || fail "$policy: the split's phase 1 was applied to no live e2d"
done

# re-steering: the live example (two monitor instances), mon.1 stopped, started again,
# then mon.0 and mon.1 stopped (nothing left: the range stays), mon.0 started again
live=(--policy "$SRC/examples/live/web.yaml" --nfs "$SRC/examples/live/nfs.yaml"
  --hardware "$SRC/examples/live/hardware-rack3.yaml")
"$E2CTL" plan "${live[@]}" >"$T/live.txt" 2>"$T/plan.err" || fail "e2ctl plan live: $(cat "$T/plan.err")"
events=(--withdraw mon.1 --restore mon.1 --withdraw mon.0 --withdraw mon.1 --restore mon.0)
"$E2CTL" plan "${live[@]}" "${events[@]}" >"$T/resteer.txt" 2>"$T/plan.err" ||
  fail "e2ctl plan live ${events[*]}: $(cat "$T/plan.err")"
# apply_events FILE-WITH-EVENTS WHAT: per server, the base lines then the events' lines
# on top (which must extend the base), to a live e2d; prints how many event lines in all
apply_events() {
  local n m moved=0
  # (the events' servers: a launch may put lines on a server the base leaves empty)
  for s in $(sed -n 's/^E2D on \([^:]*\):$/\1/p' "$1"); do
    section "$T/live.txt" "E2D on $s:" >"$T/$s.base"
    section "$1" "E2D on $s:" >"$T/$s.all"
    # the events only append: the base is a prefix (so the agent applies them one by one)
    n=$(wc -l <"$T/$s.base")
    [ "$(head -n "$n" "$T/$s.all")" = "$(cat "$T/$s.base")" ] || fail "$2/$s: the event lines do not extend the base"
    tail -n +"$((n + 1))" "$T/$s.all" >"$T/$s.events"
    start_e2d
    apply "$T/$s.base" "$2/$s" >/dev/null
    m=$(apply "$T/$s.events" "$2/$s events")
    moved=$((moved + m))
    echo "ok - $2: $m event lines applied on $s on top of the running lines" >&2
    stop_e2d
  done
  echo "$moved"
}
moved=$(apply_events "$T/resteer.txt" live) || exit 1
[ "$moved" -ge 6 ] || fail "live: only $moved re-steer lines in all"
# the moves: mon.1's range to mon.0's gate, back, both to mon.1's, then all to mon.0
got=$(grep -o 'fw.0.out.e0.split move range=[0-9-]* gate=[0-9]' "$T/resteer.txt" | sed 's/.*range=//' | tr '\n' ' ')
[ "$got" = "32768-65536 gate=0 32768-65536 gate=1 0-32768 gate=1 0-32768 gate=0 32768-65536 gate=0 " ] ||
  fail "live: moves are '$got'"
grep -q "no running instance of 'mon' is left" "$T/resteer.txt" || fail "live: the last withdrawal is not said"
# refusals: events that do not fit the instances' states
for bad in "--restore mon.1" "--withdraw mon.1 --withdraw mon.1" "--withdraw nope" "--withdraw client" \
  "--activate mon.0" "--launch mon.0 --withdraw mon.0 --activate mon.2" "--drain mon.1 --drain mon.1" \
  "--launch mon.0 --launch mon.1 --launch fw.0" "--scale-out mon.0 --scale-out mon.0 --scale-out mon.1" "--remove fw.0" "--scale-out fw.0 --remove fw.1" \
  "--scale-out fw.0 --drain fw.1 --remove fw.1 --remove fw.1"; do
  # shellcheck disable=SC2086
  if "$E2CTL" plan "${live[@]}" $bad >/dev/null 2>"$T/plan.err"; then fail "live: '$bad' accepted"; fi
  grep -q "re-steer: \|scale-out of\|split: " "$T/plan.err" || fail "live: '$bad': $(cat "$T/plan.err")"
  echo "ok - live: '$bad' refused: $(cat "$T/plan.err")"
done

# scaling: a third monitor split off mon.0 (on srv2: its ports, tunnels and decap rule,
# then the split at the firewall's stage), drained again, with stops and starts around
events=(--scale-out mon.0 --drain mon.2 --withdraw mon.1 --restore mon.1 --withdraw mon.0 --restore mon.0)
"$E2CTL" plan "${live[@]}" "${events[@]}" >"$T/scale.txt" 2>"$T/plan.err" ||
  fail "e2ctl plan live ${events[*]}: $(cat "$T/plan.err")"
grep -q "fw.0.out.e0.split split range=0-32768 at=16384 new_gate=2" "$T/scale.txt" || fail "scale: no split at the firewall's stage"
grep -q "port add mon.2.in vhost" "$T/scale.txt" || fail "scale: mon.2 has no port"
moved=$(apply_events "$T/scale.txt" scale) || exit 1
[ "$moved" -ge 20 ] || fail "scale: only $moved event lines in all"
# a new firewall: nothing distributes to fw.0 in e2d (the switch feeds it), so its own
# steering stage splits
"$E2CTL" plan "${live[@]}" --scale-out fw.0 >"$T/fw.txt" 2>"$T/plan.err" || fail "e2ctl plan --scale-out fw.0: $(cat "$T/plan.err")"
grep -q "fw.0.in.steer.rs split range=0-65536 at=32768 new_gate=1" "$T/fw.txt" || fail "scale fw: not split at fw.0's steering stage"
moved=$(apply_events "$T/fw.txt" scale-fw) || exit 1
# out, in, and out again: the drained firewall's range goes back to fw.0 there (a move:
# the flows it tracks stay until idle), the removed one's flows are forgotten, and the
# next one takes gate 2 by a move of the range that is already cut
events=(--scale-out fw.0 --drain fw.1 --remove fw.1 --scale-out fw.0)
"$E2CTL" plan "${live[@]}" "${events[@]}" >"$T/fw2.txt" 2>"$T/plan.err" ||
  fail "e2ctl plan live ${events[*]}: $(cat "$T/plan.err")"
for want in "fw.0.in.steer.rs move range=32768-65536 gate=0" "fw.0.in.steer.rs forget gate=1" \
  "connect fw.0.in.steer.rs:2 " "fw.0.in.steer.rs move range=32768-65536 gate=2" "port add fw.2.in vhost"; do
  grep -q "$want" "$T/fw2.txt" || fail "scale fw out-in-out: no '$want'"
done
moved=$(apply_events "$T/fw2.txt" scale-fw2) || exit 1
echo "ok - scaling lines applied on top of the running lines"
