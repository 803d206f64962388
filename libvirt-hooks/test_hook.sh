#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# e2-hook as libvirtd runs it: the real binary, real domain XML (e2-virt xml), a real
# e2-agent on the other end (libvirt's in-process test driver, a null NIC: no VM, no
# libvirtd needed).
#   a) a domain without E2 metadata: exit 0 at once, nothing logged
#   b) an E2 domain: each operation reaches the agent of the server its metadata names
#   c) no agent: exit 0 within a second, logged
#   d) an agent that never answers: exit 0 within about a second, logged
#   e) XML that is not XML, or too much of it: exit 0, logged; wrong arguments: usage, 2
# Every process started here is stopped by PID on exit.
set -euo pipefail
HOOK=${1:?usage: test_hook.sh E2_HOOK BUILD_DIR}
B=${2:?}
VIRT=$B/orchestrator/virt/e2-virt AGENT=$B/orchestrator/agent/e2-agent E2D=$B/vswitch/e2d
for f in "$VIRT" "$AGENT" "$E2D"; do [ -x "$f" ] || { echo "SKIP: $f not built"; exit 77; }; done
T=$(mktemp -d /tmp/e2-hook-test.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -f "$T/st/e2d.pid" ] && kill "$(cat "$T/st/e2d.pid")" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done; exit 1; }
ms() { date +%s%3N; }
export E2_RUN_DIR=$T E2_HOOK_LOG=$T/hook.log
touch "$T/img.vmlinuz" "$T/img.initrd"
"$VIRT" xml --instance fw.0 --image "$T/img" --log "$T/c.log" --port "in=$T/fw.0.in.sock" \
  --port "out=$T/fw.0.out.sock" --server srvh --accel tcg >"$T/e2.xml" || fail "e2-virt xml"
sed -e '/<metadata>/,/<\/metadata>/d' "$T/e2.xml" >"$T/plain.xml"

# a) not ours
start=$(ms)
"$HOOK" plain prepare begin - <"$T/plain.xml" || fail "a foreign domain: status $?"
[ ! -s "$T/hook.log" ] || fail "a foreign domain was logged: $(cat "$T/hook.log")"
echo "ok - a) a domain without E2 metadata: exit 0 after $(( $(ms) - start )) ms, nothing logged"

# c) no agent yet
start=$(ms)
"$HOOK" fw.0 started begin - <"$T/e2.xml" || fail "no agent: status $?"
took=$(( $(ms) - start ))
[ "$took" -lt 1000 ] || fail "no agent: took $took ms"
grep -q "fw.0 started begin: no agent at $T/agent-srvh.hook" "$T/hook.log" || fail "no agent: not logged"
echo "ok - c) no agent: exit 0 after $took ms, logged"

# d) something listens on the socket but never answers
python3 - "$T/agent-srvh.hook" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(8)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)  # accepted, read nothing, answer nothing
PY
pids+=($!)
for _ in $(seq 50); do [ -S "$T/agent-srvh.hook" ] && break; sleep 0.1; done
start=$(ms)
"$HOOK" fw.0 stopped end - <"$T/e2.xml" || fail "a silent agent: status $?"
took=$(( $(ms) - start ))
[ "$took" -lt 1500 ] || fail "a silent agent held the hook $took ms"
grep -q "fw.0 stopped end -: agent at $T/agent-srvh.hook did not take it" "$T/hook.log" || fail "silent agent: not logged"
echo "ok - d) an agent that never answers: exit 0 after $took ms, logged"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
# the listener is gone, its socket file stays: a dead agent
start=$(ms)
"$HOOK" fw.0 release end - <"$T/e2.xml" || fail "a stale socket: status $?"
took=$(( $(ms) - start ))
[ "$took" -lt 500 ] || fail "a stale socket held the hook $took ms"
grep -q "fw.0 release end: no agent listens at $T/agent-srvh.hook (a stale socket)" "$T/hook.log" || fail "stale socket: not logged"
echo "ok - d) a stale socket (dead agent): exit 0 after $took ms, logged"
rm -f "$T/agent-srvh.hook"

