#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end: real TCP between two network namespaces through e2d, e2nf-reasm and e2nf-ids
# (trusting e2nf-reasm's stream attribute) as processes on zero-copy nf ports:
#
#   ns A (10.9.2.1) == e2d == e2nf-reasm == e2d == e2nf-ids == e2d == ns B (10.9.2.2)
#
# in both directions: frames from B, too, go through e2nf-reasm (its port 1 in, port 0
# out) before e2nf-ids (port 1 in, port 0 out), so that the IDS gets both directions of a
# flow as ordered chunks.
# B runs Python's HTTP server. Checks: a 2 MiB file fetched with curl arrives intact and
# raises nothing; a request whose keyword is sent in three TCP segments is answered and
# alerted once; a request carrying a drop rule's keyword (split too) gets no answer and its
# flow is dropped (TCP working at all says e2d stripped NSH towards the namespaces); every frame is
# accounted for at both NFs; the IDS reassembled nothing itself.
set -euo pipefail
BUILD=${1:?usage: test_stream_tcp.sh BUILD_DIR}
E2D=$BUILD/vswitch/e2d CTL=$BUILD/vswitch/e2ctl-dp NFS=$BUILD/native-nf
PY=/usr/bin/python3
. "$(dirname "$0")/netns-lib.sh"
nn_need_root ip ethtool curl
[ -x "$E2D" ] || { echo "skip: e2d was not built"; exit 77; }
nn_need_hugepages 64
nn_begin e2nf-stream
NA=e2nfsa-$$ NB=e2nfsb-$$ EA=e2nsa$$ EB=e2nsb$$
nn_ns "$NA" va "$EA" 10.9.2.1
nn_ns "$NB" vb "$EB" 10.9.2.2

cat >"$T/ids.rules" <<'RULES'
alert tcp any any -> any 8080 (msg:"evil keyword"; content:"EVILKEYWORD"; flow:to_server; sid:1;)
drop tcp any any -> any 8080 (msg:"forbidden"; content:"forbidden-thing"; nocase; flow:to_server; sid:2;)
alert tcp any 8080 -> any any (msg:"never in a reply"; content:"|00 ff 00 ff|NEVER"; flow:to_client; sid:3;)
RULES
cat >"$T/e2d.conf" <<CONF
port add A pmd devargs=net_af_packet0,iface=$EA
port add B pmd devargs=net_af_packet1,iface=$EB
port add ra nf path=$T/ra.sock native=1
port add rb nf path=$T/rb.sock native=1
port add ia nf path=$T/ia.sock native=1
port add ib nf path=$T/ib.sock native=1
module add inA port_in port=A
module add outA port_out port=A
module add inB port_in port=B
module add outB port_out port=B
module add in_ra port_in port=ra
module add out_ra port_out port=ra
module add in_rb port_in port=rb
module add out_rb port_out port=rb
module add in_ia port_in port=ia
module add out_ia port_out port=ia
module add in_ib port_in port=ib
module add out_ib port_out port=ib
connect inA out_ra
connect in_rb out_ia
connect in_ib outB
connect inB out_rb
connect in_ra out_ib
connect in_ia outA
CONF
nn_start_e2d

"$NFS/e2nf-reasm" --name reasm --port "$T/ra.sock" --port "$T/rb.sock" >"$T/reasm.out" 2>"$T/reasm.err" &
REASM_PID=$!
PIDS+=("$REASM_PID")
"$NFS/e2nf-ids" --rules "$T/ids.rules" --name ids --port "$T/ia.sock" --port "$T/ib.sock" >"$T/ids.out" 2>"$T/ids.err" &
IDS_PID=$!
PIDS+=("$IDS_PID")
stats() { "$CTL" --ctl "$T/e2d.ctl" stats; }
for _ in $(seq 200); do
  [ "$(stats | awk '$2=="nf" && $3=="up"' | wc -l)" = 4 ] && break
  for p in $REASM_PID $IDS_PID; do kill -0 $p 2>/dev/null || fail "an NF exited at start"; done
  sleep 0.05
done
[ "$(stats | awk '$2=="nf" && $3=="up"' | wc -l)" = 4 ] || fail "the NFs did not attach: $(stats)"
ok "e2nf-reasm and e2nf-ids attached to e2d's four nf ports"

mkdir "$T/www"
head -c $((2 << 20)) /dev/urandom >"$T/www/clean.bin"
echo "hello" >"$T/www/index.html"
(cd "$T/www" && exec ip netns exec "$NB" "$PY" -m http.server 8080 --bind 10.9.2.2) >"$T/http.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do ip netns exec "$NB" "$PY" -c "import socket; socket.create_connection(('10.9.2.2', 8080), 1)" 2>/dev/null && break; sleep 0.1; done

