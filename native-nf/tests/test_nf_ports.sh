#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# e2d --native-nfs with e2nf-fwd as a process on two zero-copy nf ports:
#   netns A --veth--> e2d (af_packet) -> nf port a -> e2nf-fwd --tag safe=1 -> nf port b
#   -> e2d nsh_match safe=1 -> nsh_pop -> pcap file
# 1. 100 frames (scapy) pass, byte for byte, every one tagged by the NF and matched by e2d;
# 2. kill -9 of the NF: the link goes down (event published), buffers come back, and
#    e2d's pool holds as many buffers in use as before the NF;
# 3. a new NF process attaches to the same ports and frames flow again;
# 4. e2d's hugepage files and runtime directory are gone after it stops.
set -euo pipefail
BUILD=${1:?usage: test_nf_ports.sh BUILD_DIR}
E2D=$BUILD/vswitch/e2d CTL=$BUILD/vswitch/e2ctl-dp FWD=$BUILD/native-nf/e2nf-fwd NFCTL=$BUILD/native-nf/e2nf-ctl
PY=/usr/bin/python3
[ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v tcpdump >/dev/null || { echo "skip: needs root, ip, tcpdump"; exit 77; }
$PY -c 'import scapy' 2>/dev/null || { echo "skip: needs python3-scapy"; exit 77; }
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
[ "$free" -ge 64 ] || { echo "skip: needs 64 free 2 MiB hugepages (have $free; echo 256 > /proc/sys/vm/nr_hugepages)"; exit 77; }

T=$(mktemp -d /tmp/e2nf-ports.XXXXXX)
NA=e2nfa-$$ VB=e2nfb$$ PREFIX=e2nf-ports-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$NA" 2>/dev/null || true
  ip link del "$VB" 2>/dev/null || true
  rm -f /dev/hugepages/${PREFIX}map_* 2>/dev/null || true
  rm -rf "/var/run/dpdk/$PREFIX" "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$T"/*.log "$T"/*.out; do [ -e "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
ok() { echo "ok - $*"; }

ip netns add "$NA" || { echo "skip: cannot create a network namespace"; exit 77; }
ip link add va netns "$NA" type veth peer name "$VB" || { echo "skip: cannot create a veth pair"; exit 77; }
ip netns exec "$NA" sysctl -qw net.ipv6.conf.va.disable_ipv6=1 || true
sysctl -qw "net.ipv6.conf.$VB.disable_ipv6=1" || true
ip netns exec "$NA" ip link set va up
ip link set "$VB" up

$PY - "$T" <<'PYEOF'
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
t = sys.argv[1]
wrpcap(t + "/in.pcap", [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                        IP(src="10.9.0.1", dst="10.9.0.2") / UDP(sport=1000 + i, dport=80) /
                        Raw(bytes([i]) * 30) for i in range(100)])
PYEOF
send() { ip netns exec "$NA" $PY -c "from scapy.all import rdpcap, sendp; sendp(rdpcap('$T/in.pcap'), iface='va', verbose=False)"; }

cat >"$T/e2d.conf" <<CONF
port add src pmd devargs=net_af_packet0,iface=$VB
port add dst pmd devargs=net_pcap0,tx_pcap=$T/out.pcap
port add nfa nf path=$T/a.sock native=1
port add nfb nf path=$T/b.sock native=1
module add in port_in port=src
module add toa port_out port=nfa
module add fromb port_in port=nfb
module add m nsh_match default=1
module cmd m add attr=safe value=1 gate=0
module add pop nsh_pop
module add out port_out port=dst
module add s sink
connect in toa
connect fromb m
connect m:0 pop
connect m:1 s
connect pop out
CONF
"$E2D" --native-nfs --ctl "$T/e2d.ctl" --config "$T/e2d.conf" --file-prefix "$PREFIX" --mbufs 4095 --table-mb 32 \
  --log-level error --monitor-ms 50 --overload 0.05,0.01 >"$T/e2d.log" 2>&1 &
E2D_PID=$!
PIDS+=("$E2D_PID")
for _ in $(seq 200); do [ -S "$T/e2d.ctl" ] && break; kill -0 $E2D_PID 2>/dev/null || fail "e2d exited at start"; sleep 0.05; done
[ -S "$T/e2d.ctl" ] || fail "e2d did not open its control socket"
"$CTL" --ctl "$T/e2d.ctl" events seconds=60 >"$T/events.out" 2>&1 &
EVENTS_PID=$!
PIDS+=("$EVENTS_PID")

port_field() { "$CTL" --ctl "$T/e2d.ctl" stats | awk -v p="$1" -v f="$2" '$1==p {print $f}'; }
mbufs_in_use() { "$CTL" --ctl "$T/e2d.ctl" stats | sed -n 's/.*mbufs_in_use=\([0-9]*\).*/\1/p'; }
wait_link() { # PORT up|down
  for _ in $(seq 100); do [ "$(port_field "$1" 3)" = "$2" ] && return 0; sleep 0.05; done
  fail "port $1 is not $2"
}
start_nf() { # N [OPTIONS...]
  "$FWD" --port "$T/a.sock" --port "$T/b.sock" --tag safe=1 --name "fwd$1" --ctl "$T/nf.ctl" "${@:2}" >"$T/nf$1.out" 2>&1 &
  NF_PID=$!
  PIDS+=("$NF_PID")
  wait_link nfa up
  wait_link nfb up
}
wait_out() { # N: frames through to the pcap port
  for _ in $(seq 100); do [ "$(port_field dst 6)" -ge "$1" ] && return 0; sleep 0.05; done
  fail "only $(port_field dst 6) of $1 frames came out"
}

# The handshake: another API version, a malformed hello, a second NF on a port in use
hello() { # MESSAGE: e2d's answer to it on port a
  "$PY" -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1]); s.send(sys.argv[2].encode()); s.settimeout(5)
