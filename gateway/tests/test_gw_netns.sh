#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# embark-gw end to end, two gateways back to back:
#   client ns (curl, 10.9.0.1) -- gw A (encrypt) == cloud ns (bridge, tcpdump) == gw B (decrypt) -- server ns (nginx, 10.9.0.2)
# Every gateway port is a DPDK tap moved into its namespace; both gateways run with
# --content (web-cache content segments). Checks: pages load byte for byte, the answers
# to GETs crossing the cloud as content segments that gw A opens, every one; the cloud capture holds only Embark IPv6 frames, no enterprise address and none of
# the pages' or requests' bytes; gw A's extension channel carries the encrypted URI and a
# KeywordMatch hit for a keyword in a request; damaged frames injected on the cloud side
# are dropped and counted by gw B; a rule update (prepare on both, activate on both) under
# a running download: the download finishes under the epoch it started in while new flows
# use the new one, per-epoch counters add up, nothing is lost; a malformed rule file and a
# rule update for another key are refused with nothing changed.
# Needs root, ip, tcpdump, nginx, curl, python3 (exit 77 = skipped otherwise).
set -euo pipefail
BIN=${1:?usage: test_gw_netns.sh BUILD/gateway}
HERE=$(cd "$(dirname "$0")" && pwd)
for c in ip tcpdump nginx curl python3; do
  command -v "$c" >/dev/null || { echo "skip: needs $c"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "skip: needs /dev/net/tun"; exit 77; }
