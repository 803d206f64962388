#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The fabric switch's drivers (orchestrator/fabric*.c) through `e2ctl fabric`.
#
# First, without a switch: the ovs driver's translation of the planner's rules (explain)
# and its refusals, and the none driver recording rules in a file.
# Then, as root with Open vSwitch installed (else exit 77 after the first part): an
# emulated rack (ci/rack up 2 --no-daemons); its hardware.yaml planned by e2ctl plan and
# the plan's switch rules installed; then a real packet path: UDP datagrams from the
# client host enter the switch at ext0, are tunnelled (NSH, SPI 33) to server srv0 where
# a real e2d decapsulates them (tunnel_decap) and tunnels them back (tunnel_encap, SPI
# 609) to the switch, which decapsulates them out of ext1 to the HTTP host: every
# datagram must arrive. The flow table's limit (2048) refuses the 2049th flow with a
# message that names it. `ci/rack down` must leave nothing behind.
# Prints fabric_rule_update_ms (median time of one `e2ctl fabric add`, process start
# included) for information; no timing decides the result.
set -euo pipefail
E2CTL=${1:?usage: test_fabric_ovs.sh E2CTL VSWITCH_BUILD_DIR SOURCE_DIR}
VS=${2:?}
SRC=${3:?}
T=$(mktemp -d /tmp/e2-fabric-ovs.XXXXXX)
E2D_PID="" RECV_PID="" RACK_UP=0
stop() { # pid
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  stop "$RECV_PID"
  stop "$E2D_PID"
  [ "$RACK_UP" = 1 ] && "$SRC/ci/rack" down >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# expect STATUS REGEX CMD...: CMD exits with STATUS and its output (both streams) matches
expect() {
  local want=$1 re=$2 rc=0
  shift 2
  "$@" >"$T/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, not $want: $(cat "$T/out")"
  grep -Eq -- "$re" "$T/out" || fail "'$*' did not print /$re/: $(cat "$T/out")"
}

# ------------------------------------------------------------------ without a switch
HW3=$SRC/examples/live/hardware-rack3.yaml
fab3() { "$E2CTL" fabric --hardware "$HW3" "$@"; }
expect 0 '^cookie=0xe2fab,table=0,priority=10,dl_dst=02:e2:00:00:00:02,actions=output:e2r-srv1$' \
  fab3 explain 'rule add priority=10 tunnel_dst=srv1 action=output:srv1'
expect 0 'priority=100,in_port=e2r-ext0,dl_type=0x0800,actions=encap\(nsh\(md_type=2\)\),set_field:33->nsh_spi,set_field:255->nsh_si,encap\(ethernet\),set_field:02:e2:00:00:ff:ff->eth_src,set_field:02:e2:00:00:00:01->eth_dst,output:e2r-srv0$' \
  fab3 explain 'rule add priority=100 in_port=ext0 filter=ip action=encap:spi=33,output:srv0'
expect 0 'priority=200,dl_type=0x894f,nsh_spi=609,actions=decap\(\),decap\(\),output:e2r-ext1$' \
  fab3 explain 'rule add priority=200 spi=609 action=decap,output:ext1'
# pcap's meaning: "(ip) and" keeps TCP over IPv4 only; "tcp" alone is IPv4 and IPv6
expect 0 'dl_type=0x0800,nw_proto=6,tp_dst=80,' fab3 explain 'priority=5 in_port=ext0 filter="(ip) and (tcp dst port 80)" action=output:ext1'
[ "$(wc -l <"$T/out")" = 1 ] || fail "(ip) and (tcp dst port 80) is one flow: $(cat "$T/out")"
fab3 explain 'priority=5 in_port=ext0 filter="udp dst port 53" action=output:ext1' >"$T/out"
if ! { [ "$(wc -l <"$T/out")" = 2 ] && grep -q 'dl_type=0x86dd,nw_proto=17,tp_dst=53' "$T/out"; }; then
  fail "udp dst port 53 is UDP over IPv4 and IPv6: $(cat "$T/out")"
fi
expect 0 'arp_spa=10.1.2.3,arp_tpa=10.0.0.0/8' \
  fab3 explain 'priority=5 in_port=ext0 filter="src host 10.1.2.3 and dst net 10.0.0.0/8" action=output:ext1'
expect 0 '^delete_strict cookie=0xe2fab/-1,table=0,priority=100,in_port=e2r-ext0,dl_type=0x0800$' \
  fab3 explain 'rule del priority=100 in_port=ext0 filter=ip'
ok "ovs driver: the planner's rules become OpenFlow flows (tunnel_dst, encap, decap, pcap filters)"
expect 1 '^e2ctl fabric: the ovs driver has no hash_range$' \
  fab3 add 'rule add priority=100 in_port=ext0 filter=ip hash=src_ip range=0-6553 action=encap:spi=33,output:srv0'
expect 1 "^e2ctl fabric: filter 'tcp or udp': the ovs driver cannot translate it \(at 'or'\)" \
  fab3 explain 'priority=5 in_port=ext0 filter="tcp or udp" action=output:ext1'
expect 1 "^e2ctl fabric: in_port: unknown port 'ext7'" fab3 explain 'priority=5 in_port=ext7 action=output:ext1'
expect 1 '^e2ctl fabric: action: encap then output:ext1: a tunnel ends at a server' \
  fab3 explain 'priority=5 action=encap:spi=3,output:ext1'
expect 1 'matches no packet at all' fab3 explain 'priority=5 spi=7 filter=ip action=output:ext1'
expect 1 "can't parse filter expression" fab3 explain 'priority=5 filter="ip and and" action=output:ext1'
ok "ovs driver: hash ranges, filters beyond its subset, unknown ports and contradictions refused by name"

# the none driver records into driver_target, so one call sees what the last one did
sed -e 's/^  driver: ovs$/  driver: none/' -e "s#^  driver_target: .*#  driver_target: $T/none.rules#" \
  -e 's/flow_table_entries: 2048/flow_table_entries: 40/' -e 's/actions: \[output, encap, decap\]/actions: [output, encap, decap, hash_range]/' \
  "$HW3" >"$T/none.yaml"
none() { "$E2CTL" fabric --hardware "$T/none.yaml" "$@"; }
none add 'priority=10 tunnel_dst=srv0 action=output:srv0'
none add 'priority=100 in_port=ext0 filter=ip hash=src_ip range=0-32768 action=encap:spi=33,output:srv0'
expect 0 '^# none driver: 2 switch entries$' none show
none del 'priority=10 tunnel_dst=srv0'
expect 0 '^# none driver: 1 switch entries$' none show
printf '# a rule set\nrule add priority=10 tunnel_dst=srv1 action=output:srv1\n\nrule add priority=200 spi=609 action=decap,output:ext1\n' >"$T/set"
expect 0 '^2 switch entries$' none replace "$T/set"
# a range costs its prefix expansion (7 to 14 entries each here); 40 is the limit
for lo in 0 6553 13106 19659; do
  none add "priority=100 in_port=ext0 filter=ip hash=src_ip range=$lo-$((lo + 6553)) action=encap:spi=33,output:srv0" 2>&1 || true
done >"$T/out"
grep -q 'switch flow table full: the rules need 4[0-9] entries, flow_table_entries is 40' "$T/out" ||
  fail "the none driver did not enforce flow_table_entries: $(cat "$T/out")"
printf 'rule add priority=1 tunnel_dst=srv0 action=output:srv0\nrule add priority=1 tunnel_dst=srv0 action=output:srv1\n' >"$T/dup"
expect 1 'rules 1 and 2 have the same priority and match' none replace "$T/dup"
expect 1 '^e2ctl fabric: .*/bad: rule 1: in_port: unknown port' \
  sh -c "echo 'rule add priority=1 in_port=nowhere action=output:srv0' >'$T/bad'; '$E2CTL' fabric --hardware '$T/none.yaml' replace '$T/bad'"
ok "none driver: records, replaces, counts range expansions against flow_table_entries, refuses duplicates"

# ------------------------------------------------------------------ a rack
if [ "$(id -u)" != 0 ] || ! command -v ovs-vswitchd >/dev/null || ! command -v ovs-ofctl >/dev/null ||
   ! command -v python3 >/dev/null || ! command -v ethtool >/dev/null; then
  echo "skip: the rack part needs root, Open vSwitch (ovs-vswitchd, ovs-ofctl), ethtool and python3"
  exit 77
fi
[ -e /run/e2/rack ] && { echo "skip: a rack is already up (ci/rack status); this test builds its own"; exit 77; }
RACK_UP=1
"$SRC/ci/rack" up 2 --no-daemons >"$T/rack.log" 2>&1 || fail "ci/rack up 2 --no-daemons: $(cat "$T/rack.log")"
HW=/run/e2/rack/hardware.yaml
TARGET=unix:/run/e2/rack/ovs/e2fab.mgmt
fab() { "$E2CTL" fabric --hardware "$HW" "$@"; }
flows() { ovs-ofctl -O OpenFlow15 dump-flows "$TARGET" | grep -c 'actions=' || true; }
ok "ci/rack up 2 --no-daemons"

# the rack as the planner sees it: a firewall on the way in, a forwarder on the way back
# (the web class at what the live example's firewall, sized for TCG VMs, takes)
cat >"$T/policy.yaml" <<'YAML'
pipelines:
  - name: web
    traffic_class: { filter: "ip", rate_gbps: 0.0004 }
    nodes:
      - { name: client, port: ext0 }
      - { name: fw, nf: firewall }
      - { name: server, port: ext1 }
    edges:
      - { from: client, to: fw }
      - { from: fw, to: server }
  - name: web-return
    traffic_class: { filter: "ip", rate_gbps: 0.1 }
    nodes:
      - { name: server-side, port: ext1 }
      - { name: ret, nf: forwarder }
      - { name: client-side, port: ext0 }
    edges:
      - { from: server-side, to: ret }
      - { from: ret, to: client-side }
YAML
"$E2CTL" plan --policy "$T/policy.yaml" --nfs "$SRC/examples/live/nfs.yaml" --hardware "$HW" --json >"$T/plan.json" 2>"$T/plan.err" ||
  fail "e2ctl plan on the rack's hardware.yaml: $(cat "$T/plan.err")"
python3 -c 'import json, sys; [print(r) for r in json.load(open(sys.argv[1]))["switch_rules"]]' "$T/plan.json" >"$T/plan.rules"
want=0
while IFS= read -r rule; do
  want=$((want + $(fab explain "$rule" | wc -l)))
done <"$T/plan.rules"
expect 0 "^$want switch entries\$" fab replace "$T/plan.rules"
[ "$(flows)" = "$want" ] || fail "the switch holds $(flows) flows after replacing with the plan's rules, not $want"
ok "the rack's hardware.yaml plans; the plan's $(wc -l <"$T/plan.rules") switch rules installed as $want flows"

# the packet path's rules, twice: a replace changes only what differs
cat >"$T/path.rules" <<'RULES'
rule add priority=10 tunnel_dst=srv0 action=output:srv0
rule add priority=10 tunnel_dst=srv1 action=output:srv1
rule add priority=100 in_port=ext0 filter=ip action=encap:spi=33,output:srv0
rule add priority=200 spi=609 action=decap,output:ext1
RULES
expect 0 '^4 switch entries$' fab replace "$T/path.rules"
expect 0 '^4 switch entries$' fab replace "$T/path.rules"
[ "$(flows)" = 4 ] || fail "ovs-ofctl dump-flows counts $(flows) flows, not 4"
ok "replace is idempotent: ovs-ofctl dump-flows counts 4 flows"

# srv0's dataplane: what arrives on SPI 33 leaves again on SPI 609, to the switch
cat >"$T/e2d.conf" <<'CONF'
port add nic pmd devargs=net_af_packet0,iface=fab native=1
module add nic.in port_in port=nic
module add nic.out port_out port=nic
module add decap tunnel_decap default=63
module cmd decap edge spi=33 gate=0
module add encap tunnel_encap dst=02:e2:00:00:ff:ff src=02:e2:00:00:00:01
module cmd encap edge igate=0 spi=609
connect nic.in decap
connect decap:0 encap
connect encap nic.out
CONF
ip netns exec e2r-srv0 "$VS/e2d" --ctl "$T/e2d.ctl" --config "$T/e2d.conf" --no-huge --mbufs 2047 \
  --file-prefix "e2fab-$$" --log-level error >"$T/e2d.log" 2>&1 &
E2D_PID=$!
for _ in $(seq 200); do
  [ -S "$T/e2d.ctl" ] && break
  kill -0 "$E2D_PID" 2>/dev/null || fail "e2d exited at start: $(tail -5 "$T/e2d.log")"
  sleep 0.05
done
[ -S "$T/e2d.ctl" ] || fail "e2d did not open its control socket: $(tail -5 "$T/e2d.log")"
dp() { "$VS/e2ctl-dp" --ctl "$T/e2d.ctl" "$@"; }

N=200
cat >"$T/recv.py" <<'PY'
import socket, sys, time
n, ready, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.78.0.2", 5000))
s.settimeout(0.5)
open(ready, "w").close()
seen, deadline = set(), time.monotonic() + 60
while len(seen) < n and time.monotonic() < deadline:
    try:
        data, peer = s.recvfrom(2048)
    except socket.timeout:
        continue
    if peer[0] == "10.78.0.1" and data.startswith(b"e2-fabric-"):
        seen.add(data)
open(out, "w").write("%d\n" % len(seen))
PY
ip netns exec e2r-http python3 "$T/recv.py" "$N" "$T/ready" "$T/received" &
RECV_PID=$!
for _ in $(seq 200); do [ -e "$T/ready" ] && break; sleep 0.05; done
[ -e "$T/ready" ] || fail "the UDP receiver in e2r-http did not start"
ip netns exec e2r-client python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    s.sendto(b"e2-fabric-%06d " % i + b"x" * 100, ("10.78.0.2", 5000))
    time.sleep(0.002)
' "$N"
wait "$RECV_PID" || true
RECV_PID=""
got=$(cat "$T/received" 2>/dev/null || echo 0)
dp stats >"$T/e2d.stats" 2>&1 || true
if [ "$got" != "$N" ]; then
  ovs-ofctl -O OpenFlow15 --names dump-flows "$TARGET" >&2 || true
  cat "$T/e2d.stats" >&2
  fail "$got of $N datagrams arrived at e2r-http through switch -> e2d -> switch"
fi
if ! { grep -Eq "spi33.*packets=$N\b" "$T/e2d.stats" && grep -Eq "igate0.*spi=609.*packets=$N\b" "$T/e2d.stats"; }; then
  fail "e2d did not decapsulate and encapsulate all $N: $(cat "$T/e2d.stats")"
fi
ok "$N UDP datagrams client -> ext0 -> (NSH spi 33) -> e2d on srv0 -> (NSH spi 609) -> ext1 -> http, all arrived"
stop "$E2D_PID"
E2D_PID=""

# rule updates, one process each (information only)
times=()
for i in $(seq 1 21); do
  t0=$(date +%s%N)
  fab add "priority=50 in_port=ext0 filter=\"ip and udp dst port $((6000 + i))\" action=output:ext1" ||
    fail "e2ctl fabric add #$i"
  times+=($((($(date +%s%N) - t0) / 1000)))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 11p)
