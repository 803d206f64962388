#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end: HTTP over a real ESP tunnel between two e2nf-vpn processes, and a UDP flow
# limited by e2nf-meter, all through e2d between two network namespaces:
#
#   ns A (10.9.1.1) == e2d == e2nf-vpn A (0 plain, 1 tunnel) == e2d == veth C<->D ==
#       e2d == e2nf-vpn B (1 tunnel, 0 plain) == e2d == e2nf-meter == e2d == ns B (10.9.1.2)
#
# The tunnel leaves e2d on one end of a veth pair and comes back in at the other, where
# tcpdump records it. Checks: curl in A fetches 1 MiB from nginx in B intact (SHA-256);
# the capture between the two VPNs holds ESP from 192.0.2.1/.2 only, and neither the
# served file's marker nor any TCP or UDP header of the inner flows; every frame is
# accounted for at each NF; an iperf3 UDP flow of 20 Mbit/s comes out at the meter's
# 4 Mbit/s (plus at most its buckets) and the meter counts the rest red.
set -euo pipefail
BUILD=${1:?usage: test_vpn_tcp.sh BUILD_DIR}
E2D=$BUILD/vswitch/e2d CTL=$BUILD/vswitch/e2ctl-dp NFS=$BUILD/native-nf
PY=/usr/bin/python3
. "$(dirname "$0")/netns-lib.sh"
nn_need_root ip ethtool nginx curl tcpdump iperf3
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
nn_need_hugepages 64
nn_begin e2nf-vpn
NA=e2nfva-$$ NB=e2nfvb-$$ EA=e2nva$$ EB=e2nvb$$ EC=e2nvc$$ ED=e2nvd$$
# MTU 1400: room for the tunnel's 57 bytes of outer header, IV, trailer and ICV
nn_ns "$NA" va "$EA" 10.9.1.1 1400
nn_ns "$NB" vb "$EB" 10.9.1.2 1400
nn_link "$EC" "$ED"

umask 077
echo 00112233445566778899aabbccddeeff0a0b0c0d >"$T/ab.key"
echo ffeeddccbbaa99887766554433221100ffeeddccbbaa998877665544332211000e0f1011 >"$T/ba.key"
umask 022
cat >"$T/a.conf" <<EOT
sa out spi=0x1001 peer=192.0.2.2 local=192.0.2.1 dst=10.9.1.2/32 key=@ab.key
sa in  spi=0x2001 peer=192.0.2.2 local=192.0.2.1 src=10.9.1.2/32 key=@ba.key
EOT
cat >"$T/b.conf" <<EOT
sa in  spi=0x1001 peer=192.0.2.1 local=192.0.2.2 src=10.9.1.1/32 window=256 key=@ab.key
sa out spi=0x2001 peer=192.0.2.1 local=192.0.2.2 dst=10.9.1.1/32 key=@ba.key
EOT
cat >"$T/meter.conf" <<EOT
class udp proto=udp dport=5201 meter=srtcm cir=4M cbs=32k ebs=32k yellow=pass red=drop
EOT
"$NFS/e2nf-vpn" --config "$T/a.conf" --check >/dev/null || fail "vpn A's configuration"
"$NFS/e2nf-meter" --config "$T/meter.conf" --check >/dev/null || fail "the meter's configuration"

cat >"$T/e2d.conf" <<CONF
port add A pmd devargs=net_af_packet0,iface=$EA
port add B pmd devargs=net_af_packet1,iface=$EB
port add C pmd devargs=net_af_packet2,iface=$EC
port add D pmd devargs=net_af_packet3,iface=$ED
port add va0 nf path=$T/va0.sock
port add va1 nf path=$T/va1.sock
port add vb0 nf path=$T/vb0.sock
port add vb1 nf path=$T/vb1.sock
port add m0 nf path=$T/m0.sock
port add m1 nf path=$T/m1.sock
CONF
for p in A B C D va0 va1 vb0 vb1 m0 m1; do
  echo "module add in_$p port_in port=$p"; echo "module add out_$p port_out port=$p"
done >>"$T/e2d.conf"
cat >>"$T/e2d.conf" <<CONF
connect in_A out_va0
connect in_va0 out_A
connect in_va1 out_C
connect in_C out_va1
connect in_D out_vb1
connect in_vb1 out_D
connect in_vb0 out_m0
connect in_m0 out_vb0
connect in_m1 out_B
connect in_B out_m1
CONF
nn_start_e2d

