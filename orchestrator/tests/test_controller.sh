#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# e2-controller with real agents, real e2ds and real sealed channels, but no VMs (the
# agents use libvirt's in-process test driver, whose domains never boot, and null NICs):
# what the controller decides and keeps, not what the VMs do (ci/e2e-live does that).
#   a) apply: instances placed on the three servers, each agent's e2d gets its lines;
#      status, graph, events; the control socket is 0600
#   b) a bad policy is refused with the planner's message and changes nothing
#   c) delete: the pipeline's instance and its e2d lines leave their server
#   d) kill -9 of the controller: restarted from SQLite, the same state, nothing pushed
#      again that the agents already have
#   e) a damaged or a missing database: refused, saying what to do; --rebuild takes the
#      agents' specs back
# Every process started here is stopped by PID on exit.
set -euo pipefail
B=${1:?usage: test_controller.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?}
CTL=$B/orchestrator/e2-controller E2CTL=$B/orchestrator/e2ctl AGENT=$B/orchestrator/agent/e2-agent
CALL=$B/orchestrator/agent/e2-agent-call E2D=$B/vswitch/e2d DP=$B/vswitch/e2ctl-dp
for f in "$CTL" "$E2CTL" "$AGENT" "$CALL" "$E2D" "$DP"; do [ -x "$f" ] || { echo "SKIP: $f not built"; exit 77; }; done
T=$(mktemp -d /tmp/e2-controller-test.XXXXXX)
export E2_CONTROLLER=ipc://$T/ctl.sock
pids=() ctl_pid=
cleanup() {
  set +e
  [ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}" $ctl_pid; do wait "$p" 2>/dev/null; done
  for i in 0 1 2; do [ -f "$T/st$i/e2d.pid" ] && kill "$(cat "$T/st$i/e2d.pid")" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }; done; exit 1; }
t0=$(date +%s)
step() { echo "[$(( $(date +%s) - t0 ))s] ok - $*"; }
wait_for() { # SECONDS WHAT COMMAND...
  local n=$(( $1 * 5 )) what=$2; shift 2
  for _ in $(seq $n); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "$what (after $(( n / 5 )) s)"
}

cat >"$T/hw.yaml" <<EOF
servers:
EOF
for i in 0 1 2; do
  echo "  - { name: srv$i, cores: 3, ghz: 2.0, nic_gbps: 1, agent: 'ipc://$T/a$i.sock', agent_events: 'ipc://$T/a$i.ev' }" >>"$T/hw.yaml"
done
echo "switch: { ports: 8, external_ports: [ext0, ext1], port_gbps: 1, flow_table_entries: 2048, actions: [output, encap, decap] }" >>"$T/hw.yaml"
for i in 0 1 2; do
  mkdir -p "$T/st$i"
  "$AGENT" --server srv$i --listen "ipc://$T/a$i.sock" --events "ipc://$T/a$i.ev" --hook "ipc://$T/h$i.hook" \
    --state "$T/st$i" --nic "net_null$i,no-rx=1" --e2d "$E2D" --libvirt test:///default --ready-timeout 1s \
    >"$T/agent$i.log" 2>&1 &
  pids+=($!)
done
start_ctl() {
  "$CTL" --db "$T/c.db" --ctl "ipc://$T/ctl.sock" --events "ipc://$T/ctl.ev" "$@" >>"$T/controller.log" 2>&1 &
  ctl_pid=$!
  wait_for 20 "the controller answers" "$E2CTL" status
}
start_ctl --init --hardware "$T/hw.yaml" --nfs "$SRC/examples/live/nfs.yaml"
wait_for 20 "every agent alive" sh -c "[ \$('$E2CTL' status | grep -c 'agent alive') = 3 ]"
[ "$(stat -c %a "$T/ctl.sock")" = 600 ] || fail "the control socket has mode $(stat -c %a "$T/ctl.sock")"

# --- a) apply
"$E2CTL" events --for 6s >"$T/events.txt" 2>&1 &
ev_pid=$!
sleep 0.5
out=$("$E2CTL" apply "$SRC/examples/live/web.yaml") || fail "apply: $out"
grep -q "^generation 1: 2 pipeline(s), 4 instance(s): fw.0@srv0 mon.0@srv0 mon.1@srv1 ret.0@srv1$" <<<"$out" ||
  fail "apply said: $out"