echo "fabric_rule_update_ms=$(awk -v us="$median" 'BEGIN {printf "%.2f", us / 1000}')"
[ "$(flows)" = 25 ] || fail "after 21 adds the switch holds $(flows) flows, not 25"
del_line='priority=50 in_port=ext0 filter="ip and udp dst port 6001"'
fab del "$del_line"
fab del "$del_line" # absent: not an error
[ "$(flows)" = 24 ] || fail "after a del the switch holds $(flows) flows, not 24"
ok "add and del one rule at a time"

# the table's limit: 2048 flows fit, the 2049th is refused by the switch, by name
{
  cat "$T/path.rules"
  for p in $(seq 1 2044); do echo "rule add priority=60 in_port=ext0 filter=\"ip and udp dst port $p\" action=output:ext1"; done
} >"$T/full.rules"
expect 0 '^2048 switch entries$' fab replace "$T/full.rules"
[ "$(flows)" = 2048 ] || fail "the full rule set is $(flows) flows, not 2048"
expect 1 'e2ctl fabric: switch flow table full: table 0 of the switch at unix:/run/e2/rack/ovs/e2fab.mgmt holds at most 2048 flows \(E2 has 2048 there' \
  fab add 'priority=60 in_port=ext0 filter="ip and udp dst port 9999" action=output:ext1'
