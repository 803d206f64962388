#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Integration test of e2d with real processes: NF processes (e2-trafgen) attached
# over vhost-user/virtio-user and memif; reconnection when either side restarts;
# no loss at a sustainable rate; a clean stop; an idle e2d that does not spin;
# a bad configuration refused at start-up. Every process is stopped by PID on exit.
#
# Every traffic case balances the books (tools/e2-account): what the generator sent
# = what came back + what a sink took on purpose + what e2d counted as dropped + what
# a queue still holds. Unaccounted loss fails; counted drops fail only beyond a stated
# bound (the generator shares a core with everything else on a busy machine, and a
# receive ring that is full while it is descheduled is e2d's tx drop, not a bug).
set -euo pipefail
BIN=${1:?usage: test_e2d_procs.sh BUILD/vswitch}
SRC=$(cd "$(dirname "$0")" && pwd)
ACCOUNT=$SRC/tools/e2-account
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

E2D_EXTRA=() # more e2d options for the next start_e2d
start_e2d() { # name config
  "$BIN/e2d" --ctl "$T/$1.ctl" --config "$2" --worker-core "$WCORE" --no-huge --file-prefix "e2dt$$-$1" \
    --log-level error "${E2D_EXTRA[@]}" >"$T/$1.log" 2>&1 &
  E2D_PID=$!
  PIDS+=("$E2D_PID")
  for _ in $(seq 100); do
    [ -S "$T/$1.ctl" ] && return 0
    kill -0 "$E2D_PID" 2>/dev/null || fail "e2d $1 exited at start"
    sleep 0.05
  done
  fail "e2d $1 did not open its control socket"
}
# reap PID SECONDS WHAT: waits for PID to exit (its status is reap's); one still running
# after SECONDS fails the test, naming it: a hang is a message, not CTest's timeout
reap() {
  local end=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    ((SECONDS < end)) || fail "$3 (pid $1) is still running after $2 s"
    sleep 0.05
  done
  wait "$1"
}
stop_e2d() { kill -TERM "$E2D_PID"; reap "$E2D_PID" 30 "e2d, sent SIGTERM," || fail "e2d exited with $? on SIGTERM"; }
# run PROGRAM ARGS...: in a subshell (a job started with &, a $(...)) the program takes
# the subshell's place, so that $! and a kill reach the program itself and not a shell
# that would leave it running (still polling a core, into the next test) when killed
run() { [ "$BASHPID" = "$$" ] || exec "$@"; "$@"; }
ctl() { run "$BIN/e2ctl-dp" --ctl "$T/$1.ctl" "${@:2}"; }
# virtio-user rings of 1024 (the default is 256): the generator's receive ring then
# holds what e2d forwards while the generator is descheduled for a few milliseconds.
trafgen() { # vdev0 vdev1 args...
  local a=$1,queue_size=1024 b=$2,queue_size=1024; shift 2
  run "$BIN/e2-trafgen" -l $GCORE --in-memory --single-file-segments -m 256 --no-pci --no-telemetry \
    --file-prefix "tg$$" --log-level error --vdev "$a" --vdev "$b" -- --tx 0 --rx 1 "$@"
}
val() { grep "^$1=" | cut -d= -f2; }
# stop_gen PID: a generator started in the background stops sending once the case has
# seen what it needs, drains, and reports; its --duration is only the longest the case
# may take
stop_gen() { kill -TERM "$1" 2>/dev/null || true; }
# account NAME GEN_OUTPUT [e2-account args...]: the books of e2d NAME since its last
# `stats reset` must balance against what the generator printed.
account() {
  local name=$1 out=$2; shift 2
  local tx rx stats rc=0
  tx=$(echo "$out" | val tx_packets); rx=$(echo "$out" | val rx_packets)
  # (apart: with pipefail a failed stats request would pass for the books' verdict)
  stats=$(ctl "$name" stats) || fail "e2d $name did not answer stats: $stats"
  ACC=$(echo "$stats" | "$ACCOUNT" sent="${tx:-0}" received="${rx:-0}" "$@") || rc=$?
  case $rc in
    0) ;;
    1) fail "unaccounted packets: $(echo $ACC)";;
    *) fail "counted drops over the bound or too little traffic: $(echo $ACC) (args: $*)";;
  esac
}
acc() { echo "$ACC" | val "$1"; }
# traffic_in_background OUT: resets e2d a's counters, starts 3 s of traffic through it
# (the generator's pid in BGTG, its report in OUT) and returns once it flows (a
# deadline poll, not a guess)
traffic_in_background() {
  ctl a stats reset >/dev/null
  trafgen "net_virtio_user0,path=$T/v0.sock" "net_virtio_user1,path=$T/v1.sock" --rate 50000 --duration 3 \
    --flows 64 >"$1" 2>>"$T/tg1.log" &
  BGTG=$!; PIDS+=("$BGTG")
  for _ in $(seq 100); do
    [ "$(ctl a stats hm | awk '$1=="hm"{print $4}')" -gt 100 ] 2>/dev/null && break; sleep 0.05
  done
}

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
# the machine is shared: the generator may fall short of its rate, but what it sent is accounted for
account a "$out" min_sent=$((RATE / 4)) max_drop_pct=1
rx=$(acc received); sunk=$(acc sunk)
[ "$rx" -gt 0 ] && [ "$sunk" -gt 0 ] || fail "hash split did not use both paths (rx=$rx sunk=$sunk)"
ok "vhost-user: $(acc sent) packets at $RATE pps through hmatch/hash_split/queues: rx=$rx, sunk by design=$sunk, counted drops=$(acc counted_drops), unaccounted 0"