T=$(mktemp -d /tmp/embark-gw.XXXXXX)
S=$$
NE=egE$S NS=egS$S NC=egC$S
AE=aE$S AC=aC$S BE=bE$S BC=bC$S
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  for n in "$NE" "$NS" "$NC"; do ip netns del "$n" 2>/dev/null || true; done
  for l in "$AE" "$AC" "$BE" "$BC"; do ip link del "$l" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for g in a b; do echo "--- gw $g: $(ctl $g status 2>&1 | grep -v ' 0$' | tr '\n' ' ')"; done
  for f in "$T"/*.log "$T"/nginx.err; do [ -f "$f" ] && { echo "--- $f"; tail -30 "$f"; }; done
  exit 1
}
ok() { echo "ok - $*"; }
# waits up to $1 seconds for the command after it to succeed
# up to SECONDS of wall time, however long each try takes
wait_for() { local end=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do ((SECONDS < end)) || return 1; sleep 0.1; done; }
ctl() { local gw=$1; shift; "$BIN/embark-gwctl" --ctl "ipc://$T/$gw.ctl" "$@"; }
counter() { ctl "$1" status | awk -v k="$2" '$1 == k { print $2 }'; }

"$BIN/embark-keygen" "$T/k" >/dev/null
"$BIN/embark-keygen" "$T/other.k" >/dev/null
cat >"$T/rules.txt" <<'R'
deny id=ssh proto=tcp dst=10.9.0.0/24 dport=22
accept id=web proto=tcp dst=10.9.0.2 dport=8080
R
# The telnet rule's address range gives epoch 2 an address map of its own: with the same
# address endpoints both epochs would share it, and only the 8-bit port prefixes would tell
# the epochs apart, so the cross-epoch check below would find nothing one run in ~256.
cat >"$T/rules2.txt" <<'R'
deny id=ssh proto=tcp dst=10.9.0.0/24 dport=22
deny id=telnet proto=tcp dst=10.9.0.128/25 dport=23
accept id=web proto=tcp dst=10.9.0.2 dport=8000-8100
R
printf 'accept id=x src=1.2.3.4/24\n' >"$T/bad-rules.txt"
printf 'confidential-project-zebra\n' >"$T/kw.txt"
"$BIN/embark-rules" keywords --key "$T/k" --in "$T/kw.txt" --out "$T/kw.enc"

for n in "$NE" "$NS" "$NC"; do
  ip netns add "$n" || { echo "skip: cannot create network namespaces"; exit 77; }
  ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$n" link set lo up
done

start_gw() { # name ent-iface cloud-iface
  "$BIN/embark-gw" --key "$T/k" --rules "$T/rules.txt" --enterprise "net_tap${4},iface=$2" \
    --cloud "net_tap$(( $4 + 1 )),iface=$3" --ctl "ipc://$T/$1.ctl" --ext "ipc://$T/$1.ext" \
    --file-prefix "embark-$1-$S" --drain 60 --content >"$T/$1.log" 2>&1 &
  PIDS+=($!)
  GW_PIDS+=($!)
}
GW_PIDS=()
start_gw a "$AE" "$AC" 0
start_gw b "$BE" "$BC" 2
wait_for 60 ctl a status || fail "gateway a did not come up"
wait_for 60 ctl b status || fail "gateway b did not come up"
ok "two gateways up"

ip link set "$AE" netns "$NE"; ip link set "$BE" netns "$NS"
ip link set "$AC" netns "$NC"; ip link set "$BC" netns "$NC"
# a DPDK tap carries frames of 1500 bytes at most: the enterprise MTU leaves room for
# what encryption adds (68 bytes here, 116 for a content segment)
ip -n "$NE" addr add 10.9.0.1/24 dev "$AE"; ip -n "$NE" link set "$AE" mtu 1380 up
ip -n "$NS" addr add 10.9.0.2/24 dev "$BE"; ip -n "$NS" link set "$BE" mtu 1380 up
ip -n "$NC" link add br0 type bridge
for l in "$AC" "$BC"; do ip -n "$NC" link set "$l" master br0 up; done
ip -n "$NC" link set br0 up
MAC_AE=$(ip netns exec "$NE" cat /sys/class/net/"$AE"/address)
MAC_BE=$(ip netns exec "$NS" cat /sys/class/net/"$BE"/address)
# the gateways forward no ARP (it would carry enterprise addresses to the cloud)
ip -n "$NE" neigh add 10.9.0.2 lladdr "$MAC_BE" dev "$AE" nud permanent
ip -n "$NS" neigh add 10.9.0.1 lladdr "$MAC_AE" dev "$BE" nud permanent

ip netns exec "$NC" tcpdump -i br0 -U -s 0 -w "$T/cloud.pcap" 2>"$T/tcpdump.log" &
PIDS+=($!)
wait_for 20 grep -q "listening on" "$T/tcpdump.log" || fail "tcpdump did not start"

mkdir -p "$T/www"
python3 - "$T/www" <<'PY'
import os, sys
d = sys.argv[1]
open(f'{d}/page.html', 'w').write('<html><body>' + 'SECRET-MARKER-7f3a9c plain text of the page ' * 200 + '</body></html>\n')
open(f'{d}/big.bin', 'wb').write(os.urandom(1 << 20))
PY
cat >"$T/nginx.conf" <<NG
daemon off;
master_process off;
user root;
pid $T/nginx.pid;
error_log $T/nginx.err;
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

"$BIN/embark-gwctl" --ext "ipc://$T/a.ext" listen --seconds 120 --uri-key "$T/k" --keywords "$T/kw.enc" >"$T/ext.txt" 2>"$T/ext.log" &
LISTENER=$!
PIDS+=($LISTENER)
GET="ip netns exec $NE curl -sS --max-time ${E2_GW_CURL_S:-60} -H X-Note:confidential-project-zebra"
# a SUB that connects late misses records (nanomsg's PUB keeps none): requests for a page
# that does not exist until the listener has seen one
warm() { ip netns exec "$NE" curl -s --max-time 10 -o /dev/null http://10.9.0.2:8080/warmup; grep -q "/warmup$" "$T/ext.txt"; }
wait_for 60 warm || fail "the extension channel listener never saw a record"
$GET -o "$T/got.html" http://10.9.0.2:8080/page.html -o "$T/got.bin" http://10.9.0.2:8080/big.bin || fail "curl through the gateways failed"
cmp "$T/got.html" "$T/www/page.html" || fail "page differs"
cmp "$T/got.bin" "$T/www/big.bin" || fail "1 MiB file differs"
ok "curl -> gw A -> cloud -> gw B -> nginx: page and 1 MiB file byte-identical"
SEALED=$(counter b content_sealed) OPENED=$(counter a content_opened)
[ "$SEALED" -gt 700 ] || fail "gw B sent $SEALED content segments for a page and 1 MiB"
[ "$OPENED" = "$SEALED" ] && [ "$(counter a content_refused)" = 0 ] && [ "$(counter a content_unchecked)" = 0 ] ||
  fail "gw B sent $SEALED content segments, gw A opened $OPENED, refused $(counter a content_refused), unchecked $(counter a content_unchecked)"
ok "answers crossed the cloud as $SEALED content segments, all opened by gw A, each for a URI its connection asked for"

wait_for 10 grep -q "^match " "$T/ext.txt" || fail "no KeywordMatch hit on the extension channel"
grep -q "^uri 1 [0-9a-f]* [0-9a-f]* 10.9.0.2:8080/page.html$" "$T/ext.txt" || fail "no encrypted URI for page.html"
grep -q "^uri 1 [0-9a-f]* [0-9a-f]* 10.9.0.2:8080/big.bin$" "$T/ext.txt" || fail "no encrypted URI for the second request on the connection"
ok "extension channel: encrypted URIs of both requests, keyword found over tokens ($(grep -c '^tokens ' "$T/ext.txt") token records)"

# damaged frames from the cloud
TAMP0=$(counter b decrypt_tampered); TRUNC0=$(counter b decrypt_truncated); DEC0=$(counter b decrypted)
INJ=$(ip netns exec "$NC" python3 "$HERE/gw_inject.py" "$T/cloud.pcap" br0 "$MAC_BE" 10) || fail "injection failed"
for _ in $(seq 100); do
  TAMP=$(counter b decrypt_tampered); TRUNC=$(counter b decrypt_truncated)
  [ $((TAMP - TAMP0)) -ge 30 ] && [ $((TRUNC - TRUNC0)) -ge 10 ] && break
  sleep 0.1
done
[ $((TAMP - TAMP0)) = 30 ] || fail "tampered frames counted $((TAMP - TAMP0)), sent 30 ($INJ)"
[ $((TRUNC - TRUNC0)) = 10 ] || fail "truncated frames counted $((TRUNC - TRUNC0)), sent 10 ($INJ)"
[ "$(counter b decrypted)" = "$DEC0" ] || fail "a damaged frame was decrypted"
ok "damaged frames dropped and counted by gw B: $INJ"

# refused updates change nothing
ctl a rules "$T/bad-rules.txt" 2>"$T/refused.txt" && fail "a malformed rule file was taken"
grep -q "host bits" "$T/refused.txt" || fail "refusal without the reason: $(cat "$T/refused.txt")"
ctl a rules "$T/rules2.txt" --key-id 0123456789abcdef 2>"$T/refused.txt" && fail "rules for another key were taken"
grep -q "nothing changed" "$T/refused.txt" || fail "refusal without the reason: $(cat "$T/refused.txt")"
chmod 644 "$T/other.k"
ctl a key "$T/other.k" 2>"$T/refused.txt" && fail "a key file of mode 0644 was taken"
grep -q "0600" "$T/refused.txt" || fail "refusal without the reason: $(cat "$T/refused.txt")"
[ "$(ctl a status | head -1)" = "epoch 1" ] || fail "a refused update changed the epoch"
ok "malformed rules, rules for another key and a 0644 key refused, epoch unchanged"

# a rule update under traffic
ip netns exec "$NE" curl -sS --max-time 120 --limit-rate 100k -o "$T/slow.bin" http://10.9.0.2:8080/big.bin &
SLOW=$!
PIDS+=($SLOW)
wait_for 20 sh -c "[ -s '$T/slow.bin' ]" || fail "the slow download did not start"
KEYID=$(ctl a status | sed -n 's/^epoch_1 .*key=\([0-9a-f]*\).*/\1/p')
printf 'pool nat 10.9.0.200\npool web 10.9.0.100-10.9.0.101\n' >"$T/pools2.txt"
ctl a rules "$T/rules2.txt" --pools "$T/pools2.txt" --key-id "$KEYID" --prepare --out "$T/a-rules2.enc" \
  --pools-out "$T/a-pools2.enc" >"$T/upd.txt" || fail "prepare on a"
