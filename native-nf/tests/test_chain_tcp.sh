#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end: real TCP between two network namespaces through e2d and a chain of native
# NFs as processes on zero-copy nf ports:
#
#   ns A (10.9.1.1) == e2d == e2nf-firewall == e2d == e2nf-nat == e2d == e2nf-lb == e2d
#       == e2nf-fwd --tag safe=1 == e2d == ns B (10.9.1.2)
#
# A connects to the load balancer's VIP 10.9.1.100:5000; the NAT makes A 10.9.1.200, the
# load balancer sends the flow to its backend B; B answers 10.9.1.200. e2d sends on to B
# only what carries the fwd's safe=1 (nsh_match), and strips the NSH header towards the
# namespaces. Checks: 1 MiB over TCP both ways, intact (SHA-256), B seeing the NAT's
# address; a flow the firewall's rules do not allow gets nowhere and is counted; every
# frame is accounted for at each NF (in = out + dropped) and at e2d (nothing lost).
set -euo pipefail
BUILD=${1:?usage: test_chain_tcp.sh BUILD_DIR}
E2D=$BUILD/vswitch/e2d CTL=$BUILD/vswitch/e2ctl-dp NFS=$BUILD/native-nf
PY=/usr/bin/python3
. "$(dirname "$0")/netns-lib.sh"
nn_need_root ip ethtool
nn_need_hugepages 64
nn_begin e2nf-chain
NA=e2nfca-$$ NB=e2nfcb-$$ EA=e2nca$$ EB=e2ncb$$
nn_ns "$NA" va "$EA" 10.9.1.1
nn_ns "$NB" vb "$EB" 10.9.1.2

MAC_A=$(ip netns exec "$NA" cat /sys/class/net/va/address)
MAC_B=$(ip netns exec "$NB" cat /sys/class/net/vb/address)
# the VIP and the NAT's address answer no ARP: each side knows where they are
ip netns exec "$NA" ip neigh add 10.9.1.100 lladdr "$MAC_B" dev va
ip netns exec "$NB" ip neigh add 10.9.1.200 lladdr "$MAC_A" dev vb
cat >"$T/fw.rules" <<RULES
default drop
non-ip allow
allow tcp from 10.9.1.1 to 10.9.1.100 port 5000
RULES
cat >"$T/nat.conf" <<NAT
external 10.9.1.200
inside 10.9.1.1/32
ports 30000-30999
NAT
cat >"$T/lb.conf" <<LB
vip 10.9.1.100 tcp 5000
backend b 10.9.1.2
LB
cat >"$T/e2d.conf" <<CONF
port add A pmd devargs=net_af_packet0,iface=$EA
port add B pmd devargs=net_af_packet1,iface=$EB
port add fwi nf path=$T/fwi.sock native=1
port add fwo nf path=$T/fwo.sock native=1
port add nti nf path=$T/nti.sock native=1
port add nto nf path=$T/nto.sock native=1
port add lbc nf path=$T/lbc.sock native=1
port add lbb nf path=$T/lbb.sock native=1
port add fda nf path=$T/fda.sock native=1
port add fdb nf path=$T/fdb.sock native=1
module add inA port_in port=A
module add outA port_out port=A
module add inB port_in port=B
module add outB port_out port=B
module add in_fwi port_in port=fwi
module add out_fwi port_out port=fwi
module add in_fwo port_in port=fwo
module add out_fwo port_out port=fwo
module add in_nti port_in port=nti
module add out_nti port_out port=nti
module add in_nto port_in port=nto
module add out_nto port_out port=nto
module add in_lbc port_in port=lbc
module add out_lbc port_out port=lbc
module add in_lbb port_in port=lbb
module add out_lbb port_out port=lbb
module add in_fda port_in port=fda
module add out_fda port_out port=fda
module add in_fdb port_in port=fdb
module add out_fdb port_out port=fdb
module add safe nsh_match default=1
module cmd safe add attr=safe value=1 gate=0
module add unsafe sink
connect inA out_fwi
connect in_fwo out_nti
connect in_nto out_lbc
connect in_lbb out_fda
connect in_fdb safe
connect safe:0 outB
connect safe:1 unsafe
connect inB out_fdb
connect in_fda out_lbb
connect in_lbc out_nto
connect in_nti out_fwo
connect in_fwi outA
CONF
nn_start_e2d