# --- 2. the NF side restarts: a new process attaches to the same ports ----------------
ctl a stats reset >/dev/null
out=$(trafgen "net_virtio_user0,path=$T/v0.sock" "net_virtio_user1,path=$T/v1.sock" --rate "$RATE" --duration 1 --flows 64 2>>"$T/tg1.log") || fail "trafgen again: $out"
account a "$out" min_sent=$((RATE / 8)) max_drop_pct=1
[ "$(acc received)" -gt 0 ] || fail "no traffic after NF restart"
ok "NF process restart: traffic resumed on the same vhost-user ports ($(acc sent) sent, $(acc received) back, unaccounted 0)"

# --- 2b. capture a live gate to a pcap file, then take the capture out again --------
before=$(ctl a list | awk '{print $1, $2}')
traffic_in_background "$T/cap-tg.out"
CAPTG=$BGTG
ctl a capture hm:0 file="$T/cap.pcap" count=50 >/dev/null || fail "capture refused"
if ctl a capture hm:5 file="$T/x.pcap" count=5 2>/dev/null; then fail "capture of an unconnected gate accepted"; fi
if ctl a capture nosuch file="$T/x.pcap" count=5 2>/dev/null; then fail "capture of nothing accepted"; fi
for _ in $(seq 200); do
  [ "$(ctl a stats | awk '$1=="hm"{print $4}')" -gt 5000 ] 2>/dev/null && break; sleep 0.05
done
ctl a capture stop hm:0 >/dev/null || fail "capture stop refused"
reap "$CAPTG" 60 "the capture case's generator" || fail "generator failed during the capture"
account a "$(cat "$T/cap-tg.out")" min_sent=10000 max_drop_pct=1
n=$(tcpdump -nr "$T/cap.pcap" 2>/dev/null | wc -l)
[ "$n" -eq 50 ] || fail "capture wrote $n packets, not 50"
[ "$before" = "$(ctl a list | awk '{print $1, $2}')" ] || fail "graph not restored after capture stop"
ok "capture: 50 packets of a live gate written for tcpdump, $(acc sent) packets accounted for (counted drops $(acc counted_drops)), graph restored on stop"