print(s.recv(512).decode())" "$T/a.sock" "$1"
}
answer=$(hello "hello version=99 name=future pid=1")
[[ $answer == "refused version=1 reason=this e2d speaks version 1 of the NF API, not 99" ]] || fail "version 99: $answer"
answer=$(hello "GET / HTTP/1.0")
[[ $answer == "refused version=1 reason=expected 'hello version=N name=NAME pid=PID'" ]] || fail "junk hello: $answer"
[ "$(port_field nfa 3)" = down ] || fail "a refused NF took the link up"
ok "the handshake refuses another API version and a malformed hello"

in_use0=$(mbufs_in_use)
start_nf 1
"$FWD" --port "$T/a.sock" --name intruder >"$T/intruder.out" 2>&1 && fail "a second NF attached to a port in use"
grep -q "e2d refused: port nfa is in use by NF 'fwd1'" "$T/intruder.out" || fail "second NF: $(cat "$T/intruder.out")"
ok "a second NF on a port in use is refused, naming the first"
send
wait_out 100
ok "100 frames through e2d -> e2nf-fwd -> e2d over zero-copy nf ports"
[ "$(port_field nfa 9)" = 0 ] && [ "$(port_field nfb 4)" = 100 ] || fail "nf ports do not account for 100 frames: $("$CTL" --ctl "$T/e2d.ctl" stats)"
"$CTL" --ctl "$T/e2d.ctl" stats | grep -q "m rule0=safe=1 gate=0 priority=0 matches=100" ||
  fail "e2d's nsh_match did not match the NF's safe=1 on all 100 frames"
ok "every frame carried the NF's metadata (safe=1), matched by e2d's nsh_match"

nfctl() { "$NFCTL" "$T/nf.ctl" "$@"; } # COMMAND...: the NF's answer on its control socket
nfctl stats | grep -qx "rx_packets=100" || fail "the NF's stats on its control socket: $(nfctl stats)"
nfctl version | grep -qx "api_version=1" || fail "the NF's version: $(nfctl version)"
out=$(nfctl frobnicate 2>&1) && fail "e2nf-ctl exited 0 on the NF's error: $out"
[[ $out == "error: unknown command 'frobnicate'"* ]] || fail "an unknown command: $out"
ok "the NF answers stats, version and an unknown command on its control socket"
[ "$("$NFCTL" --get tx_packets --get rx_packets "$T/nf.ctl" stats)" = $'100\n100' ] ||
  fail "e2nf-ctl --get: $("$NFCTL" --get tx_packets --get rx_packets "$T/nf.ctl" stats 2>&1)"
rc=0; out=$("$NFCTL" --get no_such_counter "$T/nf.ctl" stats 2>&1) || rc=$?
[ $rc = 1 ] && [ "$out" = "e2nf-ctl: the reply to 'stats' has no no_such_counter" ] || fail "a missing key: rc=$rc $out"
rc=0; out=$("$NFCTL" "$T/nobody.ctl" stats 2>&1) || rc=$?
[ $rc = 2 ] && [[ $out == "e2nf-ctl: cannot connect to $T/nobody.ctl: No such file or directory"* ]] ||
  fail "no NF on the socket: rc=$rc $out"
ok "e2nf-ctl: --get picks counters in order; a missing key and a missing NF are refused in one line"
kill -TERM "$NF_PID"; wait "$NF_PID" || fail "e2nf-fwd exited with $? on SIGTERM"
grep -qx "rx_packets=100" "$T/nf1.out" && grep -qx "tx_packets=100" "$T/nf1.out" && grep -qx "tagged=100" "$T/nf1.out" ||
  fail "e2nf-fwd's counters do not say 100 in, 100 out, 100 tagged"