ctl b rules "$T/rules2.txt" --pools "$T/pools2.txt" --prepare --out "$T/b-rules2.enc" --pools-out "$T/b-pools2.enc" \
  >>"$T/upd.txt" || fail "prepare on b"
cmp "$T/a-rules2.enc" "$T/b-rules2.enc" || fail "the two gateways' encrypted rules for epoch 2 differ"
cmp "$T/a-pools2.enc" "$T/b-pools2.enc" || fail "the two gateways' pool values for epoch 2 differ"
# the pool values by name, as embark-rules writes them offline (what the cloud's NAT and LB
# take with --pool-name)
"$BIN/embark-rules" encrypt --key "$T/k" --in "$T/rules2.txt" --out "$T/off-rules2.enc" --pools "$T/pools2.txt" \
  --pools-out "$T/off-pools2.enc" 2>/dev/null || fail "embark-rules encrypt"
[ "$(grep -c '^nat [0-9a-f]\{28\}e2e2$' "$T/a-pools2.enc")" = 1 ] &&
  [ "$(grep -c '^web [0-9a-f]\{28\}e2e2$' "$T/a-pools2.enc")" = 2 ] &&
  cmp <(grep -v '^#' "$T/a-pools2.enc") <(grep -v '^#' "$T/off-pools2.enc") ||
  fail "the pool values by name differ from embark-rules': $(cat "$T/a-pools2.enc")"
