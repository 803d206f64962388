#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# e2-agent with one real NF VM (the legacy-nf image, e2-fwd between two vhost-user ports
# of a real e2d) under a real libvirtd:
#
#   create (booted from its own initrd: instance_files, mode 0600, removed with it; a
#   control channel to the guest) ->
#   running; virsh destroy -> failed, replaced (same name and ports) -> running;
#   virsh shutdown -> stopped, left off; virsh start (a new key in the instance's files,
#   in the initrd the hook has the agent make) -> running; kill -9 of the agent and a
#   new one -> the VM adopted, not duplicated; a spec without it -> removed.
#
# Root only (libvirtd via ci/libvirt-up); skips (77) until e2d and the image are built.
# Guests run under E2_ACCEL (default tcg: no 8 s KVM probe). Everything started here is
# stopped by PID or removed by name on exit, even on failure.
set -euo pipefail
AGENT=${1:?usage: test_agent_vm.sh E2_AGENT E2_AGENT_CALL E2D E2CTL_DP SOURCE_DIR IMAGE_DIR}
CALL=${2:?}; E2D=${3:?}; CTLDP=${4:?}; SRC=${5:?}; IMAGES=${6:?}
. "$SRC/ci/virsh-lib.sh"
URI=qemu:///system
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (libvirtd)"; exit 77; }
for f in "$IMAGES/legacy-nf.vmlinuz" "$IMAGES/legacy-nf.initrd"; do
  [ -r "$f" ] || { echo "SKIP: $f not built (target image-legacy-nf)"; exit 77; }
done
command -v protoc-c >/dev/null && command -v virsh >/dev/null || { echo "SKIP: protoc-c or virsh missing"; exit 77; }
export E2_ACCEL=${E2_ACCEL:-tcg}

T=$(mktemp -d /tmp/e2-agent-vm.XXXXXX)
chmod 0755 "$T"
S=v$$
VM=$S-nf
ST=$T/st
A_URL=ipc://$T/agent.sock E_URL=ipc://$T/events.sock
SOCK_IN=/run/e2/$S-in.sock SOCK_OUT=/run/e2/$S-out.sock SOCK_CTL=/run/e2/$S-ctl.sock
agent_pid='' follow_pid=''
e2d_pids=()