"$NFS/e2nf-firewall" --rules "$T/fw.rules" --name fw --port "$T/fwi.sock" --port "$T/fwo.sock" >"$T/fw.out" 2>&1 &
FW_PID=$!
PIDS+=("$FW_PID")
"$NFS/e2nf-fwd" --tag safe=1 --name tag --port "$T/fda.sock" --port "$T/fdb.sock" >"$T/fwd.out" 2>&1 &
FWD_PID=$!
PIDS+=("$FWD_PID")
"$NFS/e2nf-nat" --config "$T/nat.conf" --name nat --port "$T/nti.sock" --port "$T/nto.sock" >"$T/nat.out" 2>&1 &
NAT_PID=$!
PIDS+=("$NAT_PID")
"$NFS/e2nf-lb" --config "$T/lb.conf" --name lb --port "$T/lbc.sock" --port "$T/lbb.sock" >"$T/lb.out" 2>&1 &
LB_PID=$!
PIDS+=("$LB_PID")
stats() { "$CTL" --ctl "$T/e2d.ctl" stats; }
for _ in $(seq 200); do
  [ "$(stats | awk '$2=="nf" && $3=="up"' | wc -l)" = 8 ] && break
  for p in $FW_PID $FWD_PID $NAT_PID $LB_PID; do kill -0 $p 2>/dev/null || fail "an NF exited at start"; done
  sleep 0.05
done
[ "$(stats | awk '$2=="nf" && $3=="up"' | wc -l)" = 8 ] || fail "the NFs did not attach: $(stats)"
ok "e2nf-firewall, e2nf-nat, e2nf-lb and e2nf-fwd attached to e2d's eight nf ports"

# 1 MiB each way over one TCP connection; each side checks what it got by SHA-256
cat >"$T/server.py" <<'PYEOF'
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.9.1.2", int(sys.argv[1]))); s.listen(1); s.settimeout(60)
c, peer = s.accept(); c.settimeout(60)
print("peer", peer[0], flush=True)
data = b""
while len(data) < 1 << 20:
    chunk = c.recv(65536)
    if not chunk:
        break
    data += chunk
c.sendall(hashlib.sha256(data).hexdigest().encode() + bytes(data[::-1]))
c.close()
PYEOF
cat >"$T/client.py" <<'PYEOF'
import hashlib, os, socket, sys
payload = os.urandom(1 << 20)
c = socket.create_connection(("10.9.1.100", int(sys.argv[1])), timeout=float(sys.argv[2]))
c.sendall(payload)
back = b""
while len(back) < 64 + (1 << 20):
    chunk = c.recv(65536)
    if not chunk:
        break
    back += chunk
ok = back[:64].decode() == hashlib.sha256(payload).hexdigest() and back[64:] == payload[::-1]
print("intact" if ok else "damaged %d bytes" % len(back))
PYEOF
ip netns exec "$NB" "$PY" "$T/server.py" 5000 >"$T/server.out" 2>&1 &
SRV=$!
PIDS+=("$SRV")
sleep 0.5
result=$(ip netns exec "$NA" timeout 90 "$PY" "$T/client.py" 5000 30 2>&1) || fail "TCP through the chain failed: $result"
[ "$result" = intact ] || fail "TCP through the chain: $result"
wait $SRV || fail "the server failed: $(cat "$T/server.out")"
grep -qx "peer 10.9.1.200" "$T/server.out" || fail "B saw the connection from $(cat "$T/server.out"), not the NAT's 10.9.1.200"
ok "1 MiB each way over TCP from A to the VIP, through e2d and four NF processes, intact; B saw the NAT's address"