# --- 3. bad control requests leave the graph and traffic alone (end to end) ----------
# While traffic flows: a double connect, and an edge that would close a loop through
# the live path (a classifier put on hm's edge first, its spare gate pointed back at hm).
ctl a module add lp bpf >/dev/null && ctl a insert hm:0 lp >/dev/null || fail "insert of a classifier refused"
traffic_in_background "$T/bad-tg.out"
BADTG=$BGTG
before=$(ctl a list | awk '{print $1, $2}')
if ctl a connect hm:0 s 2>"$T/err.txt"; then fail "double connect accepted"; fi
grep -q "already connected" "$T/err.txt" || fail "unclear error: $(cat "$T/err.txt")"
if ctl a connect lp:1 hm 2>"$T/loop.txt"; then fail "an edge closing a loop was accepted"; fi
grep -q "would close a loop (lp -> hm -> lp)" "$T/loop.txt" || fail "loop not named: $(cat "$T/loop.txt")"
[ "$before" = "$(ctl a list | awk '{print $1, $2}')" ] || fail "graph changed after a refused request"
reap "$BADTG" 60 "the bad requests' generator" || fail "generator failed during the bad requests"
account a "$(cat "$T/bad-tg.out")" min_sent=10000 max_drop_pct=1
kill -0 "$E2D_PID" || fail "e2d died"
# oversized and malformed requests: an error reply each, well within a second
head -c 1000000 /dev/zero | tr '\0' '\377' >"$T/junk1m"; head -c $((8 << 20)) /dev/zero >"$T/zero8m"
for f in junk1m zero8m; do
  t0=$(date +%s%N)
  if ctl a --raw "$T/$f" 2>"$T/raw.txt"; then fail "$f accepted"; fi
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  grep -q "^error: request" "$T/raw.txt" || fail "$f: no error reply: $(cat "$T/raw.txt")"
  [ "$ms" -lt 1000 ] || fail "$f: reply took $ms ms"
  echo "  $f: $(cat "$T/raw.txt") ($ms ms)"
done
ctl a ping >/dev/null || fail "control socket unusable after oversized requests"
ok "refused requests over the socket with traffic flowing ($(acc sent) sent, unaccounted 0): $(cat "$T/err.txt"); $(cat "$T/loop.txt")"

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
v1_tx() { ctl b stats v1 | awk '$1=="v1"{print $6}'; }
wait_v1_tx() { # N: deadline poll until e2d b has sent N packets to the NF
  for _ in $(seq 200); do [ "$(v1_tx)" -ge "$1" ] 2>/dev/null && return 0; sleep 0.025; done
  fail "no traffic through e2d as vhost-user client (tx on v1: $(v1_tx))"
}
start_e2d b "$T/client.conf"
wait_v1_tx 20000
first=$(v1_tx)
t_stop=$(date +%s%N)
stop_e2d
start_e2d b "$T/client.conf"
wait_v1_tx 1
down_ms=$(( ($(date +%s%N) - t_stop) / 1000000 ))
wait_v1_tx 20000
stop_gen "$TG"
reap "$TG" 90 "the NF across the e2d restart" || fail "the NF failed across the e2d restart: $(tail -3 "$T/tg5.log")"
out=$(cat "$T/tg5.out")
tx=$(echo "$out" | val tx_packets); rx=$(echo "$out" | val rx_packets)
second=$(v1_tx); drops2=$(ctl b stats | "$ACCOUNT" sent=0 received=0 | val counted_drops || true)
# the NF's own count: everything the first e2d had sent by the snapshot and everything
# the second sent arrived at the NF (e2d's rings belong to the NF in this mode)
[ "$rx" -ge $((first + second)) ] || fail "the NF received $rx, fewer than the two e2ds sent ($first + $second)"
# what was lost crossed the restart: at most what the NF's rings hold (2 x 1024) plus
# what it sent in the instant e2d was stopping; a bound, not a wish
loss=$((tx - rx)); bound=$((2 * 1024 + 100000 * 50 / 1000))
[ "$loss" -le "$bound" ] || fail "e2d restart lost $loss packets (tx=$tx rx=$rx, e2d down ${down_ms} ms), more than $bound"
ok "e2d restart under a running NF: reconnected after ${down_ms} ms; NF sent $tx, received $rx ($first before, $second after the restart, $drops2 counted drops), $loss lost across the restart (bound $bound)"
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
account c "$out" min_sent=$((RATE / 8)) max_drop_pct=1
ok "memif: $(acc sent) packets sent, $(acc received) received, $(acc counted_drops) counted drops, unaccounted 0"

# --- 6b. memif clients come and go under traffic -----------------------------------------
# DPDK's memif driver unmaps a leaving peer's rings from its interrupt thread with no
# regard for a burst inside them; e2d's relay holds the news until the port's gate is
# shut. Each client exits with traffic still in flight.
memif_client() { # socket role seconds [rate]
  run "$BIN/e2-trafgen" -l $GCORE --no-huge -m 256 --no-pci --no-telemetry --no-shconf --file-prefix "tgm$$" \
    --log-level error --vdev "net_memif0,role=$2,socket=$1,socket-abstract=no,id=0" \
    --vdev "net_memif1,role=$2,socket=$1,socket-abstract=no,id=1" -- --tx 0 --rx 1 \
    --rate "${4:-$RATE}" --duration "$3" --drain 0.2 2>>"$T/tgm.log"
}
sent=0
for i in $(seq 8); do
  ctl c stats reset >/dev/null
  out=$(memif_client "$T/m.sock" client 0.3) || fail "memif client $i: $out"
  kill -0 "$E2D_PID" 2>/dev/null || fail "e2d died when memif client $i left"
  account c "$out" min_sent=1 max_drop_pct=1
  sent=$((sent + $(acc sent)))