# 2 MiB, clean
ip netns exec "$NA" curl -sS --max-time 60 -o "$T/got.bin" http://10.9.2.2:8080/clean.bin 2>"$T/curl.err" ||
  fail "curl of a clean file failed: $(cat "$T/curl.err")"
cmp -s "$T/got.bin" "$T/www/clean.bin" || fail "the clean file arrived damaged"
ok "2 MiB over HTTP through e2nf-reasm and e2nf-ids, intact"

# a request in three segments (TCP_NODELAY, pauses): the keyword spans two of them
cat >"$T/split.py" <<'PYEOF'
import socket, sys, time
c = socket.create_connection(("10.9.2.2", 8080), timeout=float(sys.argv[2]))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
word = sys.argv[1].encode()
half = len(word) // 2
for piece in (b"GET /index.html?q=" + word[:half], word[half:] + b" HTTP/1.1\r\n", b"Host: b\r\nConnection: close\r\n\r\n"):
    c.sendall(piece)
    time.sleep(0.2)
try:
    reply = c.recv(4096)
except socket.timeout:
    reply = b""
print("answered" if reply.startswith(b"HTTP/1.0 200") else "no answer")
PYEOF
r=$(ip netns exec "$NA" "$PY" "$T/split.py" EVILKEYWORD 20 2>&1) || fail "the split request failed: $r"
[ "$r" = answered ] || fail "a request with an alert rule's keyword was not answered: $r"
ok "a request with EVILKEYWORD split over segments is answered (alert rule)"
r=$(ip netns exec "$NA" "$PY" "$T/split.py" Forbidden-Thing 5 2>&1) || fail "the second split request failed: $r"
[ "$r" = "no answer" ] || fail "a request with a drop rule's keyword was answered: $r"
ok "a request with forbidden-thing split over segments gets no answer (drop rule)"

stats >"$T/e2d.stats"
kill -TERM $REASM_PID $IDS_PID
for p in $REASM_PID $IDS_PID; do wait $p || fail "an NF exited with $? on SIGTERM"; done
v() { sed -n "s/^$2=//p" "$T/$1.out"; }
[ "$(v ids alerts_sid_1)" = 1 ] || fail "sid 1 alerted $(v ids alerts_sid_1) times, not once"
[ "$(v ids alerts_sid_2)" = 1 ] && [ "$(v ids flows_dropped)" = 1 ] && [ "$(v ids dropped_frames)" -ge 1 ] ||
  fail "the drop rule: $(v ids alerts_sid_2) alerts, $(v ids flows_dropped) flows dropped"
[ "$(v ids alerts_sid_3)" = 0 ] || fail "sid 3 alerted"
grep -q 'alert sid=1 msg="evil keyword" 10.9.2.1:[0-9]* -> 10.9.2.2:8080' "$T/ids.err" || fail "no alert line for sid 1"
ok "alerts: sid 1 once, sid 2 once with its flow dropped ($(v ids dropped_frames) frames), sid 3 never"
[ "$(v ids own_frames)" = 0 ] && [ "$(v ids trusted_frames)" -gt 1000 ] && [ "$(v ids bare_acks)" = "$(v reasm bare_acks)" ] ||
  fail "the IDS reassembled by itself: $(v ids own_frames) own, $(v ids trusted_frames) trusted frames"
[ "$(v reasm flows)" -ge 3 ] && [ "$(v reasm conflicts)" = 0 ] || fail "reasm: $(v reasm flows) flows, $(v reasm conflicts) conflicts"
for nf in reasm ids; do
  rx=$(v $nf rx_packets) tx=$(v $nf tx_packets) dr=$(v $nf drops) full=$(v $nf tx_full)
  [ "$rx" -gt 1000 ] || fail "$nf saw only $rx frames"
  [ "$rx" = $((tx + dr + full)) ] || fail "$nf: $rx in, $tx out, $dr dropped, $full refused by e2d"
done
ok "the IDS trusted e2nf-reasm for all $(v ids trusted_frames) TCP frames but $(v ids bare_acks) bare ACKs; every frame accounted for (reasm $(v reasm rx_packets) = $(v reasm tx_packets) + $(v reasm drops), ids $(v ids rx_packets) = $(v ids tx_packets) + $(v ids drops))"

kill -TERM $E2D_PID; wait $E2D_PID || fail "e2d exited with $? on SIGTERM"
# e2d is gone (and reaped): the cleanup stops the rest, the HTTP server among them
keep=(); for p in "${PIDS[@]}"; do [ "$p" = "$E2D_PID" ] || keep+=("$p"); done; PIDS=("${keep[@]}")
exit 0