rc=0
ovs-ofctl -O OpenFlow15 add-flow "$TARGET" "priority=60,in_port=e2r-ext0,udp,tp_dst=9998,actions=drop" >"$T/out" 2>&1 || rc=$?
if [ "$rc" = 0 ] || ! grep -q OFPFMFC_TABLE_FULL "$T/out"; then
  fail "ovs-ofctl add-flow #2049 was not refused with TABLE_FULL: $(cat "$T/out")"
fi
echo "rule add priority=60 in_port=ext0 filter=\"ip and udp dst port 9999\" action=output:ext1" >>"$T/full.rules"
expect 1 'the rules need 2049 OpenFlow flows but the switch has flow_table_entries 2048' fab replace "$T/full.rules"
[ "$(flows)" = 2048 ] || fail "a refused replace changed the table: $(flows) flows"
ok "2048 flows fit; the 2049th is refused (OFPFMFC_TABLE_FULL) with the limit named; a refused replace changes nothing"

# down leaves nothing
ovs_pids=$(cat /run/e2/rack/ovs/*.pid)
"$SRC/ci/rack" down >"$T/down.log" 2>&1 || fail "ci/rack down: $(cat "$T/down.log")"
RACK_UP=0
left=$(ip netns list | grep -E '^e2r-' || true)
[ -z "$left" ] || fail "netns left after ci/rack down: $left"
left=$(ip -o link show | grep -E ': (e2r-|e2m-|e2fab)' || true)
[ -z "$left" ] || fail "links left after ci/rack down: $left"
# (a zombie waiting for init to reap it runs nothing: ci/rack does not wait for the reaping)
. "$SRC/ci/proc-lib.sh"
for p in $ovs_pids; do gone "$p" || fail "OVS process $p still runs after ci/rack down"; done
[ ! -e /run/e2/rack ] || fail "/run/e2/rack (and its sockets) left after ci/rack down"
"$SRC/ci/rack" down >/dev/null 2>&1 || fail "a second ci/rack down failed"
ok "ci/rack down: no namespace, link, process or socket left; a second down is harmless"