done
ok "memif: 8 clients came and went under traffic ($sent packets, each run's books balanced); e2d kept running"
# Peers that misbehave on the control channel: leave before the server's hello (DPDK's
# driver panicked when its hello found the connection gone), after it, after INIT, send
# junk or truncated messages. Then a well-behaved client must still get through.
/usr/bin/python3 - "$T/m.sock" <<'PY' || fail "the memif probe peers failed"
import random, socket, struct, sys
random.seed(7)
for i in range(300):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    k = i % 6
    try:
        s.settimeout(2.0)
        if k >= 1:
            s.recv(256)  # the server's hello
        if k in (2, 3):  # INIT (version 2.0) for id 0, 1 or one nobody has
            s.send(struct.pack('<HHI', 3, 0x0200, random.choice([0, 1, 7])) + bytes(120))
            if k == 3:
                s.recv(256)
        elif k == 4:
            s.send(bytes(random.randrange(256) for _ in range(random.choice([1, 2, 8, 128, 200]))))
        elif k == 5:
            s.send(struct.pack('<H', random.randrange(12)))
    except OSError:
        pass
    s.close()
PY
kill -0 "$E2D_PID" 2>/dev/null || fail "e2d died of a memif peer misbehaving on the control channel"
ctl c stats reset >/dev/null
out=$(memif_client "$T/m.sock" client 0.3) || fail "memif client after the probes: $out"
account c "$out" min_sent=1 max_drop_pct=1
ok "memif: 300 peers left early or sent junk on the control channel; e2d kept running and the next client's books balanced"
err=$(ctl c port add m2 memif socket="$T/m.sock" id=1 2>&1) && fail "a second port took memif id 1"
[[ $err == *"id 1 is already port 'm1'"* ]] || fail "unclear refusal of a taken memif id: $err"

# --- 6c. e2d as the memif client: of a server that starts first, then of its successor ---
memif_server_run() { # n: a 1 s generator serving ms.sock; e2d's client ports must (re)connect
  ctl c stats reset >/dev/null
  memif_client "$T/ms.sock" server 1 $((RATE / 4)) >"$T/tgms$1.out" & MSRV=$!; PIDS+=("$MSRV")
  for _ in $(seq 100); do [ -S "$T/ms.sock" ] && break; sleep 0.05; done
  sleep 0.3 # the server's devices start just after its socket appears
  [ "$1" -gt 1 ] || {
    ctl c port add mc0 memif socket="$T/ms.sock" id=0 role=client >/dev/null
    ctl c port add mc1 memif socket="$T/ms.sock" id=1 role=client >/dev/null
    ctl c module add inc port_in port=mc0 >/dev/null
    ctl c module add outc port_out port=mc1 >/dev/null
    ctl c connect inc outc >/dev/null
  }
  reap "$MSRV" 90 "memif server generator $1" || fail "memif server generator $1: $(tail -3 "$T/tgm.log")"
  # This case is about connecting and dialling again; case 6 bounds memif's loss. The
  # server's receive ring (1024 entries, e2d's to fill) holds 20 ms at this rate, and the
  # generator here runs right after the parallel tests' VMs: fresh-ci saw 6.9 % (full
  # rate) and 7.7 % (this rate) counted drops, with every packet accounted for, and the
  # ASan build with a compiler running beside it 25.1 % (the generator, instrumented too,
  # drains its ring slower than e2d fills it). What must hold is the books: a bound
  # only against a run that moved next to nothing through.
  account c "$(cat "$T/tgms$1.out")" min_sent=$((RATE / 32)) max_drop_pct=50
  kill -0 "$E2D_PID" 2>/dev/null || fail "e2d died when memif server $1 left"
}
memif_server_run 1
first=$(acc sent)
memif_server_run 2
ok "memif client role: $first packets through e2d to a server, then $(acc sent) to the next one (e2d dialled again), unaccounted 0"

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
wait_event() { # WHAT: deadline poll of the event log
  for _ in $(seq 300); do grep -q "$1" "$T/events.txt" && return 0; sleep 0.05; done
  fail "no '$1' event; got: $(cat "$T/events.txt")"
}
# events_under_traffic NAME CONFIG SOCK0 SOCK1 SECONDS TRAFGEN-ARGS...: e2d NAME on CONFIG,
# its events for SECONDS into events.txt (EV), then the generator on its two vhost sockets
# (TGE), writing tgNAME.out
events_under_traffic() {
  local name=$1 conf=$2 s0=$3 s1=$4 secs=$5
  shift 5
  start_e2d "$name" "$conf"
  ctl "$name" events seconds="$secs" >"$T/events.txt" &
  EV=$!; PIDS+=("$EV")
  sleep 1   # a SUB socket connects asynchronously: give it time before the first event
  trafgen "net_virtio_user0,path=$s0" "net_virtio_user1,path=$s1" "$@" >"$T/tg$name.out" 2>>"$T/tg$name.log" &
  TGE=$!; PIDS+=("$TGE")
}
events_under_traffic e "$T/ev.conf" "$T/e0.sock" "$T/e1.sock" 30 --rate 100000 --duration 8
wait_event "link_up v0"; wait_event "link_up v1"
wait_event "overload q"
ctl e sched set cap limit=100000000 >/dev/null   # lift the throttle: the queue drains
wait_event "underload q"
kill "$EV" 2>/dev/null || true
stop_gen "$TGE"
reap "$TGE" 90 "the events case's generator" || fail "generator failed during the events case"
account e "$(cat "$T/tge.out")" min_sent=1 max_drop_pct=90
ok "events: $(awk '{print $2, $3}' "$T/events.txt" | tr '\n' ',' | sed 's/,$//')"
stop_e2d

