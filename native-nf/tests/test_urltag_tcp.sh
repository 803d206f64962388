#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end: curl -> nginx over real TCP between two network namespaces through e2d and
# e2nf-httplog, e2d steering on the url attribute the NF sets (the seed's Fig. 3.7, the
# Logger tagging the URL instead of a URL classifier behind it):
#
#   ns A (curl, 10.9.3.1) == e2d == e2nf-httplog == e2d: nsh_match attr=url
#        value=10.9.3.2/steered.html -> "steered" | default -> "plain" == ns B (nginx, 10.9.3.2)
#
# "steered" and "plain" are pass-through modules (capture, not capturing) in front of
# the same port: both lead to nginx, so every connection works whichever way it goes,
# and e2d's per-module counts show which way each went. Checks: both pages arrive intact;
# the log has one line per request with the URL curl asked for; the connection to
# /steered.html took "steered" from its request on, the other one never did; every frame
# accounted for at the NF and at e2d.
set -euo pipefail
BUILD=${1:?usage: test_urltag_tcp.sh BUILD_DIR}
E2D=$BUILD/vswitch/e2d CTL=$BUILD/vswitch/e2ctl-dp NFS=$BUILD/native-nf
. "$(dirname "$0")/netns-lib.sh"
nn_need_root ip ethtool nginx curl
nn_need_hugepages 64
nn_begin e2nf-urltag
NA=e2nfua-$$ NB=e2nfub-$$ EA=e2nua$$ EB=e2nub$$
nn_ns "$NA" va "$EA" 10.9.3.1
nn_ns "$NB" vb "$EB" 10.9.3.2

mkdir -p "$T/www"
head -c 20000 /dev/urandom | base64 >"$T/www/steered.html"
head -c 30000 /dev/urandom | base64 >"$T/www/other.html"
cat >"$T/nginx.conf" <<NGINX
user root;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events { worker_connections 64; }
http {
  access_log $T/nginx-access.log;
  client_body_temp_path $T/tmp; proxy_temp_path $T/tmp; fastcgi_temp_path $T/tmp;
  uwsgi_temp_path $T/tmp; scgi_temp_path $T/tmp;
  server { listen 10.9.3.2:80; root $T/www; }
}
NGINX
mkdir -p "$T/tmp"

cat >"$T/e2d.conf" <<CONF
port add A pmd devargs=net_af_packet0,iface=$EA
port add B pmd devargs=net_af_packet1,iface=$EB
port add hl0 nf path=$T/hl0.sock native=1
port add hl1 nf path=$T/hl1.sock native=1
module add inA port_in port=A
module add outA port_out port=A
module add inB port_in port=B
module add outB port_out port=B
module add to_hl0 port_out port=hl0
module add from_hl0 port_in port=hl0
module add to_hl1 port_out port=hl1
module add from_hl1 port_in port=hl1
module add byurl nsh_match default=0
module cmd byurl add attr=url value=10.9.3.2/steered.html gate=1
module add plain capture
module add steered capture
connect inA to_hl0
connect from_hl1 byurl
connect byurl:0 plain
connect byurl:1 steered
connect plain outB
connect steered outB
connect inB to_hl1
connect from_hl0 outA
CONF
nn_start_e2d

"$NFS/e2nf-httplog" --name httplog --log "$T/http.log" --port "$T/hl0.sock" --port "$T/hl1.sock" >"$T/httplog.out" 2>&1 &
HL_PID=$!
PIDS+=("$HL_PID")
stats() { "$CTL" --ctl "$T/e2d.ctl" stats; }
for _ in $(seq 200); do
  [ "$(stats | awk '$2=="nf" && $3=="up"' | wc -l)" = 2 ] && break
  kill -0 $HL_PID 2>/dev/null || fail "e2nf-httplog exited at start"
  sleep 0.05
done
[ "$(stats | awk '$2=="nf" && $3=="up"' | wc -l)" = 2 ] || fail "e2nf-httplog did not attach: $(stats)"
ok "e2nf-httplog attached to e2d's two nf ports"

