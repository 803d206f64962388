#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# e2-agent as it runs: real agent processes, a real e2d, real nanomsg sockets; libvirt is
# the in-process test:///default driver (no VMs here: test_agent_vm.sh has one). The
# controller's side is e2-agent-call; specs are protobuf text encoded with protoc-c.
#
#   a) a spec of zero instances and three e2d lines: e2d up, the lines in it
#   b) kill -9 of e2d: restarted with its lines, AGENT_E2D_RESTARTED, restarts=1
#   c) kill -9 of the agent, start again: the same e2d adopted, the report unchanged
#   d) the same generation again changes nothing; more lines: only the suffix, no
#      restart; other lines: e2d restarted on them; lines e2d refuses: back on the old
#      ones, tried once; an older generation and a changed same generation refused
#   e) tcp:// with a key: a request sealed with another key gets no answer, is counted
#   f) SIGTERM leaves e2d running; a damaged database is refused with a clear message
#   g) bad flags: exit 1 with "e2-agent: ..."; hook notices are answered
#
# Everything started here is stopped by PID on exit, even on failure.
set -euo pipefail
AGENT=${1:?usage: test_agent.sh E2_AGENT E2_AGENT_CALL E2D E2CTL_DP SOURCE_DIR}
CALL=${2:?}; E2D=${3:?}; CTLDP=${4:?}; SRC=${5:?}
command -v protoc-c >/dev/null || { echo "SKIP: protoc-c missing"; exit 77; }

T=$(mktemp -d /tmp/e2-agent-test.XXXXXX)
S=t$$                 # the server's name (and e2d's DPDK file prefix e2a-NAME): unique
ST=$T/st
A_URL=ipc://$T/agent.sock E_URL=ipc://$T/events.sock H_URL=ipc://$T/hook.sock
agent_pid='' follow_pid='' b_agent_pid=''
e2d_pids=()
# the fabric NIC: a veth pair when root (frames sent into its peer reach e2d's `nic`),
# else a null device
VETH='' NIC=net_null0,no-rx=1
if [ "$(id -u)" = 0 ] && ip link add "e2a$$" type veth peer name "e2a$$p" 2>/dev/null; then
  VETH=e2a$$ NIC=e2a$$
  ip link set "$VETH" up && ip link set "${VETH}p" up
fi

t0=$(date +%s)
step() { echo "[$(( $(date +%s) - t0 ))s] ok - $*"; }
fail() {
  echo "FAIL: $*" >&2
  for f in "$T"/agent*.log "$ST/e2d.log" "$T/events.txt"; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 25 "$f" >&2; }
  done
  exit 1
}