t0=$(date +%s)
step() { echo "[$(( $(date +%s) - t0 ))s] ok - $*"; }
fail() {
  echo "FAIL: $*" >&2
  for f in "$T"/agent.log "$ST/e2d.log" "$T/events.txt" "$ST/$VM.console"; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 25 "$f" >&2; }
  done
  exit 1
}
stop_pid() {
  local p=$1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
is_e2d() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$E2D")" ]; }
remember_e2d() { [ -s "$ST/e2d.pid" ] && e2d_pids+=("$(cat "$ST/e2d.pid")"); return 0; }
cleanup() {
  set +e
  remember_e2d
  stop_pid "$follow_pid"
  stop_pid "$agent_pid"
  virsh -c $URI destroy "$VM" >/dev/null 2>&1
  virsh -c $URI undefine "$VM" >/dev/null 2>&1
  for p in "${e2d_pids[@]}"; do is_e2d "$p" && stop_pid "$p"; done
  rm -f "$SOCK_IN" "$SOCK_OUT" "$SOCK_CTL" "/run/e2/agent-$S.hook"
  "$SRC/ci/libvirt-down" "$VM" >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$SRC/ci/libvirt-up" >/dev/null || { echo "SKIP: libvirtd does not start here"; exit 77; }
# QEMU (libvirt-qemu) must read the image: the build tree may be below /root
mkdir -p "$T/images" && cp "$IMAGES/legacy-nf.vmlinuz" "$IMAGES/legacy-nf.initrd" "$T/images/"
chmod 0755 "$T/images" && chmod 0644 "$T/images"/*

# the instance's own files (a key): the agent boots it from its own initrd
mkdir -m 0700 "$T/inst" && (umask 077; echo 00112233445566778899aabbccddeeff >"$T/inst/nf.key")
encode() { protoc-c --proto_path="$SRC/proto" --encode=e2.ctl.ServerSpec e2ctl.proto; }
with_vm() { # GENERATION: the VM forwarding between its two ports, wired in e2d
  cat <<SPEC | encode
server: "$S"
generation: $1
instances { name: "$VM" nf: "fwd" image: "legacy-nf" command: "e2-fwd" args: "eth0,eth1" vcpus: 1 memory_mib: 128
  instance_files: "$T/inst" control: "/run/nf.ctl" control_socket: "$SOCK_CTL"
  ports { name: "in" socket: "$SOCK_IN" } ports { name: "out" socket: "$SOCK_OUT" } flow_hi: 65536 }
e2d_lines: "port add vma vhost path=$SOCK_IN client=1"
e2d_lines: "port add vmb vhost path=$SOCK_OUT client=1"
e2d_lines: "module add in_vma port_in port=vma"
e2d_lines: "module add in_vmb port_in port=vmb"
e2d_lines: "module add drop sink"
e2d_lines: "connect in_vma drop"
e2d_lines: "connect in_vmb drop"
SPEC
}
call() { "$CALL" --url "$A_URL" "$@"; }
state_of() { call report 2>/dev/null | awk -v n="$VM" '$1=="instance" && $2==n {print $3}'; }
wait_state() { # STATE SECONDS
  for _ in $(seq $(( $2 * 5 ))); do [ "$(state_of)" = "$1" ] && return 0; sleep 0.2; done
  fail "$VM is '$(state_of)', not '$1', after $2 s"
}
domstate() { virsh -c $URI domstate "$VM" 2>/dev/null | head -n1; }
event_seen() { grep -q "^instance_state $VM $1 .*detail=$2" "$T/events.txt"; }
wait_event() { # STATE DETAIL-REGEX SECONDS
  for _ in $(seq $(( $3 * 5 ))); do event_seen "$1" "$2" && return 0; sleep 0.2; done
  fail "no event '$VM $1 ... $2' within $3 s"
}
start_agent() {
  "$AGENT" --server "$S" --listen "$A_URL" --events "$E_URL" --hook "ipc:///run/e2/agent-$S.hook" --state "$ST" \
    --nic net_null0,no-rx=1 --e2d "$E2D" --images "$T/images" --libvirt $URI >>"$T/agent.log" 2>&1 &
  agent_pid=$!
  for _ in $(seq 100); do call report >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "the agent does not answer"
}

start_agent
"$CALL" --url "$E_URL" events >"$T/events.txt" 2>&1 &
follow_pid=$!
sleep 0.5
with_vm 1 >"$T/g1.bin"
call apply "$T/g1.bin" >/dev/null || fail "apply refused"
remember_e2d
wait_state running 150
wait_event pending '' 1 && wait_event starting creating 1
[ "$(domstate)" = running ] || fail "libvirt says $(domstate)"
link() { "$CTLDP" --ctl "$ST/e2d.ctl" list | awk -v p="$1" '$1==p{print $3}'; }
for _ in $(seq 50); do [ "$(link vma)" = up ] && [ "$(link vmb)" = up ] && break; sleep 0.2; done
[ "$(link vma)" = up ] && [ "$(link vmb)" = up ] || fail "e2d's ports to the VM are not up: $(link vma) $(link vmb)"
grep -q "<server>$S</server>" <(virsh -c $URI metadata "$VM" http://e2-nfv.org/xmlns/libvirt/nf/1) ||
  fail "the domain's metadata does not name server $S"
[ "$(stat -c %a "$ST/$VM.initrd" 2>/dev/null)" = 600 ] || fail "no instance initrd $ST/$VM.initrd of mode 0600"
virsh -c $URI dumpxml "$VM" >"$T/dom.xml"
grep -q "<initrd>$ST/$VM.initrd</initrd>" "$T/dom.xml" || fail "the domain does not boot the instance's initrd"
grep -q "e2.ctl=/run/nf.ctl" "$T/dom.xml" && grep -q "name=.e2.ctl." "$T/dom.xml" && [ -S "$SOCK_CTL" ] ||
  fail "no control channel e2.ctl on $SOCK_CTL (guest /run/nf.ctl) in the domain"
grep -aq 00112233445566778899aabbccddeeff "$ST"/*.console "$T/agent.log" && fail "the key is in a log"
step "created: $VM running ($(call report | awk -v n="$VM" '$2==n' | sed 's/.*detail=//'))"

id1=$(virsh -c $URI domid "$VM")
virsh -c $URI destroy "$VM" >/dev/null || fail "virsh destroy"
wait_event failed 'virsh destroy' 30
wait_state running 150
wait_event running 'replaced in' 1
[ "$(virsh -c $URI domid "$VM")" != "$id1" ] && [ "$(domstate)" = running ] || fail "not replaced"
step "virsh destroy: failed, replaced ($(grep "^instance_state $VM running .*replaced" "$T/events.txt" | tail -1 | sed 's/.*detail=//'))"

virsh -c $URI shutdown "$VM" >/dev/null || fail "virsh shutdown"
wait_state stopped 90
wait_event stopped 'virsh shutdown' 1
sleep 6 # a worker pass: it must stay off
[ "$(domstate)" = "shut off" ] && [ "$(state_of)" = stopped ] || fail "the stopped VM was started again"
step "virsh shutdown: stopped, left off"

# a new key for the stopped instance: the operator's virsh start boots it (libvirt's
# prepare hook has the agent make the initrd again before QEMU starts)
(umask 077; echo ffeeddccbbaa99887766554433221100 >"$T/inst/nf.key")
virsh -c $URI start "$VM" >/dev/null || fail "virsh start"
if grep -q "hook: $VM prepare begin" "$T/agent.log"; then
  grep -aq ffeeddccbbaa99887766554433221100 "$ST/$VM.initrd" && ! grep -aq 00112233445566778899aabbccddeeff "$ST/$VM.initrd" ||
    fail "virsh start booted the instance's old files"
  step "virsh start: the initrd made again from the instance's files as they are now (a new key)"
else
  echo "note: libvirtd runs no E2 hook here (started before libvirt-hooks/install?): initrd refresh not checked"
fi
wait_state running 150
wait_event running 'virsh start: ready' 1
step "virsh start: running again"

# the agent killed and started again: the running VM is adopted, not duplicated
id2=$(virsh -c $URI domid "$VM")
kill -KILL "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
start_agent
sleep 3
[ "$(state_of)" = running ] && [ "$(virsh -c $URI domid "$VM")" = "$id2" ] || fail "not adopted: $(state_of), domain $(virsh -c $URI domid "$VM") (was $id2)"
[ "$(virsh -c $URI list --all --name | grep -c "^$S")" = 1 ] || fail "duplicate domains: $(virsh -c $URI list --all --name)"
step "agent killed and started again: $VM adopted (domain $id2), no duplicate"

# a spec without it: removed
printf 'server: "%s"\ngeneration: 2\n' "$S" | encode >"$T/g2.bin"
call apply "$T/g2.bin" >/dev/null || fail "apply of generation 2 refused"
for _ in $(seq 150); do virsh -c $URI dominfo "$VM" >/dev/null 2>&1 || break; sleep 0.2; done
virsh -c $URI dominfo "$VM" >/dev/null 2>&1 && fail "$VM still defined"
[ -z "$(state_of)" ] || fail "the report still lists $VM ($(state_of))"
[ ! -e "$ST/$VM.initrd" ] || fail "the removed instance's initrd (its key) is left in $ST"
step "generation 2 without it: $VM removed"
step "all agent VM checks passed in $(( $(date +%s) - t0 )) s"