"$NFS/e2nf-vpn" --config "$T/a.conf" --name vpna --port "$T/va0.sock" --port "$T/va1.sock" >"$T/vpna.out" 2>&1 &
VA=$!
PIDS+=("$VA")
"$NFS/e2nf-vpn" --config "$T/b.conf" --name vpnb --port "$T/vb0.sock" --port "$T/vb1.sock" >"$T/vpnb.out" 2>&1 &
VB=$!
PIDS+=("$VB")
"$NFS/e2nf-meter" --config "$T/meter.conf" --name meter --port "$T/m0.sock" --port "$T/m1.sock" >"$T/meter.out" 2>&1 &
MT=$!
PIDS+=("$MT")
stats() { "$CTL" --ctl "$T/e2d.ctl" stats; }
for _ in $(seq 200); do
  [ "$(stats | awk '$2=="nf" && $3=="up"' | wc -l)" = 6 ] && break
  for p in $VA $VB $MT; do kill -0 $p 2>/dev/null || fail "an NF exited at start"; done
  sleep 0.05
done
[ "$(stats | awk '$2=="nf" && $3=="up"' | wc -l)" = 6 ] || fail "the NFs did not attach: $(stats)"
ok "two e2nf-vpn and one e2nf-meter attached to e2d's six nf ports"

# each end of the pair records what arrives on it (e2d's af_packet sends bypass the taps)
TDS=()
for e in "$EC" "$ED"; do
  tcpdump -i "$e" -Q in -U -s 0 -w "$T/tunnel-$e.pcap" >"$T/tcpdump-$e.log" 2>&1 &
  TDS+=($!)
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$T/tcpdump-$e.log" && break; sleep 0.05; done
done

# the served file: random bytes with a marker that must never be seen between the VPNs
"$PY" - "$T/www/file.bin" <<'PYEOF'
import os, sys
os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
with open(sys.argv[1], "wb") as f:
    for _ in range(256):
        f.write(os.urandom(4000) + b"E2-PLAINTEXT-MARKER-96")
PYEOF
chmod 755 "$T" "$T/www"; chmod 644 "$T/www/file.bin"
cat >"$T/nginx.conf" <<NG
daemon off;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $T/nb; proxy_temp_path $T/np; fastcgi_temp_path $T/nf; uwsgi_temp_path $T/nu; scgi_temp_path $T/ns;
  server { listen 10.9.1.2:8080; root $T/www; }
}
NG
ip netns exec "$NB" "$NGINX" -c "$T/nginx.conf" >"$T/nginx.out" 2>&1 &
NGX=$!
PIDS+=("$NGX")
for _ in $(seq 100); do ip netns exec "$NB" ss -ltn 2>/dev/null | grep -q "10.9.1.2:8080" && break; sleep 0.05; done
ip netns exec "$NA" curl -sS --max-time 60 -o "$T/got.bin" http://10.9.1.2:8080/file.bin 2>"$T/curl.out" ||
  fail "curl through the tunnel: $(cat "$T/curl.out")"
[ "$(sha256sum <"$T/got.bin")" = "$(sha256sum <"$T/www/file.bin")" ] || fail "the file came through damaged"
ok "curl in A fetched 1 MiB from nginx in B through the ESP tunnel, intact"

# the meter: iperf3's UDP flow at 20 Mbit/s limited to 4 Mbit/s
ip netns exec "$NB" iperf3 -s -1 -J -B 10.9.1.2 >"$T/iperf-server.json" 2>"$T/iperf-server.err" &
IPS=$!
PIDS+=("$IPS")
for _ in $(seq 100); do ip netns exec "$NB" ss -ltn 2>/dev/null | grep -q "10.9.1.2:5201" && break; sleep 0.05; done
ip netns exec "$NA" timeout 60 iperf3 -c 10.9.1.2 -u -b 20M -l 1200 -t 4 -J >"$T/iperf-client.json" 2>&1 ||
  fail "iperf3 UDP: $(tail -5 "$T/iperf-client.json")"
wait $IPS || true

kill -TERM "${TDS[@]}"; wait "${TDS[@]}" 2>/dev/null || true
stats >"$T/e2d.stats"
kill -TERM $VA $VB $MT
for p in $VA $VB $MT; do wait $p || fail "an NF exited with $? on SIGTERM"; done
v() { sed -n "s/^$2=//p" "$T/$1.out"; }