# --- 9b. an NF that does not keep up: its receive ring fills, and the port overloads ------
# (frames from v0 go back out of v0, whose guest side the generator never reads)
cat >"$T/nf.conf" <<CONF
port add v0 vhost path=$T/n0.sock
port add v1 vhost path=$T/n1.sock
module add in0 port_in port=v0
module add out0 port_out port=v0
connect in0 out0
CONF
events_under_traffic n "$T/nf.conf" "$T/n0.sock" "$T/n1.sock" 30 --rate 50000 --duration 4
wait_event "overload v0"
kill "$EV" 2>/dev/null || true
stop_gen "$TGE"
reap "$TGE" 90 "the full-ring case's generator" || fail "generator failed during the full-ring case"
# what e2d placed in v0's receive ring reached the (slow) NF side, which never reads it:
# those frames count as received
held=$(ctl n stats v0 | awk '$1=="v0"{print $6}')
account n "$(sed "s/^rx_packets=.*/rx_packets=$held/" "$T/tgn.out")" min_sent=1 max_drop_pct=100
ok "a full receive ring behind a port: $(grep 'overload v0' "$T/events.txt" | head -1 | awk '{print $2, $3, $4}')"
stop_e2d

# --- 9c. an NF's load: what a port with a capacity sends to its NF, over that capacity ----
# (LOAD events, said when the level moves by a twentieth; sent_pps is what the port sent,
# smoothed over about a second; band 0, sent_pps < 0.5, once nothing reaches the NF)
cat >"$T/ld.conf" <<CONF
port add v0 vhost path=$T/l0.sock
port add v1 vhost path=$T/l1.sock capacity_kbps=20000
module add in0 port_in port=v0
module add out1 port_out port=v1
connect in0 out1
CONF
events_under_traffic l "$T/ld.conf" "$T/l0.sock" "$T/l1.sock" 60 --rate 10000 --duration 4
# load_event any|last TEST: whether any (or the last) of v1's LOAD events has a sent_pps v
# for which the awk expression TEST holds
load_event() {
  awk -v mode="$1" '$2=="load" && $3=="v1" {
      hit = 0
      for (i = 4; i <= NF; i++) if ($i ~ /^sent_pps=/) { v = substr($i, 10) + 0; hit = ('"$2"') }
      f = mode == "any" ? f || hit : hit
    } END { exit !f }' "$T/events.txt"
}
busy_load() { load_event any 'v > 1000'; }
for _ in $(seq 300); do busy_load && break; sleep 0.05; done
busy_load || fail "no load event of v1 with sent_pps > 1000; got: $(cat "$T/events.txt")"
stop_gen "$TGE"
reap "$TGE" 90 "the load case's generator" || fail "generator failed during the load case"
# (band 0 is said once sent_pps < 0.5, which the printer rounds to one decimal)
quiet_load() { load_event last 'v <= 0.5'; }
for _ in $(seq 600); do quiet_load && break; sleep 0.05; done
quiet_load || fail "no quiet load event of v1 after the traffic; got: $(grep load "$T/events.txt" | tail -3)"
kill "$EV" 2>/dev/null || true
account l "$(cat "$T/tgl.out")" min_sent=1 max_drop_pct=90
ok "load events of a port with a capacity: $(grep -c ' load v1 ' "$T/events.txt") said, the busiest $(awk '$2=="load"{print $4}' "$T/events.txt" | sort -t= -k2 -g | tail -1), the last at no traffic"
stop_e2d