frames() { tcpdump -r "$1" -nn -t -x 2>/dev/null; }
[ "$(frames "$T/in.pcap")" = "$(frames "$T/out.pcap")" ] || fail "frames out differ from frames in"
ok "frames out are the frames in, byte for byte (NSH added by the NF, removed by e2d)"
wait_link nfa down

# A crash: the NF is killed while frames are queued to it.
start_nf 2
"$CTL" --ctl "$T/e2d.ctl" module del pop >/dev/null   # frames back from the NF now go nowhere...
"$CTL" --ctl "$T/e2d.ctl" module add pop nsh_pop >/dev/null
kill -STOP "$NF_PID"                                   # ...and the NF stops taking them
send
for _ in $(seq 100); do [ "$(port_field nfa 6)" -ge 100 ] && break; sleep 0.05; done
# 100 frames of 1024 slots wait for the stopped NF: over --overload's 5 %
for _ in $(seq 100); do grep -q " overload nfa " "$T/events.out" && break; sleep 0.05; done
grep -q " overload nfa " "$T/events.out" || fail "no overload event for nfa: $(cat "$T/events.out")"
ok "frames waiting for a stopped NF raise the port's overload event"
kill -KILL "$NF_PID"; wait "$NF_PID" 2>/dev/null || true
wait_link nfa down
wait_link nfb down
grep -q "port nfa: link down: NF 'fwd2' (pid $NF_PID) went away; [0-9]* buffers back to the pool" "$T/e2d.log" ||
  fail "e2d did not log the NF's departure"
for _ in $(seq 100); do [ "$(mbufs_in_use)" = "$in_use0" ] && break; sleep 0.05; done
[ "$(mbufs_in_use)" = "$in_use0" ] || fail "e2d's pool has $(mbufs_in_use) buffers in use, $in_use0 before the NF"
ok "kill -9 of the NF: links down, the 100 frames queued to it are back in e2d's pool"
for _ in $(seq 40); do grep -q " link_down nfa " "$T/events.out" && break; sleep 0.1; done
grep -q " link_down nfa " "$T/events.out" || fail "no link-down event for nfa: $(cat "$T/events.out")"
ok "the link-down event was published"

"$CTL" --ctl "$T/e2d.ctl" connect pop out >/dev/null
"$CTL" --ctl "$T/e2d.ctl" connect m:0 pop >/dev/null
before=$(port_field dst 6)
start_nf 3 --report-load 0.5
send
wait_out $((before + 100))
ok "a new NF process attached to the same ports; 100 more frames through"
for _ in $(seq 100); do grep -q " overload nfb " "$T/events.out" && break; sleep 0.05; done
grep -q " overload nfb " "$T/events.out" || fail "the NF's reported load raised no overload event: $(cat "$T/events.out")"
ok "the load an NF reports (0.5) reaches e2d's monitor: overload event for its idle port"

kill -TERM "$NF_PID"; wait "$NF_PID" || true

# port del with an NF attached: e2d says bye, the NF lets go and exits, and e2d frees
# the rings (it keeps them, and says so, only when an NF does not let go)
"$CTL" --ctl "$T/e2d.ctl" port add t nf path="$T/t.sock" >/dev/null
"$FWD" --port "$T/t.sock" --name lone >"$T/lone.out" 2>&1 &
LONE=$!
PIDS+=("$LONE")
wait_link t up
"$CTL" --ctl "$T/e2d.ctl" port del t >/dev/null || fail "port del t refused"
wait $LONE || fail "the NF exited with $? after e2d let go of its port"
grep -q "port t: link down: NF 'lone' (pid $LONE) let go" "$T/e2d.log" || fail "e2d did not log the NF letting go"
grep -q "did not let go" "$T/e2d.log" && fail "e2d kept rings of an NF that let go"
"$CTL" --ctl "$T/e2d.ctl" port add t nf path="$T/t.sock" >/dev/null || fail "the socket of a deleted port is not free again"
"$CTL" --ctl "$T/e2d.ctl" port del t >/dev/null
ok "port del with its NF attached: the NF lets go and exits, e2d frees the port's rings and socket"

kill -TERM "$EVENTS_PID" 2>/dev/null || true
kill -TERM "$E2D_PID"; wait "$E2D_PID" || fail "e2d exited with $? on SIGTERM"
# e2d is gone (and reaped): the cleanup stops whatever else is left
keep=(); for p in "${PIDS[@]}"; do [ "$p" = "$E2D_PID" ] || keep+=("$p"); done; PIDS=("${keep[@]}")
compgen -G "/dev/hugepages/${PREFIX}map_*" >/dev/null && fail "e2d left its hugepage files behind"
[ -e "/var/run/dpdk/$PREFIX" ] && fail "e2d left /var/run/dpdk/$PREFIX behind"
ok "e2d removed its hugepage files and runtime directory"
exit 0