ip netns exec "$NB" nginx -c "$T/nginx.conf" -g 'daemon off;' >"$T/nginx.out" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
for _ in $(seq 100); do ip netns exec "$NB" bash -c 'exec 3<>/dev/tcp/10.9.3.2/80' 2>/dev/null && break; sleep 0.1; done
# that probe connected inside B, not through e2d: its log line is B's own, not the NF's

module_packets() { stats | awk -v m="$1" '$1==m {print $4}'; }
curl_get() { # PAGE: fetches it from A, compares with nginx's file
  ip netns exec "$NA" curl -sS --max-time 30 -o "$T/got-$1" "http://10.9.3.2/$1" || fail "curl of /$1 failed"
  cmp -s "$T/got-$1" "$T/www/$1" || fail "/$1 arrived damaged"
  # the connection's last frames (the final ACK) may still be on their way when curl
  # returns: wait until e2d's count of frames towards nginx stops moving
  local last=-1 now
  for _ in $(seq 100); do
    now=$(module_packets byurl)
    [ "$now" = "$last" ] && break
    last=$now; sleep 0.3
  done
}
curl_get other.html
steered0=$(module_packets steered) plain0=$(module_packets plain)
[ "$steered0" = 0 ] && [ "$plain0" -ge 5 ] || fail "the /other.html connection: steered $steered0, plain $plain0 frames"
ok "GET /other.html through e2d and httplog intact; its $plain0 frames took the default way"
curl_get steered.html
steered1=$(module_packets steered) plain1=$(module_packets plain)
# the handshake comes before the request, so it goes the default way; from the request
# on every frame to nginx carries url=10.9.3.2/steered.html and goes the steered way
# (SYN and ACK; a few more if a busy machine made the client retransmit its SYN)
[ "$steered1" -ge 3 ] && [ $((plain1 - plain0)) -ge 2 ] && [ $((plain1 - plain0)) -le 6 ] ||
  fail "the /steered.html connection: steered $steered1, plain $((plain1 - plain0)) frames"
ok "GET /steered.html intact: its handshake ($((plain1 - plain0)) frames) the default way, then $steered1 frames steered on url"
curl_get other.html
[ "$(module_packets steered)" = "$steered1" ] || fail "a second /other.html connection was steered"
ok "a second GET /other.html: not steered"

stats >"$T/e2d.stats"
kill -TERM $HL_PID
wait $HL_PID || fail "e2nf-httplog exited with $? on SIGTERM"
fields=$(awk '{print $5, $6, $7}' "$T/http.log")
want=$'GET 10.9.3.2 /other.html\nGET 10.9.3.2 /steered.html\nGET 10.9.3.2 /other.html'
[ "$fields" = "$want" ] || fail "the log says: $fields"
awk '{split($2, s, ":"); if (s[1] != "10.9.3.1" || $3 != ">" || $4 != "10.9.3.2:80") exit 1}' "$T/http.log" ||
  fail "the log's addresses: $(cat "$T/http.log")"
ok "the log: one line per request, the URLs curl asked for"
v() { sed -n "s/^$1=//p" "$T/httplog.out"; }
rx=$(v rx_packets) tx=$(v tx_packets) dr=$(v drops) full=$(v tx_full)
[ "$rx" = $((tx + dr + full)) ] && [ "$full" = 0 ] && [ "$dr" = 0 ] || fail "httplog: $rx in, $tx out, $dr dropped, $full refused"
[ "$(v requests)" = 3 ] && [ "$(v split_requests)" = 0 ] && [ "$(v untaggable)" = 0 ] || fail "httplog's counters"
[ "$(v tagged_packets)" -gt "$steered1" ] || fail "httplog tagged $(v tagged_packets) frames, fewer than e2d steered"
awk '$2=="nf" || $2=="pmd" {if ($8 != 0 || $9 != 0) bad = bad " " $1 ":" $8 "/" $9} END {if (bad) {print bad; exit 1}}' "$T/e2d.stats" ||
  fail "e2d dropped frames on its ports"
ok "every frame accounted for: httplog $rx in = $tx out, $(v tagged_packets) tagged (both ways); no port of e2d dropped one"

kill -TERM $E2D_PID; wait $E2D_PID || fail "e2d exited with $? on SIGTERM"
PIDS=("$NGINX_PID")
exit 0