"$PY" - "$T/tunnel-$EC.pcap" "$T/tunnel-$ED.pcap" <<'PYEOF' || fail "the capture between the VPNs"
import sys
from scapy.all import IP, TCP, UDP, rdpcap
pkts = list(rdpcap(sys.argv[1])) + list(rdpcap(sys.argv[2]))
raw = open(sys.argv[1], "rb").read() + open(sys.argv[2], "rb").read()
esp = [p for p in pkts if IP in p and p[IP].proto == 50]
other_ip = [p for p in pkts if IP in p and p[IP].proto != 50]
ends = {(p[IP].src, p[IP].dst) for p in esp}
print("capture: %d frames, %d ESP, %d other IPv4, ends %s" % (len(pkts), len(esp), len(other_ip), sorted(ends)))
assert len(esp) > 700, "too little ESP"
assert len(ends) == 2, "not both directions"
assert not other_ip, "IPv4 other than ESP between the VPNs"
assert ends <= {("192.0.2.1", "192.0.2.2"), ("192.0.2.2", "192.0.2.1")}, ends
assert not any(TCP in p or UDP in p for p in pkts), "a TCP or UDP header in the clear"
assert b"E2-PLAINTEXT-MARKER" not in raw, "plaintext between the VPNs"
PYEOF
ok "between the VPNs: ESP only, from 192.0.2.1 and 192.0.2.2, no inner header, no byte of the served file in the clear"

for nf in vpna vpnb meter; do
  rx=$(v $nf rx_packets) tx=$(v $nf tx_packets) dr=$(v $nf drops) full=$(v $nf tx_full)
  [ "$rx" -gt 700 ] || fail "$nf saw only $rx frames"
  [ "$rx" = $((tx + dr + full)) ] || fail "$nf: $rx in, $tx out, $dr dropped, $full refused by e2d"
done
for nf in vpna vpnb; do
  [ "$(v $nf auth_failures)" = 0 ] && [ "$(v $nf replays)" = 0 ] && [ "$(v $nf drops)" = 0 ] ||
    fail "$nf dropped frames of an honest tunnel: $(grep -E 'auth|replay|drops|malformed' "$T/$nf.out" | tr '\n' ' ')"
done
[ "$(v vpna encrypted)" = "$(v vpnb decrypted)" ] && [ "$(v vpnb encrypted)" = "$(v vpna decrypted)" ] ||
  fail "what one VPN encrypted the other did not all decrypt"
[ "$(v vpna sa_out_4097_packets)" = "$(v vpna encrypted)" ] && [ "$(v vpnb sa_in_4097_seq)" = "$(v vpna sa_out_4097_seq)" ] ||
  fail "per-SA counters disagree"
ok "every frame accounted for: vpn A $(v vpna encrypted) encrypted = vpn B $(v vpnb decrypted) decrypted; B $(v vpnb encrypted) = A $(v vpna decrypted); no drops"

"$PY" - "$T/iperf-server.json" "$(v meter class_udp_red_packets)" <<'PYEOF' || fail "the meter's limit"
import json, sys
j = json.load(open(sys.argv[1]))
s = j["end"]["sum_received"]
secs, got = s["seconds"], s["bytes"]
rate = got * 8 / secs
red = int(sys.argv[2])
# 4 Mbit/s plus what the two 32 KiB buckets let through at once, with a margin for the
# meter's clock starting before the server's
limit = 4e6 * 1.25 + 2 * 32768 * 8 / secs
print("iperf3 server: %d bytes in %.2f s = %.2f Mbit/s (limit %.2f), meter red %d" % (got, secs, rate / 1e6, limit / 1e6, red))
assert red > 0, "the meter never saw the flow above its rate"
assert rate <= limit, "more than the meter's rate got through"
assert rate >= 4e6 * 0.5, "far below the meter's rate: the flow was not limited by the meter alone"
PYEOF
ok "iperf3 UDP at 20 Mbit/s left the meter at about its 4 Mbit/s; green $(v meter class_udp_green_packets), yellow $(v meter class_udp_yellow_packets), red $(v meter class_udp_red_packets) (dropped)"

awk '$2=="nf" || $2=="pmd" {if ($8 != 0 || $9 != 0) bad = bad " " $1 ":" $8 "/" $9} END {if (bad) {print bad; exit 1}}' "$T/e2d.stats" ||
  fail "e2d dropped frames on its ports"
ok "at e2d: no port dropped a frame"
kill -TERM $E2D_PID; wait $E2D_PID || fail "e2d exited with $? on SIGTERM"
PIDS=()
[ -n "$NGX" ] && PIDS=("$NGX")
exit 0