# (output first, then grep: with pipefail, grep -q leaving early can fail the writer)
has_port() { grep -q "$2" <<<"$("$DP" --ctl "$T/st$1/e2d.ctl" list 2>/dev/null)"; }
wait_for 20 "srv0's e2d has fw.0's ports" has_port 0 fw.0.in
wait_for 20 "srv1's e2d has ret.0's ports" has_port 1 ret.0.in
"$E2CTL" status >"$T/status.txt"
for x in "fw.0 firewall srv0" "mon.0 monitor srv0" "mon.1 monitor srv1" "ret.0 forwarder srv1"; do
  set -- $x
  awk -v i=$1 -v n=$2 -v s=$3 '$1==i && $2==n && $3==s {f=1} END {exit !f}' "$T/status.txt" ||
    fail "status does not show $1 ($2) on $3: $(cat "$T/status.txt")"
done
grep -q "cluster_srv1" <<<"$("$E2CTL" graph)" || fail "the graph has no srv1 cluster"
wait "$ev_pid" || true
grep -q "generation 1: 2 pipeline(s)" "$T/events.txt" || fail "e2ctl events missed the apply: $(cat "$T/events.txt")"
step "a) apply: fw.0, mon.0 on srv0, mon.1, ret.0 on srv1, each e2d has its lines; status, graph, events; socket 0600"

# --- b) a bad policy
printf 'pipelines:\n  - name: bad\n    nodes: [{ name: a, nf: nosuch }]\n    edges: []\n' >"$T/bad.yaml"
rc=0
out=$("$E2CTL" apply "$T/bad.yaml" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "^e2ctl: " <<<"$out" || fail "a bad policy: status $rc, '$out'"
grep -q "^pipelines: web web-return$" <<<"$("$E2CTL" status)" || fail "the bad policy changed the pipelines"
step "b) a bad policy refused: ${out#e2ctl: }"

# --- c) delete
out=$("$E2CTL" delete web-return) || fail "delete: $out"
gone() { ! has_port 1 ret.0.in; }
wait_for 30 "ret.0's ports leave srv1's e2d" gone
grep -q "^  ret.0 " <<<"$("$E2CTL" status)" && fail "ret.0 is still listed"
rc=0
out=$("$E2CTL" delete web-return 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "no pipeline 'web-return' is applied" <<<"$out" || fail "deleting twice: $rc '$out'"
step "c) delete web-return: ret.0 and its e2d lines gone; deleting it again is refused"

# --- d) kill -9 of the controller
gen0=$("$CALL" --url "ipc://$T/a0.sock" report | awk '$1=="generation" {print $2}')
before=$("$E2CTL" status | sed -n '/^instances:/,$p' | awk '{print $1, $2, $3}')
kill -9 "$ctl_pid"; wait "$ctl_pid" 2>/dev/null || true
start_ctl
after=$("$E2CTL" status | sed -n '/^instances:/,$p' | awk '{print $1, $2, $3}')
[ "$before" = "$after" ] || fail "after a restart the controller knows '$after', not '$before'"
sleep 3
gen1=$("$CALL" --url "ipc://$T/a0.sock" report | awk '$1=="generation" {print $2}')
[ "$gen0" = "$gen1" ] || fail "srv0's agent went from generation $gen0 to $gen1 after the restart"
step "d) kill -9 controller: restarted from SQLite with the same instances; agents left at generation $gen1"

# --- e) a damaged, then a missing database
kill -9 "$ctl_pid"; wait "$ctl_pid" 2>/dev/null || true
ctl_pid=
rm -f "$T/c.db-wal" "$T/c.db-shm"
head -c 16384 /dev/urandom >"$T/c.db"
rc=0
out=$("$CTL" --db "$T/c.db" --ctl "ipc://$T/ctl.sock" --events "ipc://$T/ctl.ev" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "not a usable database.*--rebuild" <<<"$out" || fail "a damaged database: $rc '$out'"
rm -f "$T/c.db"
rc=0
out=$("$CTL" --db "$T/c.db" --ctl "ipc://$T/ctl.sock" --events "ipc://$T/ctl.ev" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "no such database; start with --init" <<<"$out" || fail "a missing database: $rc '$out'"
start_ctl --rebuild --hardware "$T/hw.yaml" --nfs "$SRC/examples/live/nfs.yaml"
"$E2CTL" status >"$T/status2.txt"
grep -q "^  fw.0 .* srv0 " "$T/status2.txt" && grep -q "^  mon.1 .* srv1 " "$T/status2.txt" ||
  fail "the rebuilt controller does not know fw.0 and mon.1: $(cat "$T/status2.txt")"
grep -q "rebuilt from 3 of 3 agents" "$T/controller.log" || fail "the rebuild is not logged"
step "e) damaged and missing databases refused; --rebuild took fw.0 and mon.1 back from the agents"
echo "ok - all controller checks passed in $(( $(date +%s) - t0 )) s"
