#!/usr/bin/env bash
# Integration test of e2d with real processes: NF processes (e2-trafgen) attached
# over vhost-user/virtio-user and memif; reconnection when either side restarts;
# no loss at a sustainable rate; a clean stop; an idle e2d that does not spin;
# a bad configuration refused at start-up. Every process is stopped by PID on exit.
set -euo pipefail
BIN=${1:?usage: test_e2d_procs.sh BUILD/vswitch}
T=$(mktemp -d /tmp/e2d-test.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$T"/*.log; do echo "--- $f"; tail -20 "$f"; done
  for c in "$T"/*.ctl; do [ -S "$c" ] && { echo "--- stats of $c"; "$BIN/e2ctl-dp" --ctl "$c" stats 2>&1 | head -30; }; done
  exit 1
}
ok() { echo "ok - $*"; }

NCPU=$(nproc)
WCORE=$((NCPU - 1)); GCORE=0
RATE=${E2_TEST_RATE:-200000}

start_e2d() { # name config
  "$BIN/e2d" --ctl "$T/$1.ctl" --config "$2" --worker-core "$WCORE" --no-huge --file-prefix "e2dt-$1" \
    --log-level error >"$T/$1.log" 2>&1 &
  E2D_PID=$!
  PIDS+=("$E2D_PID")
  for _ in $(seq 100); do
    [ -S "$T/$1.ctl" ] && return 0
    kill -0 "$E2D_PID" 2>/dev/null || fail "e2d $1 exited at start"
    sleep 0.05
  done
  fail "e2d $1 did not open its control socket"
}
stop_e2d() { kill -TERM "$E2D_PID"; wait "$E2D_PID" || fail "e2d exited with $? on SIGTERM"; }
ctl() { "$BIN/e2ctl-dp" --ctl "$T/$1.ctl" "${@:2}"; }
trafgen() { # vdev0 vdev1 args...
  local a=$1 b=$2; shift 2
  "$BIN/e2-trafgen" -l $GCORE --in-memory --single-file-segments -m 256 --no-pci --no-telemetry \
    --file-prefix "tg$$" --log-level error --vdev "$a" --vdev "$b" -- --tx 0 --rx 1 "$@"
}
val() { grep "^$1=" | cut -d= -f2; }

# --- 1. vhost-user server ports, NF process over virtio-user, no loss -----------------
cat >"$T/fwd.conf" <<CONF
# two NF ports cross-connected through a header match and a hash split
port add v0 vhost path=$T/v0.sock
port add v1 vhost path=$T/v1.sock
module add in0 port_in port=v0
module add in1 port_in port=v1
module add out0 port_out port=v0
module add out1 port_out port=v1
module add hm hmatch fields=12:2 default=1
module cmd hm add values=0x0800 gate=0
module add hs hash_split gates=2
module add s sink
connect in0 hm
connect hm:0 hs
connect hm:1 s
module add q0 queue size=1024
module add q1 queue size=1024
connect hs:0 q0
connect hs:1 q1
module add rr rr_split gates=1
connect q0 out1
connect q1 rr
connect rr:0 s
connect in1 out0
CONF
# q1's flows are sunk on purpose: count what goes where below
start_e2d a "$T/fwd.conf"
out=$(trafgen "net_virtio_user0,path=$T/v0.sock" "net_virtio_user1,path=$T/v1.sock" --rate "$RATE" --duration 2 --flows 64 2>"$T/tg1.log") || fail "trafgen: $out"
rx=$(echo "$out" | val rx_packets); tx=$(echo "$out" | val tx_packets)
stats=$(ctl a stats)
sunk=$(echo "$stats" | awk '$1=="s"{print $4}')
# the machine is shared: the generator may fall short of its rate, but what it sent must arrive
[ "$tx" -gt $((RATE / 4)) ] || fail "sent only $tx packets"
[ $((rx + sunk)) -eq "$tx" ] || fail "lost packets: tx=$tx rx=$rx sunk=$sunk"
[ "$rx" -gt 0 ] && [ "$sunk" -gt 0 ] || fail "hash split did not use both paths (rx=$rx sunk=$sunk)"
ok "vhost-user: $tx packets at $RATE pps through hmatch/hash_split/queues, none lost (rx=$rx, sunk by design=$sunk)"

# --- 2. the NF side restarts: a new process attaches to the same ports ----------------
out=$(trafgen "net_virtio_user0,path=$T/v0.sock" "net_virtio_user1,path=$T/v1.sock" --rate "$RATE" --duration 1 --flows 64 2>>"$T/tg1.log") || fail "trafgen again: $out"
stats=$(ctl a stats)
echo "$stats" | awk '$1=="v0"||$1=="v1"' | grep -q . || fail "no port stats"
[ "$(echo "$out" | val rx_packets)" -gt 0 ] || fail "no traffic after NF restart"
ok "NF process restart: traffic resumed on the same vhost-user ports"

# --- 2b. capture a live gate to a pcap file, then take the capture out again --------
before=$(ctl a list | awk '{print $1, $2}')
sunk0=$(ctl a stats s | awk '$1=="s"{print $4}')
trafgen "net_virtio_user0,path=$T/v0.sock" "net_virtio_user1,path=$T/v1.sock" --rate 50000 --duration 3 \
  --flows 64 >"$T/cap-tg.out" 2>>"$T/tg1.log" &
CAPTG=$!; PIDS+=("$CAPTG")
sleep 1
ctl a capture hm:0 file="$T/cap.pcap" count=50 >/dev/null || fail "capture refused"
if ctl a capture hm:5 file="$T/x.pcap" count=5 2>/dev/null; then fail "capture of an unconnected gate accepted"; fi
if ctl a capture nosuch file="$T/x.pcap" count=5 2>/dev/null; then fail "capture of nothing accepted"; fi
sleep 1
ctl a capture stop hm:0 >/dev/null || fail "capture stop refused"
wait "$CAPTG" || true
sunk1=$(ctl a stats s | awk '$1=="s"{print $4}')
tx=$(val tx_packets <"$T/cap-tg.out"); rx=$(val rx_packets <"$T/cap-tg.out")
[ $((rx + sunk1 - sunk0)) -eq "$tx" ] || fail "packets lost while capturing: tx=$tx rx=$rx sunk=$((sunk1 - sunk0))"
n=$(tcpdump -nr "$T/cap.pcap" 2>/dev/null | wc -l)
[ "$n" -eq 50 ] || fail "capture wrote $n packets, not 50"
[ "$before" = "$(ctl a list | awk '{print $1, $2}')" ] || fail "graph not restored after capture stop"
ok "capture: 50 packets of a live gate written for tcpdump, no loss, graph restored on stop"

# --- 3. a bad control request leaves the graph and traffic alone (end to end) --------
before=$(ctl a list | awk '{print $1, $2}')
if ctl a connect hm:0 s 2>"$T/err.txt"; then fail "double connect accepted"; fi
grep -q "already connected" "$T/err.txt" || fail "unclear error: $(cat "$T/err.txt")"
[ "$before" = "$(ctl a list | awk '{print $1, $2}')" ] || fail "graph changed after a refused request"
ok "refused request over the socket: $(cat "$T/err.txt")"

# --- 4. clean stop: sockets removed, exit status 0 ------------------------------------
stop_e2d
[ ! -e "$T/v0.sock" ] && [ ! -e "$T/a.ctl" ] || fail "sockets left after SIGTERM: $(ls "$T")"
ok "SIGTERM: clean exit, vhost and control sockets removed"

# --- 5. e2d restarts under a running NF (e2d is the vhost-user client) ---------------
cat >"$T/client.conf" <<CONF
port add v0 vhost path=$T/c0.sock client=1
port add v1 vhost path=$T/c1.sock client=1
module add in0 port_in port=v0
module add out1 port_out port=v1
connect in0 out1
module add in1 port_in port=v1
module add out0 port_out port=v0
connect in1 out0
CONF
trafgen "net_virtio_user0,path=$T/c0.sock,server=1" "net_virtio_user1,path=$T/c1.sock,server=1" \
  --rate 100000 --duration 7 --drain 0.5 >"$T/tg5.out" 2>"$T/tg5.log" &
TG=$!; PIDS+=("$TG")
for _ in $(seq 100); do [ -S "$T/c0.sock" ] && [ -S "$T/c1.sock" ] && break; sleep 0.05; done
start_e2d b "$T/client.conf"
sleep 1.5
first=$(ctl b stats v1 | awk '$1=="v1"{print $7}')
[ "${first:-0}" -gt 0 ] || fail "no traffic through e2d as vhost-user client"
stop_e2d
sleep 0.5
start_e2d b "$T/client.conf"
sleep 2
second=$(ctl b stats v1 | awk '$1=="v1"{print $7}')
[ "${second:-0}" -gt 50000 ] || fail "traffic did not resume after e2d restart (tx on v1: ${second:-0})"
wait "$TG" || true
ok "e2d restart under a running NF: reconnected, $second packets forwarded by the new e2d"
stop_e2d

# --- 6. memif ports --------------------------------------------------------------------
cat >"$T/memif.conf" <<CONF
port add m0 memif socket=$T/m.sock id=0
port add m1 memif socket=$T/m.sock id=1
module add in0 port_in port=m0
module add out1 port_out port=m1
connect in0 out1
CONF
start_e2d c "$T/memif.conf"
out=$("$BIN/e2-trafgen" -l $GCORE --no-huge -m 256 --no-pci --no-telemetry --no-shconf --file-prefix "tgm$$" \
  --log-level error --vdev "net_memif0,role=client,socket=$T/m.sock,socket-abstract=no,id=0" \
  --vdev "net_memif1,role=client,socket=$T/m.sock,socket-abstract=no,id=1" -- --tx 0 --rx 1 \
  --rate "$RATE" --duration 1 2>"$T/tgm.log") || fail "memif trafgen: $out"
tx=$(echo "$out" | val tx_packets); rx=$(echo "$out" | val rx_packets)
[ "$tx" -gt 0 ] && [ "$tx" -eq "$rx" ] || fail "memif: tx=$tx rx=$rx"
ok "memif: $tx packets, none lost"

# --- 7. an idle e2d does not burn its core ---------------------------------------------
t0=$(awk '{print $14+$15}' /proc/"$E2D_PID"/stat); sleep 3
t1=$(awk '{print $14+$15}' /proc/"$E2D_PID"/stat)
hz=$(getconf CLK_TCK)
pct=$(( (t1 - t0) * 100 / (3 * hz) ))
echo "idle e2d used ${pct}% of a core over 3 s"
[ "$pct" -lt 25 ] || fail "idle e2d is spinning (${pct}% of a core)"
ok "idle e2d: ${pct}% of a core"
stop_e2d

# --- 8. pcap ports: a capture in, classified by hmatch, two captures out -----------------
/usr/bin/python3 - "$T/in.pcap" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, TCP, Raw, wrpcap
pkts = []
for i in range(300):
    l4 = UDP(sport=1000 + i, dport=53) if i % 3 == 0 else TCP(sport=2000 + i, dport=80)
    pkts.append(Ether(dst="02:00:00:00:00:02") / IP(src="10.0.0.1", dst="10.1.%d.%d" % (i // 250, i % 250)) / l4 / Raw(b"x" * (i % 50)))
wrpcap(sys.argv[1], pkts)
PY
cat >"$T/pcap.conf" <<CONF
port add in pmd devargs=net_pcap0,rx_pcap=$T/in.pcap
port add udp pmd devargs=net_pcap1,tx_pcap=$T/udp.pcap
port add other pmd devargs=net_pcap2,tx_pcap=$T/other.pcap
module add from_in port_in port=in
module add proto hmatch fields=12:2,23:1 default=1
module cmd proto add values=0x0800,17 gate=0
module add to_udp port_out port=udp
module add to_other port_out port=other
connect from_in proto
connect proto:0 to_udp
connect proto:1 to_other
CONF
start_e2d p "$T/pcap.conf"
for _ in $(seq 50); do
  n=$(ctl p stats in | awk '$1=="in"{print $4}')
  [ "${n:-0}" -ge 300 ] && break; sleep 0.1
done
stop_e2d   # flushes and closes the capture files
u=$(tcpdump -nr "$T/udp.pcap" 2>/dev/null | wc -l); o=$(tcpdump -nr "$T/other.pcap" 2>/dev/null | wc -l)
[ "$u" -eq 100 ] && [ "$o" -eq 200 ] || fail "pcap: expected 100 UDP and 200 other packets, got $u and $o"
[ "$(tcpdump -nr "$T/udp.pcap" 'not udp' 2>/dev/null | wc -l)" -eq 0 ] || fail "a non-UDP packet in udp.pcap"
ok "pcap ports: 300 packets from a capture, 100 UDP and 200 others written, readable by tcpdump"

# --- 9. load and link events: a throttled queue overloads, then drains -----------------
cat >"$T/ev.conf" <<CONF
port add v0 vhost path=$T/e0.sock
port add v1 vhost path=$T/e1.sock
module add in0 port_in port=v0
module add q queue size=1024
module add out1 port_out port=v1
connect in0 q
connect q out1
sched add cap policy=rate_limit resource=packets limit=20000
sched attach q parent=cap
CONF
start_e2d e "$T/ev.conf"
ctl e events seconds=6 >"$T/events.txt" &
EV=$!; PIDS+=("$EV")
sleep 0.3
(sleep 2.5; ctl e sched set cap limit=100000000 >/dev/null) &
trafgen "net_virtio_user0,path=$T/e0.sock" "net_virtio_user1,path=$T/e1.sock" --rate 100000 --duration 4 \
  >/dev/null 2>>"$T/tgev.log" || true
wait "$EV" || true
for want in "link_up v0" "link_up v1" "overload q" "underload q"; do
  grep -q "$want" "$T/events.txt" || fail "no '$want' event; got: $(cat "$T/events.txt")"
done
ok "events: $(awk '{print $2, $3}' "$T/events.txt" | tr '\n' ',' | sed 's/,$//')"
stop_e2d

# --- 10. a bad configuration is refused with the file and line --------------------------
printf 'port add p0 pmd devargs=net_null0\nmodule add x nosuch\n' >"$T/bad.conf"
if "$BIN/e2d" --ctl "$T/bad.ctl" --config "$T/bad.conf" --no-huge --file-prefix e2dt-bad \
     --log-level error >"$T/bad.log" 2>&1; then fail "bad configuration accepted"; fi
grep -q "bad.conf:2: unknown module class 'nosuch'" "$T/bad.log" || fail "unclear error: $(cat "$T/bad.log")"
[ ! -e "$T/bad.ctl" ] || fail "socket left by a refused start"
ok "bad configuration refused: $(grep bad.conf "$T/bad.log" | head -1)"
echo "all e2d process tests passed"