# A flow the rules do not allow: no connection, and the firewall says why
ip netns exec "$NB" "$PY" "$T/server.py" 5001 >"$T/server2.out" 2>&1 &
SRV2=$!
PIDS+=("$SRV2")
sleep 0.3
if ip netns exec "$NA" timeout 10 "$PY" "$T/client.py" 5001 2 >"$T/denied.out" 2>&1; then
  fail "a TCP connection to port 5001 went through the firewall"
fi
kill $SRV2 2>/dev/null || true
ok "TCP to port 5001 (not allowed by the rules) did not connect"

stats >"$T/e2d.stats"
kill -TERM $FW_PID $FWD_PID $NAT_PID $LB_PID
for p in $FW_PID $FWD_PID $NAT_PID $LB_PID; do wait $p || fail "an NF exited with $? on SIGTERM"; done
v() { sed -n "s/^$2=//p" "$T/$1.out"; }
for nf in fw nat lb fwd; do
  rx=$(v $nf rx_packets) tx=$(v $nf tx_packets) dr=$(v $nf drops) full=$(v $nf tx_full)
  [ "$rx" -gt 1000 ] || fail "$nf saw only $rx frames"
  [ "$rx" = $((tx + dr + full)) ] || fail "$nf: $rx in, $tx out, $dr dropped, $full refused by e2d"
  [ "$full" = 0 ] || fail "$nf: e2d refused $full frames"
done
[ "$(v fw dropped_default)" -ge 1 ] || fail "the firewall counted no drop for the denied flow"
[ "$(v fw drops)" = "$(( $(v fw dropped_default) + $(v fw dropped_rule) + $(v fw malformed) ))" ] ||
  fail "the firewall's drops are not its rule, default and malformed drops"
[ "$(v nat translated_out)" -gt 700 ] && [ "$(v nat translated_in)" -gt 700 ] && [ "$(v nat new_mappings)" = 1 ] ||
  fail "the NAT did not translate the connection both ways with one mapping"
[ "$(v lb new_flows)" = 1 ] && [ "$(v lb to_backend)" -gt 700 ] && [ "$(v lb to_client)" -gt 700 ] ||
  fail "the load balancer did not carry one flow both ways"
ok "every frame accounted for at each NF: fw $(v fw rx_packets) in = $(v fw tx_packets) out + $(v fw drops) dropped ($(v fw dropped_default) by the default rule); nat $(v nat rx_packets) = $(v nat tx_packets) + $(v nat drops); lb $(v lb rx_packets) = $(v lb tx_packets) + $(v lb drops); fwd $(v fwd rx_packets) = $(v fwd tx_packets) + $(v fwd drops)"
# at e2d: what each NF sent back came out of e2d, and no port dropped anything
awk '$2=="nf" || $2=="pmd" {if ($8 != 0 || $9 != 0) bad = bad " " $1 ":" $8 "/" $9} END {if (bad) {print bad; exit 1}}' "$T/e2d.stats" ||
  fail "e2d dropped frames on its ports"
[ "$(awk '$1=="unsafe" {print $4}' "$T/e2d.stats")" = 0 ] || fail "frames without the fwd's safe=1 reached e2d"
tx_fdb=$(awk '$1=="fdb" {print $4}' "$T/e2d.stats") tx_b=$(awk '$1=="B" {print $6}' "$T/e2d.stats")
[ "$tx_fdb" = "$tx_b" ] || fail "fwd sent $tx_fdb frames towards B, e2d sent $tx_b to B"
ok "at e2d: no port dropped a frame; all $tx_b frames from the fwd carried safe=1 and reached B"

kill -TERM $E2D_PID; wait $E2D_PID || fail "e2d exited with $? on SIGTERM"
# e2d is gone (and reaped): the cleanup stops whatever else is left
keep=(); for p in "${PIDS[@]}"; do [ "$p" = "$E2D_PID" ] || keep+=("$p"); done; PIDS=("${keep[@]}")
exit 0