# --- 9d. front-ends come and go while the load monitor samples their rings ----------------
# Every millisecond the monitor reads the rings' levels, beside librte_vhost tearing down
# the device it reads (a front-end that stops cleanly, or is killed): neither may wait for
# the other, and a sample must never read a freed device. e2d keeps answering throughout.
cat >"$T/mon.conf" <<CONF
port add v0 vhost path=$T/m0.sock
port add v1 vhost path=$T/m1.sock
module add in0 port_in port=v0
module add in1 port_in port=v1
module add out0 port_out port=v0
module add out1 port_out port=v1
connect in0 out1
connect in1 out0
CONF
E2D_EXTRA=(--monitor-ms 1)
start_e2d m "$T/mon.conf"
E2D_EXTRA=()
v0_rx() { ctl m stats v0 | awk '$1=="v0"{print $4}'; }
for i in $(seq 8); do
  if [ $((i % 2)) = 0 ]; then
    trafgen "net_virtio_user0,path=$T/m0.sock" "net_virtio_user1,path=$T/m1.sock" --rate 100000 --duration 1 \
      >/dev/null 2>>"$T/tgm.log" || fail "generator $i failed: $(tail -3 "$T/tgm.log")"
  else
    trafgen "net_virtio_user0,path=$T/m0.sock" "net_virtio_user1,path=$T/m1.sock" --rate 100000 --duration 30 \
      >/dev/null 2>>"$T/tgm.log" &
    TGK=$!; PIDS+=("$TGK")
    before=$(v0_rx)
    for _ in $(seq 200); do [ "$(v0_rx)" -gt "$before" ] 2>/dev/null && break; sleep 0.05; done
    kill -KILL "$TGK"; wait "$TGK" 2>/dev/null || true
  fi
  timeout 5 "$BIN/e2ctl-dp" --ctl "$T/m.ctl" stats >/dev/null || fail "e2d stopped answering after front-end $i left"
done
[ "$(v0_rx)" -gt 0 ] || fail "no traffic reached e2d in the attach/detach case"
ok "8 front-ends attached and left (4 killed) under a 1 ms load monitor: e2d answered after each, $(v0_rx) packets in"
stop_e2d

# --- 10. bad configurations are refused with the file, the line and the culprit --------
# refused_config NAME CONFIG-TEXT EXPECTED-TEXT: e2d must not start, and must say so
refused_config() {
  printf "$2" >"$T/$1.conf"
  if "$BIN/e2d" --ctl "$T/$1.ctl" --config "$T/$1.conf" --no-huge --file-prefix "e2dt$$-$1" \
       --log-level error >"$T/$1.log" 2>&1; then fail "configuration $1 accepted"; fi
  grep -qF "$3" "$T/$1.log" || fail "unclear error: $(cat "$T/$1.log")"
  [ ! -e "$T/$1.ctl" ] || fail "socket left by a refused start"
  ok "configuration refused: $(grep "$1.conf" "$T/$1.log" | head -1)"
}
refused_config bad 'port add p0 pmd devargs=net_null0\nmodule add x nosuch\n' \
  "bad.conf:2: unknown module class 'nosuch'"
# a graph with a loop: the loop named (the negative corpus has more of these)
refused_config loop 'module add a flowhash\nmodule add b flowhash\nconnect a b\nconnect b a\n' \
  "loop.conf:4: connect b:0 a would close a loop (b -> a -> b)"
echo "all e2d process tests passed"