stop_pid() { # PID: TERM, then KILL after 5 s
  local p=$1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
is_e2d() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$E2D")" ]; }
remember_e2d() { # every e2d this test caused, to stop it at the end
  local f
  for f in "$ST/e2d.pid" "$T/stb/e2d.pid"; do
    [ -s "$f" ] && e2d_pids+=("$(cat "$f")")
  done
  return 0
}
cleanup() {
  set +e
  remember_e2d
  stop_pid "$follow_pid"
  stop_pid "$agent_pid"
  stop_pid "$b_agent_pid"
  for p in "${e2d_pids[@]}"; do is_e2d "$p" && stop_pid "$p"; done
  [ -n "$VETH" ] && ip link del "$VETH" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

encode() { protoc-c --proto_path="$SRC/proto" --encode=e2.ctl.ServerSpec e2ctl.proto; }
spec() { # FILE GENERATION LINE... : a spec of zero instances
  local f=$1 g=$2
  shift 2
  { echo "server: \"$S\""; echo "generation: $g"
    for l in "$@"; do echo "e2d_lines: \"$l\""; done; } | encode >"$f"
}
call() { "$CALL" --url "$A_URL" "$@"; }
field() { call report 2>/dev/null | awk -v k="$1" '$1==k{print $2}'; }
wait_for() { # SECONDS WHAT COMMAND...
  local s=$1 what=$2
  shift 2
  for _ in $(seq $(( s * 10 ))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "$what (waited ${s} s)"
}
gen_is() { [ "$(field generation)" = "$1" ]; }
e2d_up() { [ "$(field e2d_running)" = 1 ]; }
dp_list() { "$CTLDP" --ctl "$ST/e2d.ctl" list; }
has_module() { dp_list | awk -v m="$1" '$1==m{f=1} END{exit !f}'; }
nic_rx() { dp_list | awk '$1=="nic"{print $4}'; }
send_frames() { # N: Ethernet frames into the veth's peer
  python3 - "${VETH}p" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for i in range(int(sys.argv[2])):
    s.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"e2-agent-test" + bytes(40))
PY
}
rx_at_least() { [ "$(nic_rx)" -ge "$1" ]; }

start_agent() { # LOG [extra flags]: the agent of server $S
  local log=$1
  shift
  "$AGENT" --server "$S" --listen "$A_URL" --events "$E_URL" --hook "$H_URL" --state "$ST" \
    --nic "$NIC" --e2d "$E2D" --libvirt test:///default --pidfile "$T/agent.pid" \
    --log info "$@" >>"$T/$log" 2>&1 &
  agent_pid=$!
  wait_for 30 "the agent answers" call report
}

# --- a) zero instances, three lines ------------------------------------------------
L1="module add nic_in port_in port=nic"
L2="module add drop sink"
L3="connect nic_in drop"
spec "$T/g1.bin" 1 "$L1" "$L2" "$L3"
start_agent agent.log
"$CALL" --url "$E_URL" events >"$T/events.txt" 2>&1 &
follow_pid=$!
call apply "$T/g1.bin" >/dev/null || fail "apply of generation 1 refused"
wait_for 30 "generation 1 applied" gen_is 1
wait_for 30 "e2d up" e2d_up
remember_e2d
has_module drop && has_module nic_in || fail "e2d lacks the spec's modules: $(dp_list)"
[ "$(field e2d_restarts)" = 0 ] || fail "restarts $(field e2d_restarts), not 0"
wait_for 10 "a heartbeat" grep -q "^heartbeat server=$S generation=1 e2d_running=1" "$T/events.txt"
if [ -n "$VETH" ]; then
  send_frames 20
  wait_for 10 "frames on the veth reach e2d's nic" rx_at_least 20
fi
step "a) e2d up (pid $(field e2d_pid)) with the spec's 3 lines on nic $NIC; heartbeats"

# --- b) kill -9 of e2d ----------------------------------------------------------------
old=$(field e2d_pid)
kill -KILL "$old"
restarted() { p=$(field e2d_pid); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$old" ] && e2d_up; }
wait_for 60 "e2d restarted" restarted
remember_e2d
has_module drop || fail "the restarted e2d lacks its lines: $(dp_list)"
[ "$(field e2d_restarts)" = 1 ] || fail "restarts $(field e2d_restarts), not 1"
wait_for 10 "AGENT_E2D_RESTARTED" grep -q "^e2d_restarted server=$S e2d_pid=$(field e2d_pid) e2d_restarts=1" "$T/events.txt"
step "b) kill -9 of e2d $old: restarted as $(field e2d_pid) with its lines, published, restarts=1"

# --- c) kill -9 of the agent: the e2d is adopted ----------------------------------------
if [ -n "$VETH" ]; then
  send_frames 20
  wait_for 10 "frames reach the restarted e2d" rx_at_least 20
fi
rx_before=$(nic_rx)
before=$(call report | grep -v '^boot ')
boot1=$(field boot)
e2d_before=$(field e2d_pid)
kill -KILL "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
kill -0 "$e2d_before" 2>/dev/null || fail "e2d died with the agent"
start_agent agent.log
wait_for 10 "e2d up after adoption" e2d_up
after=$(call report | grep -v '^boot ')
[ "$before" = "$after" ] || fail "report changed across the agent's restart: <$before> vs <$after>"
[ "$(field boot)" != "$boot1" ] || fail "the new agent reports the old boot"
grep -q "adopted the running e2d (pid $e2d_before" "$T/agent.log" || fail "no adoption logged"
if [ -n "$VETH" ]; then
  # the same e2d, counting on: its counters were not reset, frames still arrive
  [ "$(nic_rx)" -ge "$rx_before" ] || fail "e2d's nic counters were reset ($(nic_rx), was $rx_before)"
  send_frames 20
  wait_for 10 "frames reach e2d after the agent's restart" rx_at_least $(( rx_before + 20 ))
fi
step "c) agent killed and started again: e2d $e2d_before adopted, report unchanged, traffic undisturbed"

# --- d) generations -------------------------------------------------------------------
applied() { grep -c "e2d line applied" "$T/agent.log" || true; }
n0=$(applied)
call apply "$T/g1.bin" >/dev/null || fail "the same generation again was refused"
sleep 1
[ "$(field e2d_pid)" = "$e2d_before" ] && [ "$(applied)" = "$n0" ] || fail "the same generation changed something"
step "d) generation 1 again: nothing changed"

L4="module add q0 queue size=64"
spec "$T/g2.bin" 2 "$L1" "$L2" "$L3" "$L4"
call apply "$T/g2.bin" >/dev/null || fail "generation 2 refused"
wait_for 30 "generation 2 applied" gen_is 2
[ "$(field e2d_pid)" = "$e2d_before" ] || fail "a suffix restarted e2d"
has_module q0 || fail "the suffix line is not in e2d"
[ "$(applied)" = $(( n0 + 1 )) ] || fail "not exactly one line applied for the suffix"
grep -q "^$L4\$" "$ST/e2d.conf" || fail "e2d.conf lacks the applied suffix"
step "d) generation 2 (one more line): applied without a restart"

L2b="module add drop2 sink"
L3b="connect nic_in drop2"
spec "$T/g3.bin" 3 "$L1" "$L2b" "$L3b"
call apply "$T/g3.bin" >/dev/null || fail "generation 3 refused"
wait_for 60 "generation 3 applied" gen_is 3
remember_e2d
e2d_g3=$(field e2d_pid)
[ "$e2d_g3" != "$e2d_before" ] || fail "other lines did not restart e2d"
has_module drop2 && ! has_module q0 || fail "e2d does not have exactly generation 3's lines: $(dp_list)"
[ "$(field e2d_restarts)" = 1 ] || fail "a restart for new lines was counted as a crash"
step "d) generation 3 (other lines): e2d restarted on them (pid $e2d_g3)"

spec "$T/g4.bin" 4 "$L1" "connect nic_in nosuch"
call apply "$T/g4.bin" >/dev/null || fail "generation 4 refused at once (the agent cannot know)"
wait_for 60 "the refusal of generation 4" grep -q "generation 4 refused" "$T/agent.log"
wait_for 60 "e2d back up" e2d_up
remember_e2d
sleep 6 # a worker pass or two: it must not try again
[ "$(grep -c 'stopping e2d (pid [0-9]*) to start it with new lines' "$T/agent.log")" = 2 ] ||
  fail "refused lines were tried more than once"
gen_is 3 || fail "generation $(field generation) reported after a refusal"
has_module drop2 || fail "e2d is not back on generation 3's lines"
step "d) generation 4 (a line e2d refuses): tried once, e2d back on generation 3's lines"

spec "$T/g2b.bin" 2 "$L1"
out=$(call apply "$T/g2b.bin" 2>&1) && fail "an older generation was taken"
grep -q "generation 2 is older" <<<"$out" || fail "older generation: $out"
spec "$T/g4b.bin" 4 "$L1"
out=$(call apply "$T/g4b.bin" 2>&1) && fail "generation 4 with other content was taken"
grep -q "generation 4 was received before with other content" <<<"$out" || fail "changed generation: $out"
step "d) an older generation and a changed generation 4 are refused"

# --- g) hook notices, bad flags -----------------------------------------------------------
"$CALL" --url "$H_URL" --timeout 1000 hook nf0 stopped end - nf0 "$S" >/dev/null ||
  fail "no answer to a hook notice"
for bad in "--server" "--bogus" "--server x --listen ipc://$T/x --events ipc://$T/y --state $T/z"; do
  # shellcheck disable=SC2086
  if out=$("$AGENT" $bad 2>&1); then fail "e2-agent $bad was accepted"; fi
  # shellcheck disable=SC2086
  rc=0; "$AGENT" $bad >/dev/null 2>&1 || rc=$?
  [ "$rc" = 1 ] && grep -q "^e2-agent: " <<<"$out" || fail "e2-agent $bad: status $rc, '$out'"
done
out=$("$AGENT" --server "$S" --listen "$A_URL" --events "$E_URL" --state "$ST" --nic net_null0 --e2d "$E2D" 2>&1) &&
  fail "a second agent on the same state started"
grep -q "another e2-agent (pid $agent_pid) uses" <<<"$out" || fail "second agent: $out"
out=$(call start nosuch 2>&1) && fail "start of an unknown instance was taken"
grep -q "no instance nosuch in the spec" <<<"$out" || fail "start nosuch: $out"
step "g) hook notice answered; bad flags, a second agent on the same state, start of an unknown instance refused"

# --- e) tcp:// with a key ------------------------------------------------------------------
head -c 32 /dev/urandom >"$T/key" && chmod 600 "$T/key"
head -c 32 /dev/urandom >"$T/other.key" && chmod 600 "$T/other.key"
port=$(( 20000 + $$ % 20000 ))
B_URL=tcp://127.0.0.1:$port
mkdir -p "$T/stb"
"$AGENT" --server "${S}b" --listen "$B_URL" --events "tcp://127.0.0.1:$(( port + 1 ))" --key "$T/key" \
  --hook "ipc://$T/hookb.sock" --state "$T/stb" --nic net_null0,no-rx=1 --e2d "$E2D" --libvirt test:///default \
  >>"$T/agent-b.log" 2>&1 &
b_agent_pid=$!
wait_for 30 "the tcp agent answers" "$CALL" --url "$B_URL" --key "$T/key" report
remember_e2d
rc=0
"$CALL" --url "$B_URL" --key "$T/other.key" --timeout 1500 report >"$T/wrong.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "a request sealed with another key: status $rc: $(cat "$T/wrong.out")"
wait_for 10 "the refusal logged" grep -q "bad_mac" "$T/agent-b.log"
"$CALL" --url "$B_URL" --key "$T/key" report >/dev/null || fail "the right key no longer works"
"$CALL" --url "$B_URL" --key "$T/key" probe >"$T/probe.out" 2>&1 || fail "probe: $(cat "$T/probe.out")"
sed 's/^/  /' "$T/probe.out"
step "e) tcp:// with a key: forged, replayed and truncated requests refused (no answer, counted), the right key answered"

# --- f) SIGTERM leaves e2d; a damaged database is refused ------------------------------------
e2d_b=$(cat "$T/stb/e2d.pid")
stop_pid "$b_agent_pid"
b_agent_pid=
kill -0 "$e2d_b" 2>/dev/null && is_e2d "$e2d_b" || fail "SIGTERM of the agent stopped its e2d"
stop_pid "$e2d_b"
rm -f "$T/stb/agent.db-wal" "$T/stb/agent.db-shm"
head -c 8192 /dev/urandom >"$T/stb/agent.db"
rc=0
out=$("$AGENT" --server "${S}b" --listen "ipc://$T/b2.sock" --events "ipc://$T/b2e.sock" --hook "ipc://$T/hookb.sock" \
  --state "$T/stb" --nic net_null0,no-rx=1 --e2d "$E2D" --libvirt test:///default 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "a damaged database: status $rc"
grep -q "^e2-agent: $T/stb/agent.db: damaged or not an e2-agent database" <<<"$out" ||
  fail "a damaged database: '$out'"
step "f) SIGTERM left e2d $e2d_b running; a damaged database is refused: ${out#e2-agent: }"

step "all agent checks passed in $(( $(date +%s) - t0 )) s"