# b) a real agent
mkdir -p "$T/st"
"$AGENT" --server srvh --listen "ipc://$T/agent.sock" --events "ipc://$T/agent.events" --hook "ipc://$T/agent-srvh.hook" \
  --state "$T/st" --nic net_null0,no-rx=1 --e2d "$E2D" --libvirt test:///default --log agent:dbg >"$T/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$T/agent-srvh.hook" ] && break; sleep 0.1; done
[ -S "$T/agent-srvh.hook" ] || fail "the agent did not open its hook socket"
for op in "prepare begin -" "start begin -" "started begin -" "stopped end destroyed" "release end -" "reconnect begin -"; do
  set -- $op
  start=$(ms)
  "$HOOK" fw.0 "$1" "$2" "$3" <"$T/e2.xml" || fail "$op: status $?"
  took=$(( $(ms) - start ))
  for _ in $(seq 50); do grep -q "hook: fw.0 $1 $2 $3 (server srvh)" "$T/agent.log" && break; sleep 0.1; done
  grep -q "hook: fw.0 $1 $2 $3 (server srvh)" "$T/agent.log" || fail "the agent did not hear '$op'"
  grep -q "fw.0 $1 $2 $3: told the agent of srvh" "$T/hook.log" || fail "'$op' not logged as told"
  echo "ok - b) '$op' reached the agent of srvh in $took ms"
done

# e) bad input
printf '<!DOCTYPE d [<!ENTITY a "aaaaaaaa">]><domain><name>&a;</name></domain>' | "$HOOK" x start begin - ||
  fail "a DOCTYPE: status $?"
grep -q "x start begin: domain XML unusable (domain XML with a DOCTYPE or entities: refused)" "$T/hook.log" ||
  fail "a DOCTYPE was not refused"
printf 'garbage <<' | "$HOOK" fw.0 started begin - || fail "garbage XML: status $?"
grep -q "fw.0 started begin: domain XML unusable" "$T/hook.log" || fail "garbage XML not logged"
start=$(ms)
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' 'x' | "$HOOK" fw.0 started begin - || fail "5 MiB of stdin: status $?"
echo "ok - e) garbage XML and 5 MiB of stdin: exit 0 ($(( $(ms) - start )) ms for the big one), logged"
rc=0
"$HOOK" only two </dev/null 2>"$T/usage.txt" || rc=$?
[ "$rc" = 2 ] && grep -q "^usage: qemu DOMAIN OP SUBOP EXTRA" "$T/usage.txt" || fail "wrong arguments: status $rc"
"$HOOK" --version | grep -q '^e2-hook ' || fail "--version"
echo "ok - e) wrong arguments: usage, status 2"

# f) the install step: E2's hook in place, someone else's left alone
INSTALL=$(dirname "$0")/install
"$INSTALL" --hook "$HOOK" --prefix "$T/etc" >/dev/null && cmp -s "$HOOK" "$T/etc/hooks/qemu" || fail "install"
"$INSTALL" --hook "$HOOK" --prefix "$T/etc" | grep -q "up to date" || fail "install twice"
"$INSTALL" --prefix "$T/etc" --uninstall >/dev/null && [ ! -e "$T/etc/hooks/qemu" ] || fail "uninstall"
printf '#!/bin/sh\nexit 0\n' >"$T/etc/hooks/qemu" && chmod +x "$T/etc/hooks/qemu"
"$INSTALL" --hook "$HOOK" --prefix "$T/etc" >/dev/null && cmp -s "$HOOK" "$T/etc/hooks/qemu.d/e2-hook" || fail "install beside a foreign hook"
grep -q "exit 0" "$T/etc/hooks/qemu" || fail "the foreign hook was replaced"
"$INSTALL" --prefix "$T/etc" --uninstall >/dev/null && [ -e "$T/etc/hooks/qemu" ] && [ ! -e "$T/etc/hooks/qemu.d/e2-hook" ] || fail "uninstall beside a foreign hook"
echo "ok - f) install: idempotent, never replaces someone else's hook (goes to qemu.d), uninstall removes only E2's"
echo "ok - all hook checks passed"
