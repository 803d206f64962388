#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The Embark gateway as an appliance VM (the embark-gw image: embark-gw as the DPDK
# primary on the guest's virtio-net NICs), e2d's vhost-user ports on both sides, and a
# second embark-gw as a process at the cloud end:
#
#   ns client (curl, 10.9.0.1) == e2d == vhost-user == VM: embark-gw (encrypt) ==
#       vhost-user == e2d == ns cloud (bridge, tcpdump) == embark-gw process (decrypt)
#       == ns server (nginx, 10.9.0.2)
#
# The VM's key and rules are the instance's own, added at boot as a second initrd
# archive (e2-virt instance-initrd), never part of the image. Checks: E2-READY once the
# gateway's ports are up; a page and 1 MiB fetched byte-identical through the VM; the
# cloud capture holds only Embark IPv6 frames, no enterprise address and none of the
# page's or the requests' bytes; virsh shutdown stops the gateway cleanly (status 0 on
# the console) and powers the VM off.
# Everything started here is stopped by PID on exit, even on failure: the VM (destroyed),
# e2d, the gateway process, tcpdump, nginx, libvirtd (if this test started it),
# namespaces, sockets.
# Exits 77 (skip) without root, hugepages, the tools, libvirt or the built image.
#
#   test_gw_vm.sh BUILD_DIR      E2_ACCEL=kvm|tcg skips the KVM probe; E2_VM_CPU=MODEL
#                                (default Nehalem under TCG, as DPDK needs SSE4.2)
set -euo pipefail
BUILD=$(cd "${1:?usage: test_gw_vm.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/ci/virsh-lib.sh"
HERE=$root/gateway/tests
GW=$BUILD/gateway E2D=$BUILD/vswitch/e2d CTL=$BUILD/vswitch/e2ctl-dp
VIRT=${E2_VIRT:-$BUILD/orchestrator/virt/e2-virt}
IMAGE=$BUILD/images/embark-gw
URI=qemu:///system
skip() { echo "skip: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (libvirtd, namespaces)"
for t in ip ethtool nginx curl virsh cmp tcpdump python3 cpio; do command -v $t >/dev/null || skip "needs $t"; done
[ -c /dev/net/tun ] || skip "needs /dev/net/tun"
for f in "$E2D" "$CTL" "$VIRT" "$GW/embark-gw" "$GW/embark-keygen" "$IMAGE.initrd" "$IMAGE.vmlinuz"; do
  [ -e "$f" ] || skip "$f is not built"
done
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
[ "$free" -ge 64 ] || skip "needs 64 free 2 MiB hugepages (have $free)"

t0=$(date +%s)
S=$$
T=$(mktemp -d /tmp/embark-gw-vm.XXXXXX)
chmod 01777 "$T" # QEMU (libvirt-qemu) writes the console log here
NE=gvE$S NS=gvS$S NCL=gvC$S
EA=gvA$S EC=gvc$S BE=gvbE$S BC=gvbC$S
PREFIX=gwvm$S
SOCK_A=/run/e2/gwvm$S-a.sock SOCK_B=/run/e2/gwvm$S-b.sock SOCK_C=/run/e2/gwvm$S-ctl.sock
VM=embark-gw-vm$S
PIDS=() libvirt_up= libvirt_ours=
cleanup() {
  set +e
  if [ -n "$libvirt_up" ]; then
    virsh -c $URI destroy "$VM" >/dev/null 2>&1
    [ -z "$libvirt_ours" ] || "$root/ci/libvirt-down" "$VM" >/dev/null
  fi
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    alive=
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -n "$alive" ] || break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for n in "$NE" "$NS" "$NCL"; do ip netns del "$n" 2>/dev/null; done
  for l in "$EA" "$EC" "$BE" "$BC"; do ip link del "$l" 2>/dev/null; done
  rm -f "$SOCK_A" "$SOCK_B" "$SOCK_C" /dev/hugepages/${PREFIX}map_* 2>/dev/null
  rm -rf "/var/run/dpdk/$PREFIX" "/var/run/dpdk/embark-b-$S" "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
step() { echo "[$(($(date +%s) - t0))s] $*"; }
fail() {
  echo "FAIL: $*"
  for f in "$T"/*.log; do [ -e "$f" ] && { echo "--- $f"; tail -n 30 "$f" | tr -d '\r'; }; done
  exit 1
}
# up to SECONDS of wall time, however long each try takes
wait_for() { local end=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do ((SECONDS < end)) || return 1; sleep 0.1; done; }

# --- key and rules: the same for both gateways; the VM's go into its instance initrd ---
"$GW/embark-keygen" "$T/k" >/dev/null
printf 'accept id=web proto=tcp dst=10.9.0.2 dport=8080\n' >"$T/rules.txt"
mkdir -p "$T/inst"
cp "$T/k" "$T/inst/gw.key"
cp "$T/rules.txt" "$T/inst/rules.txt"
# for updates through the control channel: a malformed rule file and a good one
printf 'accept id=web proto=tcp dst=10.9.0.2 dport=8080\nallow everything\n' >"$T/inst/bad.txt"
# ... and one only on the host, sent with the request (rules --send)
printf 'accept id=web proto=tcp dst=10.9.0.2 dport=8080\ndeny id=dns proto=udp dport=53\n' >"$T/next-host.txt"

for n in "$NE" "$NS" "$NCL"; do
  ip netns add "$n" || skip "cannot create network namespaces"
  ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$n" link set lo up
done

# --- the cloud end: embark-gw as a process on two DPDK taps ---
"$GW/embark-gw" --key "$T/k" --rules "$T/rules.txt" --enterprise "net_tap0,iface=$BE" \
  --cloud "net_tap1,iface=$BC" --ctl "ipc://$T/b.ctl" --file-prefix "embark-b-$S" --drain 60 >"$T/gw-b.log" 2>&1 &
GWB_PID=$!
PIDS+=("$GWB_PID")
wait_for 60 "$GW/embark-gwctl" --ctl "ipc://$T/b.ctl" status || fail "the cloud-side gateway did not come up"
ip link set "$BE" netns "$NS"
ip link set "$BC" netns "$NCL"

# --- the client's veth (e2d reads the host end with af_packet) and the cloud link ---
ip link add ve netns "$NE" type veth peer name "$EA" || skip "cannot create veth pairs"
ip link add cc netns "$NCL" type veth peer name "$EC"
ip -n "$NE" addr add 10.9.0.1/24 dev ve
# the enterprise MTU leaves room for what encryption adds (68 bytes)
ip -n "$NE" link set ve mtu 1400 up
ip -n "$NS" addr add 10.9.0.2/24 dev "$BE"
ip -n "$NS" link set "$BE" mtu 1400 up
# whole, checksummed frames: e2d and the gateways do no offloads
ip netns exec "$NE" ethtool -K ve tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
ip netns exec "$NCL" ethtool -K cc tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
for e in "$EA" "$EC"; do
  sysctl -qw "net.ipv6.conf.$e.disable_ipv6=1" || true
  ethtool -K "$e" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip link set "$e" up
done
ip -n "$NCL" link add br0 type bridge
for l in cc "$BC"; do ip -n "$NCL" link set "$l" master br0 up; done
ip -n "$NCL" link set br0 up
MAC_VE=$(ip netns exec "$NE" cat /sys/class/net/ve/address)
MAC_BE=$(ip netns exec "$NS" cat /sys/class/net/"$BE"/address)
# the gateways forward no ARP (it would carry enterprise addresses to the cloud)
ip -n "$NE" neigh add 10.9.0.2 lladdr "$MAC_BE" dev ve nud permanent
ip -n "$NS" neigh add 10.9.0.1 lladdr "$MAC_VE" dev "$BE" nud permanent

ip netns exec "$NCL" tcpdump -i br0 -U -s 0 -w "$T/cloud.pcap" 2>"$T/tcpdump.log" &
PIDS+=($!)
wait_for 20 grep -q "listening on" "$T/tcpdump.log" || fail "tcpdump did not start"

# --- nginx in the server namespace ---
mkdir -p "$T/www"
python3 - "$T/www" <<'PY'
import os, sys
d = sys.argv[1]
open(f'{d}/page.html', 'w').write('<html><body>' + 'SECRET-MARKER-5d1e plain text of the page ' * 200 + '</body></html>\n')
open(f'{d}/big.bin', 'wb').write(os.urandom(1 << 20))
PY
chmod -R a+rX "$T/www"
cat >"$T/nginx.conf" <<NG
daemon off;
master_process off;
user root;
pid $T/nginx.pid;
error_log $T/nginx.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $T/cb; proxy_temp_path $T/pt; fastcgi_temp_path $T/ft; uwsgi_temp_path $T/ut; scgi_temp_path $T/st;
  server { listen 10.9.0.2:8080; root $T/www; }
}
NG
ip netns exec "$NS" nginx -c "$T/nginx.conf" -p "$T" &
PIDS+=($!)
wait_for 20 ip netns exec "$NS" curl -sf -o /dev/null http://10.9.0.2:8080/page.html || fail "nginx did not start"

# --- e2d: af_packet to the client and to the cloud link, vhost-user to the VM (e2d the
# client: QEMU serves the sockets) ---
cat >"$T/e2d.conf" <<CONF
port add A pmd devargs=net_af_packet0,iface=$EA
port add C pmd devargs=net_af_packet1,iface=$EC
port add vme vhost path=$SOCK_A client=1
port add vmc vhost path=$SOCK_B client=1
module add inA port_in port=A
module add outA port_out port=A
module add inC port_in port=C
module add outC port_out port=C
module add in_vme port_in port=vme
module add out_vme port_out port=vme
module add in_vmc port_in port=vmc
module add out_vmc port_out port=vmc
connect inA out_vme
connect in_vme outA
connect in_vmc outC
connect inC out_vmc
CONF
mkdir -p /run/e2
"$E2D" --ctl "$T/e2d.ctl" --config "$T/e2d.conf" --file-prefix "$PREFIX" --mbufs 8191 \
  --table-mb 32 --log-level error >>"$T/e2d.log" 2>&1 &
E2D_PID=$!
PIDS+=("$E2D_PID")
wait_for 20 test -S "$T/e2d.ctl" || fail "e2d did not open its control socket"
step "e2d (pid $E2D_PID), the cloud-side embark-gw (pid $GWB_PID), nginx and tcpdump up"

link_of() { "$CTL" --ctl "$T/e2d.ctl" stats 2>/dev/null | awk -v p="$1" '$1==p {print $3}'; }
ports_up() { [ "$(link_of vme)" = up ] && [ "$(link_of vmc)" = up ]; }

# --- the appliance VM ---
if timeout 5 virsh -c $URI version >/dev/null 2>&1; then
  step "using the running libvirtd"
else
  libvirt_ours=1
  "$root/ci/libvirt-up" >"$T/libvirt-up.log" 2>&1 || fail "libvirtd did not start: $(cat "$T/libvirt-up.log")"
fi
libvirt_up=1
cp "$IMAGE.vmlinuz" "$T/gw.vmlinuz"
chmod 0644 "$T/gw.vmlinuz"
owner=
id libvirt-qemu >/dev/null 2>&1 && owner=libvirt-qemu
"$VIRT" instance-initrd --image "$IMAGE" --config "$T/inst" --out "$T/gw.initrd" ${owner:+--owner $owner} ||
  fail "e2-virt instance-initrd"
[ "$(stat -c %a "$T/gw.initrd")" = 600 ] || fail "the instance initrd is not mode 0600"
accel=${E2_ACCEL:-$("$VIRT" probe --image "$T/gw" --scratch "$T" --timeout 8)}
step "guests run under $accel"
"$VIRT" xml --instance "$VM" --image "$T/gw" --log "$T/console.log" --nf embark-gw \
  --args "--key,/etc/e2/instance/gw.key,--rules,/etc/e2/instance/rules.txt,--enterprise,eth0,--cloud,eth1,--ctl,ipc:///run/embark-gw.ctl,--drain,60" \
  --port "ent=$SOCK_A" --port "cloud=$SOCK_B" --memory 384 --cmdline "e2.hugepages=64 e2.ctl=/run/embark-gw.ctl" \
  --control "$SOCK_C" \
  --accel "$accel" >"$T/vm.xml" || fail "e2-virt xml"
cpu=${E2_VM_CPU:-Nehalem}
if [ "$accel" = tcg ] && [ "$cpu" != none ]; then
  # Debian's DPDK is built for corei7 (SSE4.2) and refuses QEMU's default qemu64 CPU
  sed -i "s#</features>#</features>\n  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>$cpu</model></cpu>#" \
    "$T/vm.xml"
fi
boot0=$(date +%s.%N)
virsh -c $URI create "$T/vm.xml" >"$T/virsh.log" 2>&1 || fail "virsh create: $(cat "$T/virsh.log")"
# Under TCG with two busy loops the boot took 207 s here (the guest gets a third of a
# core), and fresh-ci --busy 2 twice saw 300 s pass with an empty console: the kernel
# still unpacking, not a hang. The ctest timeout (900 s) bounds the rest.
"$VIRT" wait-ready --instance "$VM" --log "$T/console.log" --timeout "${E2_VM_READY_S:-600}" >"$T/wait-ready.log" 2>&1 ||
  fail "the VM did not say E2-READY: $(tail -n 30 "$T/console.log" 2>/dev/null | tr -d '\r')"
boot=$(awk -v a="$boot0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
step "VM $VM ready in $boot s: $(grep -a -m1 'E2-READY' "$T/console.log" | tr -d '\r')"
tr -d '\r' <"$T/console.log" | grep -a 'embarkgw\|embark-gw' | grep -v 'e2-init' | sed 's/^/    guest: /' | head -n 5
grep -aqi "$(head -c 64 "$T/k")" "$T/console.log" && fail "the key's hex digits on the console"
wait_for 60 ports_up || fail "e2d's vhost ports not up: vme=$(link_of vme) vmc=$(link_of vmc)"

# --- pages through the appliance ---
GET="ip netns exec $NE curl -sS --max-time ${E2_GW_CURL_S:-180}"
fetch() { # URL OUT: a few tries while the paths settle
  for _ in $(seq 5); do
    $GET -o "$2" -w '%{time_total}\n' "$1" >"$T/curl.last" 2>"$T/curl.log" && return 0
    sleep 2
  done
  return 1
}
fetch http://10.9.0.2:8080/page.html "$T/got.html" || fail "no page through the appliance"
cmp -s "$T/got.html" "$T/www/page.html" || fail "the page differs"
fetch http://10.9.0.2:8080/big.bin "$T/got.bin" || fail "no 1 MiB file through the appliance"
cmp -s "$T/got.bin" "$T/www/big.bin" || fail "the 1 MiB file differs"
secs=$(cat "$T/curl.last")
step "curl -> e2d -> VM embark-gw -> e2d -> cloud -> embark-gw -> nginx: page and 1 MiB byte-identical (1 MiB in $secs s)"

# --- the cloud capture: no plaintext, no enterprise address ---
# the cloud end decrypts what the VM encrypted (the requests) and encrypts the replies
"$GW/embark-gwctl" --ctl "ipc://$T/b.ctl" status >"$T/gw-b.status"
dec=$(awk '$1 == "decrypted" {print $2}' "$T/gw-b.status") enc=$(awk '$1 == "encrypted" {print $2}' "$T/gw-b.status")
[ "${dec:-0}" -gt 0 ] && [ "${enc:-0}" -gt 500 ] || fail "the cloud-side gateway decrypted ${dec:-0} and encrypted ${enc:-0} frames"
sleep 1
python3 "$HERE/gw_cloud_check.py" "$T/cloud.pcap" --own-mac "$(ip netns exec "$NCL" cat /sys/class/net/br0/address)" \
  --addr 10.9.0.1 --addr 10.9.0.2 --text SECRET-MARKER --text "GET /" --text "HTTP/1.1" --text nginx \
  --text page.html --chunks "$T/www/big.bin" --min-frames 500 >"$T/check.txt" ||
  { head -n 20 "$T/check.txt"; fail "plaintext or enterprise addresses on the cloud side"; }
step "cloud capture: $(tail -n 1 "$T/check.txt"); only Embark IPv6, no enterprise address, no plaintext (the cloud end decrypted $dec frames, encrypted $enc)"

# --- the appliance's control socket from the host (virtio-serial channel e2.ctl) ---
VCTL="$GW/embark-gwctl --ctl ipc://$SOCK_C"
wait_for 60 $VCTL status || fail "no status through the control channel $SOCK_C"
$VCTL status >"$T/vm.status"
grep -q '^epoch 1$' "$T/vm.status" || fail "the appliance's status: $(head -n 3 "$T/vm.status")"
venc=$(awk '$1 == "encrypted" {print $2}' "$T/vm.status")
[ "${venc:-0}" -gt 0 ] || fail "the appliance reports ${venc:-0} encrypted frames"
$VCTL rules /etc/e2/instance/bad.txt >"$T/vm.bad" 2>&1 && fail "a malformed rule file was taken"
grep -q 'bad.txt:2' "$T/vm.bad" || fail "the refusal does not name the file and line: $(cat "$T/vm.bad")"
$VCTL rules "$T/next-host.txt" --send --prepare >"$T/vm.next" 2>&1 || fail "rules --send --prepare: $(cat "$T/vm.next")"
grep -q '^epoch 2 prepared' "$T/vm.next" || fail "no epoch 2 prepared: $(cat "$T/vm.next")"
$VCTL status >"$T/vm.status2"
grep -q '^epoch 1$' "$T/vm.status2" || fail "the active epoch changed: $(head -n 3 "$T/vm.status2")"
fetch http://10.9.0.2:8080/page.html "$T/got2.html" && cmp -s "$T/got2.html" "$T/www/page.html" ||
  fail "no page after the refused and the prepared update"
step "control channel: status ($venc frames encrypted), a malformed rule file refused ($(head -n 1 "$T/vm.bad" | cut -c1-80)), epoch 2 prepared from a host file sent over the channel, epoch 1 still active, pages still load"

# --- virsh shutdown: the gateway stops cleanly, the VM powers off ---
virsh -c $URI shutdown "$VM" >/dev/null || fail "virsh shutdown"
for _ in $(seq 600); do
  virsh -c $URI domstate "$VM" >/dev/null 2>&1 || break
  sleep 0.1
done
virsh -c $URI domstate "$VM" >/dev/null 2>&1 && fail "the VM did not power off within 60 s of virsh shutdown"
tr -d '\r' <"$T/console.log" >"$T/console.out"
grep -aq "power button pressed" "$T/console.out" || fail "the guest did not see the power button"
grep -aq "stopping: [0-9]* encrypted" "$T/console.out" || fail "the VM's embark-gw did not stop cleanly: $(tail -n 10 "$T/console.out")"
step "virsh shutdown: $(grep -a -m1 'stopping: ' "$T/console.out" | sed 's/.*stopping: //'), VM off"
kill -TERM "$GWB_PID"
rc=0
wait "$GWB_PID" || rc=$?
[ "$rc" = 0 ] || fail "the cloud-side gateway exited with status $rc"
step "all checks passed in $(($(date +%s) - t0)) s (VM boot $boot s under $accel)"