ctl a activate 2 >>"$T/upd.txt" || fail "activate on a"
ctl b activate 2 >>"$T/upd.txt" || fail "activate on b"
[ "$(ctl a status | head -1)" = "epoch 2" ] || fail "gw a is not at epoch 2"
for i in 1 2 3; do
  $GET -o "$T/new$i.html" http://10.9.0.2:8080/page.html || fail "a new flow after the switch failed"
  cmp "$T/new$i.html" "$T/www/page.html" || fail "page after the switch differs"
done
wait "$SLOW" || fail "the download running across the switch failed"
cmp "$T/slow.bin" "$T/www/big.bin" || fail "the download across the switch differs"
E1=$(ctl a status | sed -n 's/^epoch_1 .*encrypted=\([0-9]*\).*/\1/p')
E2=$(ctl a status | sed -n 's/^epoch_2 .*encrypted=\([0-9]*\).*/\1/p')
TOT=$(counter a encrypted)
[ -n "$E1" ] && [ -n "$E2" ] && [ "$E2" -gt 0 ] || fail "per-epoch counters missing: $(ctl a status | grep '^epoch')"
[ $((E1 + E2)) = "$TOT" ] || fail "epoch counters $E1 + $E2 != encrypted $TOT"
[ "$(counter a flows_moved)" = 0 ] || fail "flows moved between epochs"
ok "rule update under traffic: download finished under epoch 1 ($E1 packets in all), new flows under epoch 2 ($E2), sums agree"

# key rotation: a new key (0600) prepared on both, activated on both; pages still load
"$BIN/embark-keygen" "$T/new.k" >/dev/null
ctl a key "$T/new.k" --prepare >/dev/null || fail "key prepare on a"
ctl b key "$T/new.k" --prepare >/dev/null || fail "key prepare on b"
ctl a activate 3 >/dev/null && ctl b activate 3 >/dev/null || fail "key activate"
$GET -o "$T/k3.html" http://10.9.0.2:8080/page.html || fail "a flow under the new key failed"
cmp "$T/k3.html" "$T/www/page.html" || fail "page under the new key differs"
K1=$(ctl a status | sed -n 's/^epoch_1 .*key=\([0-9a-f]*\).*/\1/p'); K3=$(ctl a status | sed -n 's/^epoch_3 .*key=\([0-9a-f]*\).*/\1/p')
[ -n "$K3" ] && [ "$K3" != "$K1" ] || fail "epoch 3 does not run under the new key ($K1 / $K3)"
ok "key rotation: epoch 3 under key $K3 (was $K1), page byte-identical"

