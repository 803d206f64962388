#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end: a chain of native NFs, one as a process on e2d's zero-copy nf ports and one
# as a VM (the native-nf image: the NF in ethdev mode on the guest's virtio-net NICs
# through DPDK's virtio PMD, e2d's vhost-user ports at the other end), with real TCP from
# a client namespace to nginx in a server namespace:
#
#   ns client (10.78.0.1) == e2d == e2nf-firewall (process) == e2d == vhost-user ==
#       VM: e2nf-fwd --ethdev (virtio PMD) == vhost-user == e2d == ns server (10.78.0.2, nginx)
#
# The addresses and ports (8080 allowed, 8081 denied) are those of the image's own
# firewall rules (images/nf-config/firewall.rules), which the firewall process uses too,
# so that E2_VM_NF=e2nf-firewall can run the firewall in the VM instead of the forwarder.
#
#   0. ethdev mode's refusals (a missing NIC, --offline, a nameless device)
#   1. the same NF in ethdev mode as a process on the host (virtio-user on the very
#      sockets the VM will use): the page and 1 MiB fetched intact; this checks the ethdev
#      mode without waiting for a guest
#   2. the VM (one, under KVM if it works here, else TCG): E2-READY once its ports are up;
#      e2d's vhost ports come up; curl fetches the page and 1 MiB byte-identical, e2d
#      letting through to the server only frames carrying the metadata attribute safe=1
#      that the NF in the VM sets (--tag: NSH, e2d's nsh_match); a port the firewall's
#      rules deny gets no connection, and the firewall counts the drop
#      e2d restarts under the running VM (and the firewall with it): the guest's virtio PMD
#      carries on, the page and 1 MiB come through again
#   3. virsh shutdown: the VM's NF prints its counters on the console; every frame in
#      each NF is accounted for (in = out + dropped + refused by the NIC)
#
# Everything started here is stopped by PID on exit, even on failure: the VM (destroyed),
# e2d, the NFs, nginx, libvirtd (if this test started it: one that already runs belongs
# to someone else), namespaces, sockets.
# Exits 77 (skip) without root, hugepages, nginx, libvirt or the built image.
#
#   test_nf_vm.sh BUILD_DIR        E2_ACCEL=kvm|tcg skips the KVM probe
#   E2_VM_NF=e2nf-firewall         the firewall in the VM (default e2nf-fwd --tag safe=1)
#   E2_VM_CPU=MODEL                the guest's CPU model under TCG (default Nehalem; none:
#                                  QEMU's default, which DPDK refuses)
set -euo pipefail
BUILD=$(cd "${1:?usage: test_nf_vm.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/ci/virsh-lib.sh"
E2D=$BUILD/vswitch/e2d CTL=$BUILD/vswitch/e2ctl-dp NFS=$BUILD/native-nf
VIRT=${E2_VIRT:-$BUILD/orchestrator/virt/e2-virt}
IMAGE=$BUILD/images/native-nf
URI=qemu:///system
skip() { echo "skip: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (libvirtd, namespaces)"
for t in ip ethtool nginx curl virsh cmp; do command -v $t >/dev/null || skip "needs $t"; done
for f in "$E2D" "$CTL" "$VIRT" "$NFS/e2nf-firewall" "$NFS/e2nf-fwd" "$IMAGE.initrd" "$IMAGE.vmlinuz"; do
  [ -e "$f" ] || skip "$f is not built"
done
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
[ "$free" -ge 96 ] || skip "needs 96 free 2 MiB hugepages (have $free)"

t0=$(date +%s)
tag=e2nfvm$$
T=$(mktemp -d /tmp/e2nf-vm.XXXXXX)
chmod 01777 "$T" # QEMU (libvirt-qemu) writes the console log here
NC=$tag-c NS=$tag-s EA=${tag}a EB=${tag}b PREFIX=$tag
SOCK_A=/run/e2/$tag-a.sock SOCK_B=/run/e2/$tag-b.sock
VM=$tag
PIDS=() libvirt_up= libvirt_ours=
VM_NF=${E2_VM_NF:-e2nf-fwd}
case "$VM_NF" in
  e2nf-fwd) # tags every frame: e2d lets only tagged frames reach the server
    tagging=1 nf_args=(--tag safe=1) vm_args=--tag,safe=1 ;;
  e2nf-firewall) tagging= nf_args=(--rules "$T/fw.rules") vm_args=--rules,/etc/e2/firewall.rules ;;
  *) rm -rf "$T"; echo "E2_VM_NF is e2nf-fwd or e2nf-firewall, not $VM_NF"; exit 2 ;;
esac
cleanup() {
  set +e
  if [ -n "$libvirt_up" ]; then
    virsh -c $URI destroy "$VM" >/dev/null 2>&1
    [ -z "$libvirt_ours" ] || "$root/ci/libvirt-down" "$VM" >/dev/null
  fi
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 30); do
    alive=
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -n "$alive" ] || break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$NC" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  ip link del "$EA" 2>/dev/null
  ip link del "$EB" 2>/dev/null
  rm -f "$SOCK_A" "$SOCK_B" /dev/hugepages/${PREFIX}map_* 2>/dev/null
  rm -rf "/var/run/dpdk/$PREFIX" "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
step() { echo "[$(($(date +%s) - t0))s] $*"; }
fail() {
  echo "FAIL: $*"
  for f in "$T"/*.log "$T"/*.out; do [ -e "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
  exit 1
}

# --- ethdev mode's refusals, said before anything runs ---
out=$("$NFS/e2nf-fwd" --ethdev --port 0000:7f:1f.7 --port 0000:7f:1f.6 2>&1) && fail "a missing NIC accepted"
grep -q "port 0: DPDK found no NIC 0000:7f:1f.7" <<<"$out" || fail "unclear error for a missing NIC: $out"
out=$("$NFS/e2nf-fwd" --ethdev --offline "$T" --port x 2>&1) && fail "--ethdev with --offline accepted"
grep -q "exclude each other" <<<"$out" || fail "unclear error for --ethdev --offline: $out"
out=$("$NFS/e2nf-fwd" --ethdev --port ,x 2>&1) && fail "a port without a device name accepted"
grep -q "neither a PCI address nor a DPDK virtual device" <<<"$out" || fail "unclear error for ',x': $out"
step "0. --ethdev refuses a missing NIC, --offline and a nameless device, each saying so"

# --- the two namespaces, on veth pairs that e2d reads with af_packet ---
ip netns add "$NC" && ip netns add "$NS" || skip "cannot create network namespaces"
ip link add vc netns "$NC" type veth peer name "$EA" || skip "cannot create veth pairs"
ip link add vs netns "$NS" type veth peer name "$EB"
for x in "$NC vc 10.78.0.1" "$NS vs 10.78.0.2"; do
  set -- $x
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" || true
  # whole, checksummed frames of at most the MTU: e2d and the NFs do no offloads
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip netns exec "$1" ip addr add "$3/24" dev "$2"
  ip netns exec "$1" ip link set "$2" up
  ip netns exec "$1" ip link set lo up
done
for e in "$EA" "$EB"; do
  sysctl -qw "net.ipv6.conf.$e.disable_ipv6=1" || true
  ethtool -K "$e" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip link set "$e" up
done

# --- nginx in the server namespace: port 8080 (allowed) and 8081 (denied by the rules) ---
mkdir -p "$T/www" "$T/nginx"
echo "hello through a native NF chain and a native NF VM" >"$T/www/index.html"
head -c $((1 << 20)) /dev/urandom >"$T/www/big.bin"
chmod -R a+rX "$T/www"
cat >"$T/nginx.conf" <<NGINX
user root;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  types { text/html html; application/octet-stream bin; }
  server { listen 10.78.0.2:8080; listen 10.78.0.2:8081; root $T/www; }
}
NGINX
ip netns exec "$NS" nginx -c "$T/nginx.conf" -g 'daemon off;' >>"$T/nginx.log" 2>&1 &
PIDS+=($!)

# --- e2d: af_packet to the namespaces, two nf ports for the firewall process, two vhost
# ports (e2d the client, so that either a virtio-user process or QEMU can serve them) ---
cp "$root/images/nf-config/firewall.rules" "$T/fw.rules"
cat >"$T/e2d.conf" <<CONF
port add A pmd devargs=net_af_packet0,iface=$EA
port add B pmd devargs=net_af_packet1,iface=$EB
port add fwi nf path=$T/fwi.sock native=1
port add fwo nf path=$T/fwo.sock native=1
port add vma vhost path=$SOCK_A client=1
port add vmb vhost path=$SOCK_B client=1
module add inA port_in port=A
module add outA port_out port=A
module add inB port_in port=B
module add outB port_out port=B
module add in_fwi port_in port=fwi
module add out_fwi port_out port=fwi
module add in_fwo port_in port=fwo
module add out_fwo port_out port=fwo
module add in_vma port_in port=vma
module add out_vma port_out port=vma
module add in_vmb port_in port=vmb
module add out_vmb port_out port=vmb
connect inA out_fwi
connect in_fwo out_vma
connect inB out_vmb
connect in_vma out_fwo
connect in_fwi outA
CONF
if [ -n "$tagging" ]; then
  cat >>"$T/e2d.conf" <<CONF
module add safe nsh_match default=1
module cmd safe add attr=safe value=1 gate=0
module add unsafe sink
connect in_vmb safe
connect safe:0 outB
connect safe:1 unsafe
CONF
else
  echo "connect in_vmb outB" >>"$T/e2d.conf"
fi
mkdir -p /run/e2
start_e2d() {
  rm -f "$T/e2d.ctl"
  "$E2D" --native-nfs --ctl "$T/e2d.ctl" --config "$T/e2d.conf" --file-prefix "$PREFIX" --mbufs 8191 \
    --table-mb 32 --log-level error >>"$T/e2d.log" 2>&1 &
  E2D_PID=$!
  PIDS+=("$E2D_PID")
  for _ in $(seq 200); do
    [ -S "$T/e2d.ctl" ] && break
    kill -0 $E2D_PID 2>/dev/null || fail "e2d exited at start"
    sleep 0.05
  done
  [ -S "$T/e2d.ctl" ] || fail "e2d did not open its control socket"
}
start_fw() { # OUT
  "$NFS/e2nf-firewall" --rules "$T/fw.rules" --name fw --port "$T/fwi.sock" --port "$T/fwo.sock" >"$1" 2>&1 &
  FW_PID=$!
  PIDS+=("$FW_PID")
}
v() { sed -n "s/^$2=//p" "$1" | tail -n 1 | tr -d '\r'; }
fw_accounted() { # OUT: every frame the firewall took is accounted for
  rx=$(v "$1" rx_packets) tx=$(v "$1" tx_packets) dr=$(v "$1" drops) full=$(v "$1" tx_full)
  [ -n "$rx" ] && [ "$rx" = $((tx + dr + full)) ] || fail "firewall: $rx in, $tx out, $dr dropped, $full refused by e2d"
}
start_e2d
start_fw "$T/fw.out"

link_of() { "$CTL" --ctl "$T/e2d.ctl" stats 2>/dev/null | awk -v p="$1" '$1==p {print $3}'; }
wait_up() { # SECONDS PORT...
  local s=$1
  shift
  for _ in $(seq $((s * 10))); do
    local all=1
    for p in "$@"; do [ "$(link_of "$p")" = up ] || all=; done
    [ -n "$all" ] && return 0
    sleep 0.1
  done
  fail "e2d ports not up after $s s: $(for p in "$@"; do echo -n "$p=$(link_of "$p") "; done)"
}
wait_up 20 fwi fwo
step "e2d (pid $E2D_PID) and e2nf-firewall (pid $FW_PID) up"

# fetch URL OUT: curl from the client namespace, a few tries while paths settle (ARP)
fetch() {
  for _ in $(seq 5); do
    ip netns exec "$NC" curl -s -f --max-time 30 -o "$2" -w '%{speed_download} %{time_total}\n' "$1" \
      >"$T/curl.last" 2>&1 && return 0
    sleep 1
  done
  return 1
}
check_http() { # WHAT
  fetch http://10.78.0.2:8080/index.html "$T/index.got" || fail "$1: no page from nginx"
  cmp -s "$T/index.got" "$T/www/index.html" || fail "$1: the page differs"
  fetch http://10.78.0.2:8080/big.bin "$T/big.got" || fail "$1: no 1 MiB file from nginx"
  cmp -s "$T/big.got" "$T/www/big.bin" || fail "$1: the 1 MiB file differs"
  read -r speed secs <"$T/curl.last"
  kbps=$(awk -v s="$speed" 'BEGIN {printf "%.0f", s * 8 / 1000}')
}

# --- 1. the VM's NF as a process: ethdev mode on virtio-user, on the VM's sockets ---
"$NFS/$VM_NF" --ethdev --name standin "${nf_args[@]}" --ready-file "$T/standin.ready" \
  --port "net_virtio_user0,path=$SOCK_A,server=1,queue_size=256" \
  --port "net_virtio_user1,path=$SOCK_B,server=1,queue_size=256" >"$T/standin.out" 2>&1 &
SI_PID=$!
PIDS+=("$SI_PID")
for _ in $(seq 300); do
  [ -e "$T/standin.ready" ] && break
  kill -0 $SI_PID 2>/dev/null || fail "$VM_NF --ethdev exited at start"
  sleep 0.1
done
[ -e "$T/standin.ready" ] || fail "$VM_NF --ethdev wrote no ready file in 30 s"
wait_up 30 vma vmb
check_http "process in ethdev mode"
step "1. $VM_NF --ethdev as a process (virtio-user): page and 1 MiB intact, 1 MiB at $kbps kbit/s"
kill -TERM $SI_PID
wait $SI_PID || fail "$VM_NF --ethdev exited with $? on SIGTERM"
[ ! -e "$T/standin.ready" ] || fail "the ready file outlived the NF"
rx=$(v "$T/standin.out" rx_packets) tx=$(v "$T/standin.out" tx_packets)
dr=$(v "$T/standin.out" drops) full=$(v "$T/standin.out" tx_full)
[ "${rx:-0}" -gt 700 ] && [ "$rx" = $((tx + dr + full)) ] ||
  fail "stand-in: $rx in, $tx out, $dr dropped, $full refused by the NIC"
rm -f "$SOCK_A" "$SOCK_B" # QEMU serves them next
step "1. stand-in accounted: $rx frames in = $tx out + $dr dropped + $full refused"

# --- 2. the VM ---
# A libvirtd that already answers is someone else's (another test, ci/rack), even if
# ci/libvirt-up's records say it started it: use it, and leave it running.
if timeout 5 virsh -c $URI version >/dev/null 2>&1; then
  step "using the running libvirtd"
else
  libvirt_ours=1
  "$root/ci/libvirt-up" >"$T/libvirt-up.log" 2>&1 || fail "libvirtd did not start: $(cat "$T/libvirt-up.log")"
fi
libvirt_up=1
# QEMU must read the image; the build tree may be where libvirt-qemu cannot go (/root)
cp "$IMAGE.vmlinuz" "$T/nf.vmlinuz"
cp "$IMAGE.initrd" "$T/nf.initrd"
chmod 0644 "$T"/nf.*
accel=${E2_ACCEL:-$("$VIRT" probe --image "$T/nf" --scratch "$T" --timeout 8)}
step "guests run under $accel"
"$VIRT" xml --instance "$VM" --image "$T/nf" --log "$T/console.log" --nf "$VM_NF" \
  --args "--ethdev,--name,vmnf,$vm_args,--port,eth0,--port,eth1" --port "in=$SOCK_A" --port "out=$SOCK_B" \
  --memory 256 --accel "$accel" >"$T/vm.xml" || fail "e2-virt xml"
cpu=${E2_VM_CPU:-Nehalem}
if [ "$accel" = tcg ] && [ "$cpu" != none ]; then
  # Debian's DPDK is built for corei7 (SSE4.2) and refuses QEMU's default qemu64 CPU;
  # Nehalem is the oldest model with what it needs, and TCG emulates all of it.
  step "guest CPU model $cpu"

  sed -i "s#</features>#</features>\n  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>$cpu</model></cpu>#" \
    "$T/vm.xml"
fi
boot0=$(date +%s.%N)
virsh -c $URI create "$T/vm.xml" >"$T/virsh.log" 2>&1 || fail "virsh create: $(cat "$T/virsh.log")"
"$VIRT" wait-ready --instance "$VM" --log "$T/console.log" --timeout 300 >"$T/wait-ready.log" 2>&1 ||
  fail "the VM did not say E2-READY: $(tail -n 20 "$T/console.log" 2>/dev/null)"
boot=$(awk -v a="$boot0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
step "2. VM $VM ready in $boot s: $(grep -a -m1 'E2-READY' "$T/console.log" | tr -d '\r')"
tr -d '\r' <"$T/console.log" | grep -a 'e2nf: port' | sed 's/^/    guest: /'
wait_up 60 vma vmb
check_http "VM"
step "2. through the firewall process and the VM: page and 1 MiB intact, 1 MiB in $secs s ($kbps kbit/s)"
if [ -n "$tagging" ]; then
  "$CTL" --ctl "$T/e2d.ctl" stats >"$T/e2d.stats"
  [ "$(awk '$1=="unsafe" {print $4}' "$T/e2d.stats")" = 0 ] || fail "frames without the VM's safe=1 reached e2d"
  step "2. every frame from the VM to the server carried the attribute safe=1 the VM's NF set (e2d's nsh_match)"
fi

# e2d restarts under the running VM (QEMU keeps the sockets, e2d reconnects): the guest's
# virtio PMD carries on; the firewall process, which e2d's exit ended, starts again
qemu_id=$(virsh -c $URI domid "$VM")
kill -TERM $E2D_PID
wait $E2D_PID || fail "e2d exited with $? on SIGTERM"
wait $FW_PID || fail "e2nf-firewall exited with $? when e2d stopped"
fw_accounted "$T/fw.out"
start_e2d
start_fw "$T/fw2.out"
wait_up 60 fwi fwo vma vmb
check_http "VM after e2d restarted"
[ "$(virsh -c $URI domid "$VM")" = "$qemu_id" ] || fail "the VM restarted too"
step "2. e2d restarted (pid $E2D_PID) under the VM, the firewall again (pid $FW_PID): page and 1 MiB intact"
if ip netns exec "$NC" curl -s --max-time 5 -o /dev/null http://10.78.0.2:8081/index.html; then
  fail "TCP to port 8081 (denied by the rules) got through"
fi
step "2. TCP to port 8081 (denied by the firewall's rules) got no connection"

# --- 3. stop the VM (its NF prints its counters on the console), then the firewall ---
virsh -c $URI shutdown "$VM" >/dev/null || fail "virsh shutdown"
for _ in $(seq 600); do
  virsh -c $URI domstate "$VM" >/dev/null 2>&1 || break
  sleep 0.1
done
virsh -c $URI domstate "$VM" >/dev/null 2>&1 && fail "the VM did not power off within 60 s of virsh shutdown"
tr -d '\r' <"$T/console.log" >"$T/console.out"
rx=$(v "$T/console.out" rx_packets) tx=$(v "$T/console.out" tx_packets)
dr=$(v "$T/console.out" drops) full=$(v "$T/console.out" tx_full)
[ "${rx:-0}" -gt 700 ] && [ "$rx" = $((tx + dr + full)) ] ||
  fail "the VM's $VM_NF: ${rx:-?} in, ${tx:-?} out, ${dr:-?} dropped, ${full:-?} refused by the NIC"
if [ -n "$tagging" ]; then
  [ "$(v "$T/console.out" tagged)" = "$rx" ] && [ "$(v "$T/console.out" untaggable)" = 0 ] ||
    fail "the VM's e2nf-fwd tagged $(v "$T/console.out" tagged) of $rx frames"
fi
step "3. VM's $VM_NF (virtio PMD): $rx frames in = $tx out + $dr dropped + $full refused${tagging:+, all tagged}"
kill -TERM $FW_PID
wait $FW_PID || fail "e2nf-firewall exited with $? on SIGTERM"
fw_accounted "$T/fw2.out"
[ "$(v "$T/fw2.out" dropped_default)" -ge 1 ] || fail "the firewall counted no drop for port 8081"
step "3. firewall: $rx in = $tx out + $dr dropped ($(v "$T/fw2.out" dropped_default) by its default rule)"
step "all checks passed in $(($(date +%s) - t0)) s (VM boot $boot s, 1 MiB through the VM at $kbps kbit/s)"