kill -TERM "$LISTENER" 2>/dev/null || true
sleep 0.5
python3 "$HERE/gw_cloud_check.py" "$T/cloud.pcap" --own-mac "$(ip netns exec "$NC" cat /sys/class/net/br0/address)" --addr 10.9.0.1 --addr 10.9.0.2 \
  --text SECRET-MARKER --text confidential-project-zebra --text "GET /" --text "HTTP/1.1" --text nginx \
  --text page.html --chunks "$T/www/big.bin" --min-frames 500 --after 2 --split "$T:$MAC_BE" >"$T/check.txt" || { grep -v "^epoch \|^older\|^frames" "$T/check.txt" | head -20; fail "plaintext or enterprise addresses on the cloud side"; }
grep -q "^epoch 2 frames" "$T/check.txt" || fail "no frames under epoch 2 on the cloud side"
LATE=$(sed -n 's/^older_after //p' "$T/check.txt")
[ "${LATE:-0}" -gt 0 ] || fail "no epoch 1 frames after the first epoch 2 frame: the old flow did not finish under its epoch"
ok "cloud capture: $(tail -1 "$T/check.txt"), only Embark IPv6, no enterprise address, no plaintext; $LATE frames of epoch 1 after the first of epoch 2; epochs in order: $(sed -n 's/^label_runs //p' "$T/check.txt")"
for g in a b; do
  [ "$(counter $g unknown_epoch)" = 0 ] || fail "gw $g dropped frames of an unknown epoch"
done
# Each frame classified with its own epoch's encrypted rules decides as the plaintext
# rules do: to the server (dport 8080) "web", back to the client nothing ("!" lines are the
# frames cut short above). With the other epoch's rules the decisions fall apart.
"$BIN/embark-rules" encrypt --key "$T/k" --in "$T/rules.txt" --out "$T/rules1.enc" 2>/dev/null
classify() { "$BIN/embark-classify" --rules "$1" "$2" | awk '{ print $2 }' | grep -v '^!$' | sort | uniq -c | tr -s ' ' | tr '\n' ';'; }
for e in 1 2; do
  enc=$T/rules1.enc; [ $e = 2 ] && enc=$T/a-rules2.enc
  to=$(classify "$enc" "$T/epoch-$e-to.pcap"); from=$(classify "$enc" "$T/epoch-$e-from.pcap")
  [[ "$to" =~ ^\ [0-9]+\ web\;$ ]] || fail "epoch $e, frames to the server: $to (want only web)"
  [[ "$from" =~ ^\ [0-9]+\ -\;$ ]] || fail "epoch $e, frames to the client: $from (want no rule)"
done
cross=$(classify "$T/a-rules2.enc" "$T/epoch-1-to.pcap")
[[ "$cross" =~ ^\ [0-9]+\ web\;$ ]] && fail "epoch 1's frames classify as web under epoch 2's rules too: the check proves nothing"
ok "each epoch's frames classified with its own encrypted rules as in plaintext (epoch 1 to server: $(classify "$T/rules1.enc" "$T/epoch-1-to.pcap")); with the other epoch's rules: $cross"
echo "gw a: $(ctl a status | grep -E '^(encrypted|decrypted|ext_tokens|ext_uris|ent_not_ipv4) ' | tr '\n' ' ')"
echo "gw b: $(ctl b status | grep -E '^(encrypted|decrypted|decrypt_tampered|decrypt_truncated) ' | tr '\n' ' ')"
# a clean stop: exit status 0 and no sanitizer report (under E2_SANITIZE builds)
for p in "${GW_PIDS[@]}"; do
  kill -TERM "$p"
  rc=0; wait "$p" || rc=$?
  [ "$rc" = 0 ] || fail "a gateway exited with status $rc"
done
! grep -l "Sanitizer" "$T"/a.log "$T"/b.log || fail "sanitizer report in a gateway's log"
for key in "$T/k" "$T/new.k"; do
  ! grep -qi "$(head -c 64 "$key")" "$T"/*.log "$T"/*.txt || fail "a key's hex digits in a log or a reply"
done
ok "both gateways stopped cleanly, the key in no log or reply"
