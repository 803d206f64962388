#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Embark end to end: a real client and a real server through a cloud chain of middleboxes
# on e2d that work on ciphertext, compared with the same chain on plaintext.
#
# Encrypted run (seed Fig. 4.1b, two sites of one enterprise sharing the key; the seed's
# Fig. 4.1a sends the chain's output back through the same gateway, which a two-port
# embark-gw cannot do, so the server sits behind a second gateway, as test_gw_netns does):
#   ns EC (curl, 10.9.0.1) -- embark-gw A ==[cloud ns: e2d]== embark-gw B -- ns ES (nginx, 10.9.0.2)
#   e2d: A's cloud tap -> embark-fw -> embark-nat -> embark-lb -> embark-ids -> embark-proxy -> B's cloud tap, and back
#   (the load balancer's backends 10.9.0.2 and 10.9.0.3 both in ns ES, behind gateway B;
#   both gateways with --content, A with the proxy's --frame-key)
# Plaintext run, the same e2d, the same NF binaries with plain files (e2nf-ids for the IDS:
# embark-ids has no plaintext mode; no cache: embark-proxy caches content segments only):
#   ns PC (curl, 10.9.0.1) -- veth ==[e2d: embark-fw -> embark-nat -> embark-lb -> e2nf-ids]== veth -- ns PS (nginx, 10.9.0.2 and .3)
#
# Checks: pages of 2 KiB, 200 KiB and 3 MiB load byte-identical on both runs; the server
# sees the NAT's pool address on both; the load balancer spreads new connections over
# both backends on both runs and takes every answer back; a request to the denied port gets no connection
# and the firewall counts it; the IDS alerts on a request carrying a keyword and on no
# other; a URL nginx marks cacheable (expires), fetched twice, loads byte-identical both
# times while the encrypted run's server sees it once (embark-proxy answers the second
# from its cache, as frames gateway A verifies and opens); both runs decide alike (allow / deny / alert) for every request; e2d's own
# capture of what the gateways send into the cloud holds only Embark frames, no
# enterprise address and none of the requests' or responses' bytes; a UDP burst (some
# to an allowed port, some to a denied one) is accounted for packet by packet:
# sent = received by the server + dropped by the firewall's rule + dropped by e2d.
# Needs root, ip, nginx, curl, python3, 64 free 2 MiB hugepages (exit 77 otherwise).
set -euo pipefail
GW=${1:?usage: test_embark_e2e.sh BUILD_DIR}/gateway
BUILD=$1
E2D=$BUILD/vswitch/e2d CTL=$BUILD/vswitch/e2ctl-dp E2NF_IDS=$BUILD/native-nf/e2nf-ids
HERE=$(cd "$(dirname "$0")" && pwd)
for c in ip nginx curl python3 ethtool; do
  command -v "$c" >/dev/null || { echo "skip: needs $c"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "skip: needs /dev/net/tun"; exit 77; }
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
[ "$free" -ge 64 ] || { echo "skip: needs 64 free 2 MiB hugepages (have $free)"; exit 77; }

T=$(mktemp -d /tmp/embark-e2e.XXXXXX)
S=$$
NEC=eeC$S NES=eeS$S NPC=epC$S NPS=epS$S NCL=eeK$S
AE=xaE$S AC=xaC$S BE=xbE$S BC=xbC$S PCv=xpC$S PSv=xpS$S
PREFIX=embark-e2e-$S
NAT=${E2_E2E_NAT:-1}
# E2_E2E_NAT=0: the chain without the NAT and the load balancer (then nothing translates)
NPORTS=$((NAT ? 18 : 10)) SEEN=$((NAT ? 200 : 1)) CHAIN="fw + ids"
[ "$NAT" = 1 ] && CHAIN="fw + nat + lb + ids"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  for n in "$NEC" "$NES" "$NPC" "$NPS" "$NCL"; do ip netns del "$n" 2>/dev/null || true; done
  for l in "$AE" "$AC" "$BE" "$BC" "$PCv" "$PSv"; do ip link del "$l" 2>/dev/null || true; done
  rm -f /dev/hugepages/${PREFIX}map_* 2>/dev/null || true
  rm -rf "/var/run/dpdk/$PREFIX"
  [ -n "${E2_E2E_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  [ -n "${UP:-}" ] || exit 1
  for g in a b; do echo "--- gw $g: $(gwctl $g status 2>&1 | grep -v ' 0$' | tr '\n' ' ')"; done
  for n in efw eids eprx pfw pids $([ "$NAT" = 1 ] && echo enat pnat elb plb); do echo "--- $n: $(nfstats $n 2>&1 | grep -v '=0$' | tr '\n' ' ')"; done
  "$CTL" --ctl "$T/e2d.ctl" stats 2>&1 | head -40
  for f in "$T"/*.log "$T"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}
ok() { echo "ok - $*"; }
# up to SECONDS of wall time, however long each try takes
wait_for() { local end=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do ((SECONDS < end)) || return 1; sleep 0.1; done; }
gwctl() { local gw=$1; shift; "$GW/embark-gwctl" --ctl "ipc://$T/$gw.ctl" "$@"; }
gwcount() { gwctl "$1" status | awk -v k="$2" '$1 == k { print $2 }'; }
# an NF's counters over its control socket (libe2nf's --ctl), all or one
nfstats() { "$BUILD/native-nf/e2nf-ctl" "$T/$1.nfctl" stats; }
nfcount() { "$BUILD/native-nf/e2nf-ctl" --get "$2" "$T/$1.nfctl" stats; }
e2dstats() { "$CTL" --ctl "$T/e2d.ctl" stats; }

# --- keys, rules, pools, keywords ---------------------------------------------------
"$GW/embark-keygen" "$T/k" >/dev/null
"$GW/embark-keygen" "$T/pk" >/dev/null # the proxy's own, for its frames
cat >"$T/rules.txt" <<'R'
deny id=blocked proto=tcp dst=10.9.0.2 dport=8081
accept id=web proto=tcp dst=10.9.0.2 dport=8080
accept id=udpok proto=udp dst=10.9.0.2 dport=9000
deny id=udpno proto=udp dst=10.9.0.2 dport=9001
R
printf 'pool nat 10.9.0.200\npool web 10.9.0.2/31\n' >"$T/pools.txt"
KW=confidential-project-zebra
printf '%s\n' "$KW" >"$T/kw.txt"
"$GW/embark-rules" encrypt --key "$T/k" --in "$T/rules.txt" --out "$T/rules.enc" \
  --pools "$T/pools.txt" --pools-out "$T/pools.enc" 2>"$T/rules.err" || fail "embark-rules encrypt"
"$GW/embark-rules" keywords --key "$T/k" --in "$T/kw.txt" --out "$T/kw.enc" || fail "embark-rules keywords"
[ "$(grep -c "^nat " "$T/pools.enc")" = 1 ] && [ "$(grep -c "^web " "$T/pools.enc")" = 2 ] ||
  fail "each pool address should give one encrypted value: $(grep -v "^#" "$T/pools.enc" | cut -c1-12 | tr '\n' ' ')"
printf 'drop tcp any any -> any any (msg:"kw"; content:"%s"; sid:1;)\n' "$KW" >"$T/ids.rules"
grep -q "10\.9\.0\." "$T/rules.enc" && fail "the encrypted rules name an enterprise address"

# --- namespaces ---------------------------------------------------------------------
for n in "$NEC" "$NES" "$NPC" "$NPS" "$NCL"; do
  ip netns add "$n" || { echo "skip: cannot create network namespaces"; exit 77; }
  ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$n" link set lo up
done

# --- the two gateways (their ports DPDK taps, moved into the namespaces) --------------
start_gw() { # name ent-iface cloud-iface tap-index [args]
  local name=$1 ent=$2 cloud=$3 tap=$4
  shift 4
  "$GW/embark-gw" --key "$T/k" --rules "$T/rules.txt" --pools "$T/pools.txt" \
    --enterprise "net_tap${tap},iface=$ent" --cloud "net_tap$((tap + 1)),iface=$cloud" \
    --ctl "ipc://$T/$name.ctl" --file-prefix "$PREFIX-$name" "$@" >"$T/gw-$name.log" 2>&1 &
  PIDS+=($!)
  GW_PIDS+=($!)
}
GW_PIDS=()
# Only A publishes records (the client's requests). A gateway that publishes marks the
# packets that made records, and the IDS holds those until their records come; B's
# outbound streams are the server's replies, whose records nobody here subscribes to.
# Both seal and open web-cache content (--content); A takes the proxy's frames.
start_gw a "$AE" "$AC" 0 --ext "ipc://$T/a.ext" --content --frame-key "$T/pk"
start_gw b "$BE" "$BC" 2 --content
wait_for 60 gwctl a status || fail "gateway a did not come up"
wait_for 60 gwctl b status || fail "gateway b did not come up"
ip link set "$AE" netns "$NEC"
ip link set "$BE" netns "$NES"
ip link set "$AC" netns "$NCL"
ip link set "$BC" netns "$NCL"
ip -n "$NEC" addr add 10.9.0.1/24 dev "$AE"
ip -n "$NES" addr add 10.9.0.2/24 dev "$BE"
ip -n "$NES" addr add 10.9.0.3/24 dev "$BE"
# a DPDK tap carries frames of 1500 bytes at most: room for the 116 bytes Embark adds to a
# content segment (68 to others)
for x in "$NEC $AE" "$NES $BE"; do set -- $x; ip -n "$1" link set "$2" mtu 1380 up; done
for l in "$AC" "$BC"; do ip -n "$NCL" link set "$l" mtu 1500 up; done
MAC_AE=$(ip netns exec "$NEC" cat /sys/class/net/"$AE"/address)
MAC_BE=$(ip netns exec "$NES" cat /sys/class/net/"$BE"/address)
# the gateways forward no ARP: static neighbours, the NAT's pool address on the client's
ip -n "$NEC" neigh add 10.9.0.2 lladdr "$MAC_BE" dev "$AE" nud permanent
ip -n "$NES" neigh add 10.9.0.1 lladdr "$MAC_AE" dev "$BE" nud permanent
ip -n "$NES" neigh add 10.9.0.200 lladdr "$MAC_AE" dev "$BE" nud permanent
UP=1
ok "two gateways up, enterprise sides in their namespaces, cloud sides in the cloud namespace"

# --- the plaintext twin: veths straight into the cloud namespace ----------------------
ip link add "$PCv" netns "$NPC" type veth peer name "${PCv}k" netns "$NCL"
ip link add "$PSv" netns "$NPS" type veth peer name "${PSv}k" netns "$NCL"
for x in "$NPC $PCv 10.9.0.1" "$NPS $PSv 10.9.0.2" "$NCL ${PCv}k -" "$NCL ${PSv}k -"; do
  set -- $x
  # whole, checksummed frames of at most the MTU: e2d does no offloads
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  [ "$3" = - ] || ip -n "$1" addr add "$3/24" dev "$2"
  [ "$2" != "$PSv" ] || ip -n "$1" addr add 10.9.0.3/24 dev "$2"
  ip -n "$1" link set "$2" mtu 1400 up
done
MAC_PC=$(ip netns exec "$NPC" cat /sys/class/net/"$PCv"/address)
MAC_PS=$(ip netns exec "$NPS" cat /sys/class/net/"$PSv"/address)
ip -n "$NPC" neigh add 10.9.0.2 lladdr "$MAC_PS" dev "$PCv" nud permanent
ip -n "$NPS" neigh add 10.9.0.1 lladdr "$MAC_PC" dev "$PSv" nud permanent
ip -n "$NPS" neigh add 10.9.0.200 lladdr "$MAC_PC" dev "$PSv" nud permanent

# --- e2d and the two chains -----------------------------------------------------------
chain() { # prefix in-port out-port: in -> fw -> nat -> lb -> ids [-> proxy] -> out, and back
  local p=$1 a=$2 b=$3 last=ido
  local nfs="fwi fwo idi ido"
  [ "$NAT" = 1 ] && nfs="fwi fwo nti nto lbi lbo idi ido"
  [ "$p" = e ] && nfs="$nfs pxi pxo" last=pxo
  for q in $nfs; do
    echo "port add $p$q nf path=$T/$p$q.sock native=1"
    echo "module add in_$p$q port_in port=$p$q"
    echo "module add out_$p$q port_out port=$p$q"
  done
  for q in "$a" "$b"; do echo "module add in_$q port_in port=$q"; echo "module add out_$q port_out port=$q"; done
  echo "connect in_$a out_${p}fwi"
  echo "connect in_${p}$last out_$b"
  echo "connect in_$b out_${p}$last"
  if [ "$p" = e ]; then
    echo "connect in_${p}ido out_${p}pxi"
    echo "connect in_${p}pxi out_${p}ido"
  fi
  echo "connect in_${p}fwi out_$a"
  if [ "$NAT" = 1 ]; then
    echo "connect in_${p}fwo out_${p}nti"
    echo "connect in_${p}nto out_${p}lbi"
    echo "connect in_${p}lbo out_${p}idi"
    echo "connect in_${p}idi out_${p}lbo"
    echo "connect in_${p}lbi out_${p}nto"
    echo "connect in_${p}nti out_${p}fwo"
  else
    echo "connect in_${p}fwo out_${p}idi"
    echo "connect in_${p}idi out_${p}fwo"
  fi
}
{
  echo "port add CA pmd devargs=net_af_packet0,iface=$AC"
  echo "port add CB pmd devargs=net_af_packet1,iface=$BC"
  echo "port add PA pmd devargs=net_af_packet2,iface=${PCv}k"
  echo "port add PB pmd devargs=net_af_packet3,iface=${PSv}k"
  chain e CA CB
  chain p PA PB
} >"$T/e2d.conf"
ip netns exec "$NCL" "$E2D" --native-nfs --ctl "$T/e2d.ctl" --config "$T/e2d.conf" --file-prefix "$PREFIX" \
  --mbufs 8191 --table-mb 32 --log-level error >"$T/e2d.log" 2>&1 &
E2D_PID=$!
PIDS+=("$E2D_PID")
for _ in $(seq 300); do [ -S "$T/e2d.ctl" ] && break; kill -0 $E2D_PID 2>/dev/null || fail "e2d exited at start"; sleep 0.1; done
[ -S "$T/e2d.ctl" ] || fail "e2d did not open its control socket"

# Ten NFs and e2d share two cores: an idle NF naps up to 1 ms (libe2nf's default 200 us
# wakes each 5000 times a second, and ten of them kept the cores busy with nothing to do)
nf() { # name binary in-sock out-sock args...
  local name=$1 bin=$2 i=$3 o=$4
  shift 4
  "$bin" --name "$name" --port "$T/$i.sock" --port "$T/$o.sock" --ctl "$T/$name.nfctl" --max-sleep-us 1000 "$@" >"$T/$name.out" 2>"$T/$name.err" &
  PIDS+=($!)
  NF_PIDS+=($!)
  NF_NAMES+=("$name")
}
NF_PIDS=() NF_NAMES=()
nf efw "$GW/embark-fw" efwi efwo --rules "$T/rules.enc"
[ "$NAT" = 1 ] && nf enat "$GW/embark-nat" enti ento --pool "$T/pools.enc" --pool-name nat
[ "$NAT" = 1 ] && nf elb "$GW/embark-lb" elbi elbo --backends "$T/pools.enc" --pool-name web
# --drop: a request packet that comes before its token records waits for them (a generous
# bound: records that never come would stall the pages and show here); the records name
# the flow as gw A sent it, the packets come rewritten by the NAT: the nonce links them
nf eids "$GW/embark-ids" eidi eido --rules "$T/kw.enc" --ext "ipc://$T/a.ext" --drop --record-wait 2000
# the cache: request packets wait for their URI records as the IDS's do
nf eprx "$GW/embark-proxy" epxi epxo --frame-key "$T/pk" --ext "ipc://$T/a.ext" --record-wait 2000
nf pfw "$GW/embark-fw" pfwi pfwo --rules "$T/rules.txt"
[ "$NAT" = 1 ] && nf pnat "$GW/embark-nat" pnti pnto --pool "$T/pools.txt" --pool-name nat
[ "$NAT" = 1 ] && nf plb "$GW/embark-lb" plbi plbo --backends "$T/pools.txt" --pool-name web
nf pids "$E2NF_IDS" pidi pido --rules "$T/ids.rules" --own-reassembly
for _ in $(seq 300); do
  [ "$(e2dstats | awk '$2=="nf" && $3=="up"' | wc -l)" = $NPORTS ] && break
  for i in "${!NF_PIDS[@]}"; do
    kill -0 "${NF_PIDS[$i]}" 2>/dev/null && continue
    n=${NF_NAMES[$i]} rc=0
    wait "${NF_PIDS[$i]}" || rc=$?
    fail "NF $n exited at start (status $rc): $(tail -5 "$T/$n.err" | tr '\n' ' ')"
  done
  sleep 0.1
done
[ "$(e2dstats | awk '$2=="nf" && $3=="up"' | wc -l)" = $NPORTS ] || fail "the NFs did not attach: $(e2dstats)"
ok "e2d up in the cloud namespace; the chain $CHAIN (+ proxy on ciphertext) attached (embark-* on ciphertext; the same binaries on plaintext, with e2nf-ids for the IDS)"

# --- the servers ----------------------------------------------------------------------
mkdir -p "$T/www"
python3 - "$T/www" <<'PY'
import os, sys
d = sys.argv[1]
open(f'{d}/small.html', 'w').write('<html><body>' + 'SECRET-MARKER-7f3a9c plain text of the page ' * 45 + '</body></html>\n')
open(f'{d}/mid.bin', 'wb').write(os.urandom(200 << 10))
open(f'{d}/big.bin', 'wb').write(os.urandom(3 << 20))
os.mkdir(f'{d}/cached')
open(f'{d}/cached/page.bin', 'wb').write(os.urandom(300 << 10))
PY
for side in e p; do
  mkdir -p "$T/ng-$side"
  cat >"$T/ng-$side/nginx.conf" <<NG
daemon off;
master_process off;
user root;
pid $T/ng-$side/nginx.pid;
error_log $T/ng-$side.err;
events { worker_connections 64; }
http {
  log_format peer '\$remote_addr \$request_uri \$status';
  log_format backend '\$server_addr';
  access_log $T/ng-$side/access.log peer;
  access_log $T/ng-$side/backend.log backend;
  client_body_temp_path $T/ng-$side/cb; proxy_temp_path $T/ng-$side/pt; fastcgi_temp_path $T/ng-$side/ft;
  uwsgi_temp_path $T/ng-$side/ut; scgi_temp_path $T/ng-$side/st;
  server {
    listen 10.9.0.2:8080; listen 10.9.0.2:8081; listen 10.9.0.3:8080; listen 10.9.0.3:8081; root $T/www;
    location /cached/ { expires 60s; }
  }
}
NG
done
ip netns exec "$NES" nginx -c "$T/ng-e/nginx.conf" -p "$T/ng-e" &
PIDS+=($!)
ip netns exec "$NPS" nginx -c "$T/ng-p/nginx.conf" -p "$T/ng-p" &
PIDS+=($!)
for n in "$NES" "$NPS"; do
  wait_for 20 ip netns exec "$n" curl -sf -o /dev/null http://10.9.0.2:8080/small.html || fail "nginx did not start in $n"
done

# e2d's own capture of everything the gateways hand to the cloud, both directions
"$CTL" --ctl "$T/e2d.ctl" capture CA file="$T/cloud-a.pcap" count=1000000 seconds=900 >/dev/null || fail "capture on CA"
"$CTL" --ctl "$T/e2d.ctl" capture CB file="$T/cloud-b.pcap" count=1000000 seconds=900 >/dev/null || fail "capture on CB"

# The IDS hears the gateway's extension channel as a late subscriber: requests for a page
# that does not exist until it has records
warm() { ip netns exec "$NEC" curl -s --max-time 10 -o /dev/null http://10.9.0.2:8080/warmup; [ "$(nfcount eids ext_records)" -gt 0 ]; }
wait_for 60 warm || fail "the encrypted chain carries no request, or embark-ids never heard the extension channel"
ok "the encrypted chain carries a request; embark-ids has $(nfcount eids ext_records) extension records"

# --- pages, both runs -----------------------------------------------------------------
declare -A DECISION
get() { # side name url-path [extra curl args]: records allow/deny and the body
  local side=$1 name=$2 path=$3 ns=$NEC
  shift 3
  [ "$side" = p ] && ns=$NPC
  if ip netns exec "$ns" curl -sS --max-time "${E2_E2E_CURL_S:-20}" -o "$T/got-$side-$name" "$@" "http://10.9.0.2:$path" 2>"$T/curl-$side-$name.err"; then
    DECISION[$side.$name]=allow
  else
    DECISION[$side.$name]=deny
  fi
}
for side in e p; do
  t0=$(date +%s.%N)
  for f in small.html mid.bin big.bin; do get $side "$f" "8080/$f"; done
  t1=$(date +%s.%N)
  for f in small.html mid.bin big.bin; do
    [ "${DECISION[$side.$f]}" = allow ] || fail "$side run: $f did not load: $(cat "$T/curl-$side-$f.err")"
    cmp -s "$T/got-$side-$f" "$T/www/$f" || fail "$side run: $f differs from the served file"
  done
  ok "$side run: 2 KiB, 200 KiB and 3 MiB byte-identical ($(python3 -c "print(f'{$t1 - $t0:.1f}')") s for the three)"
done
for f in small.html mid.bin big.bin; do cmp -s "$T/got-e-$f" "$T/got-p-$f" || fail "$f: the encrypted run's copy differs from the plaintext run's"; done
grep -q "^10.9.0.$SEEN /big.bin 200$" "$T/ng-e/access.log" || fail "the server behind the encrypted chain did not see 10.9.0.$SEEN: $(tail -3 "$T/ng-e/access.log")"
grep -q "^10.9.0.$SEEN /big.bin 200$" "$T/ng-p/access.log" || fail "the server behind the plaintext chain did not see 10.9.0.$SEEN"
ok "pages identical across the two runs; both servers saw the client as 10.9.0.$SEEN"
if [ "$NAT" = 1 ]; then
  for n in enat pnat; do
    [ "$(nfcount $n translated_out)" -gt 100 ] && [ "$(nfcount $n translated_in)" -gt 1000 ] && [ "$(nfcount $n no_mapping)" = 0 ] ||
      fail "$n did not translate both ways: $(nfstats $n | tr '\n' ' ')"
  done
  # the NAT's answers: gw B sends them as the reverse of what the NAT sent it, gw A finds
  # its own flow's encrypted endpoint in their destination
  [ "$(gwcount b nat_answers)" -gt 1000 ] && [ "$(gwcount a nat_answers)" = "$(gwcount b nat_answers)" ] ||
    fail "NAT answers: gw B sent $(gwcount b nat_answers), gw A took back $(gwcount a nat_answers)"
  [ "$(gwcount a decrypt_rewritten)" = 0 ] || fail "gw A refused $(gwcount a decrypt_rewritten) packets as rewritten"
  # the load balancer: new connections spread over both backends, every answer taken back.
  # 16 requests a chain, four at a time, each on its own connection (the server closes it)
  lb_gets() { # side: prints how many were answered with 200
    local ns=$NEC
    [ "$1" = p ] && ns=$NPC
    ip netns exec "$ns" curl -sS --max-time 20 --parallel --parallel-max 4 -H 'Connection: close' \
      -o "$T/got-$1-lb#1" -w '%{http_code}\n' "http://10.9.0.2:8080/small.html?lb=[1-16]" 2>"$T/curl-$1-lb.err" |
      grep -cx 200 || true
  }
  declare -A LB_OK
  for side in e p; do LB_OK[$side]=$(lb_gets $side); done
  for n in elb plb; do
    [ "$(nfcount $n backend0_packets)" -gt 0 ] && [ "$(nfcount $n backend1_packets)" -gt 0 ] &&
      [ "$(nfcount $n unknown_reply)" = 0 ] && [ "$(nfcount $n to_client)" -gt 1000 ] ||
      fail "$n did not balance both ways: $(nfstats $n | tr '\n' ' ')"
  done
  for side in e p; do
    [ "${LB_OK[$side]}" = 16 ] || fail "$side run: ${LB_OK[$side]} of 16 requests through the load balancer answered: $(head -3 "$T/curl-$side-lb.err")"
    for a in 10.9.0.2 10.9.0.3; do grep -qx "$a" "$T/ng-$side/backend.log" || fail "$side run: no request reached backend $a"; done
  done
  ok "LB on both chains: new connections on both backends, every answer back to the client (encrypted: $(nfcount elb new_flows) flows, backends $(nfcount elb backend0_packets)/$(nfcount elb backend1_packets) packets; plaintext: $(nfcount plb backend0_packets)/$(nfcount plb backend1_packets))"
  ok "NAT both ways on both chains (encrypted: $(nfcount enat translated_out) out, $(nfcount enat translated_in) back, $(nfcount enat new_mappings) mappings); $(gwcount a nat_answers) answers taken back by gw A, none refused"
fi

# --- the web cache: one URL twice ---------------------------------------------------------
completed() { [ "$(nfcount eprx objects_completed)" -ge 1 ]; }
served_one() { [ "$(nfcount eprx served)" -ge 1 ]; }
for side in e p; do
  get $side cache1 "8080/cached/page.bin"
  [ $side = p ] || wait_for 10 completed || fail "embark-proxy stored no complete object from the first fetch: $(nfstats eprx | tr '\n' ' ')"
  get $side cache2 "8080/cached/page.bin"
  for n in cache1 cache2; do
    [ "${DECISION[$side.$n]}" = allow ] || fail "$side run: $n of the cacheable page did not load: $(cat "$T/curl-$side-$n.err")"
    cmp -s "$T/got-$side-$n" "$T/www/cached/page.bin" || fail "$side run: $n of the cacheable page differs from the served file"
  done
done
seen_cached() { grep -c " /cached/page.bin " "$T/ng-$1/access.log" || true; }
[ "$(seen_cached e)" = 1 ] || fail "the server behind the encrypted chain served the cached URL $(seen_cached e) times: $(nfstats eprx | tr '\n' ' ')"
[ "$(seen_cached p)" = 2 ] || fail "the server behind the plaintext chain served the URL $(seen_cached p) times, not 2"
wait_for 10 served_one || fail "embark-proxy did not finish serving the hit: $(nfstats eprx | tr '\n' ' ')"
[ "$(nfcount eprx hits)" = 1 ] && [ "$(nfcount eprx gave_up)" = 0 ] && [ "$(gwcount a frames_refused)" = 0 ] &&
  [ "$(gwcount a frames_taken)" -gt 200 ] || fail "the hit: proxy $(nfstats eprx | tr '\n' ' '); gw A took $(gwcount a frames_taken) frames, refused $(gwcount a frames_refused)"
ok "web cache: 300 KiB fetched twice, byte-identical both times; nginx served it once on the encrypted run (embark-proxy hits=$(nfcount eprx hits), $(nfcount eprx frames_sent) frames, $(nfcount eprx hit_bytes) content bytes; gw A took $(gwcount a frames_taken), refused none), twice on the plaintext run"

# --- the firewall's deny rule ---------------------------------------------------------
for side in e p; do
  nfn=${side}fw
  d0=$(nfcount $nfn denied_rule)
  # (the counters below are the evidence; the time limit only ends the wait for an
  # answer that does not come)
  E2_E2E_CURL_S=2 get $side denied "8081/small.html"
  [ "${DECISION[$side.denied]}" = deny ] || fail "$side run: the denied port 8081 answered"
  d1=$(nfcount $nfn denied_rule)
  [ "$d1" -gt "$d0" ] || fail "$side run: the firewall counted no rule drop ($d0 -> $d1)"
  hits=$(nfcount $nfn rule_blocked_hits)
  ok "$side run: TCP to port 8081 got no connection; firewall denied_rule $d0 -> $d1, rule 'blocked' hits $hits"
done

# --- a UDP burst, every packet accounted for (before the IDS drops a TCP request, whose
# orphaned connection's retransmissions would add to the ports' counts) ------------------------------------------
cat >"$T/udp_recv.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("", int(sys.argv[1])))  # either backend the load balancer picks
# the first datagram may be long in coming on a busy machine (the harness reads counters
# and starts the sender in between): wait a minute for it, then until IDLE s pass quiet,
# or, once the EXPECTED count has come, 0.5 s more for any that should not have
s.settimeout(60)
n = 0
idle, expected = float(sys.argv[2]), int(sys.argv[4])
open(sys.argv[3], "w").write("ready\n")
try:
    while True:
        s.recv(2048)
        n += 1
        s.settimeout(0.5 if n >= expected else idle)
except socket.timeout:
    pass
print(n)
PY
cat >"$T/udp_send.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n_ok, n_no = int(sys.argv[1]), int(sys.argv[2])
sent = 0
for i in range(n_ok + n_no):
    s.sendto(b"e2e-udp %6d " % i + b"x" * 300, ("10.9.0.2", 9000 if i < n_ok else 9001))
    sent += 1
    if i % 10 == 9:  # about 5000 a second: a burst the taps and sockets on the way hold
        time.sleep(0.002)
print(sent)
PY
port_rx() { e2dstats | awk -v p="$1" '$1 == p { print $4 }'; }
e2d_drops() { e2dstats | awk '$2 == "nf" || $2 == "pmd" { d += $8 + $9 } END { print d + 0 }'; }
NOK=${E2_E2E_UDP_OK:-1500} NNO=${E2_E2E_UDP_DENIED:-500}
for side in e p; do
  ns_c=$NEC ns_s=$NES inport=CA
  [ $side = p ] && { ns_c=$NPC ns_s=$NPS inport=PA; }
  rm -f "$T/udp-ready"
  ip netns exec "$ns_s" python3 "$T/udp_recv.py" 9000 4 "$T/udp-ready" "$NOK" >"$T/udp-$side.recv" &
  R=$!
  PIDS+=("$R")
  wait_for 20 test -s "$T/udp-ready" || fail "the UDP receiver did not start"
  fwd0=$(nfcount ${side}fw drops) fwr0=$(( $(nfcount ${side}fw denied_rule) + $(nfcount ${side}fw denied_tracked) )) drops0=$(e2d_drops) rx0=$(port_rx $inport)
  [ $side = e ] && { enc0=$(gwcount a encrypted); dec0=$(gwcount b decrypted); }
  sent=$(ip netns exec "$ns_c" python3 "$T/udp_send.py" "$NOK" "$NNO")
  wait "$R" || fail "the UDP receiver failed"
  got=$(cat "$T/udp-$side.recv")
  fwd=$(( $(nfcount ${side}fw drops) - fwd0 )) fwr=$(( $(nfcount ${side}fw denied_rule) + $(nfcount ${side}fw denied_tracked) - fwr0 )) drops=$(( $(e2d_drops) - drops0 )) rx=$(( $(port_rx $inport) - rx0 ))
  [ "$sent" = $((NOK + NNO)) ] || fail "$side run: sent $sent of $((NOK + NNO))"
  [ "$rx" = "$sent" ] || fail "$side run: e2d received $rx frames from the client's side, $sent sent$([ $side = e ] && echo ", gw A encrypted $(( $(gwcount a encrypted) - enc0 ))")"
  [ "$fwd" = "$NNO" ] && [ "$fwr" = "$fwd" ] || fail "$side run: the firewall dropped $fwd ($fwr by the rule and its flow), $NNO went to the denied port"
  [ "$sent" = $((got + fwd + drops)) ] || fail "$side run: sent $sent != received $got + firewall $fwd + e2d drops $drops"
  extra=""
  if [ $side = e ]; then
    enc=$(( $(gwcount a encrypted) - enc0 )) dec=$(( $(gwcount b decrypted) - dec0 ))
    [ "$enc" = "$sent" ] && [ "$dec" = "$got" ] || fail "gw A encrypted $enc of $sent, gw B decrypted $dec, the server got $got"
    extra=", gw A encrypted $enc, gw B decrypted $dec"
  fi
  ok "$side run, UDP: sent $sent = received $got + dropped by the firewall's rule $fwd + e2d drops $drops$extra"
done

# --- the IDS: nothing on clean requests, the keyword's request dropped -----------------
[ "$(nfcount eids alerts)" = 0 ] || fail "embark-ids alerted on clean requests"
[ "$(nfcount pids alerts_sid_1)" = 0 ] || fail "e2nf-ids alerted on clean requests"
served() { grep -c " /small.html " "$T/ng-$1/access.log"; }
se0=$(served e) sp0=$(served p)
for side in e p; do E2_E2E_CURL_S=3 get $side keyword "8080/small.html" -H "X-Note: $KW"; done
alerted() { [ "$(nfcount "$1" "$2")" -gt 0 ]; }
wait_for 10 alerted eids alerts || fail "embark-ids did not alert on the keyword"
wait_for 10 alerted pids alerts_sid_1 || fail "e2nf-ids did not alert on the keyword"
DECISION[e.keyword]="${DECISION[e.keyword]}+alert"
DECISION[p.keyword]="${DECISION[p.keyword]}+alert"
grep -q "alert rule=0" "$T/eids.err" || fail "embark-ids logged no alert"
[ "$(nfcount eids dropped_frames)" -gt 0 ] && [ "$(nfcount pids dropped_frames)" -gt 0 ] ||
  fail "the IDSs dropped nothing: embark-ids $(nfcount eids dropped_frames), e2nf-ids $(nfcount pids dropped_frames)"
[ "$(served e)" = "$se0" ] && [ "$(served p)" = "$sp0" ] ||
  fail "the request carrying the keyword reached a server (served: e $se0 -> $(served e), p $sp0 -> $(served p))"
ok "IDS: no alert on the clean requests; the request carrying '$KW' alerted and dropped before the server, at the end of the chain $CHAIN (embark-ids alerts=$(nfcount eids alerts) dropped_frames=$(nfcount eids dropped_frames) over tokens, e2nf-ids alerts_sid_1=$(nfcount pids alerts_sid_1) dropped_frames=$(nfcount pids dropped_frames))"

# --- the same decisions on both runs --------------------------------------------------
for r in small.html mid.bin big.bin cache1 cache2 denied keyword; do
  [ "${DECISION[e.$r]}" = "${DECISION[p.$r]}" ] || fail "$r: encrypted run ${DECISION[e.$r]}, plaintext run ${DECISION[p.$r]}"
done
# the records name their packets by nonce, which the NAT before the IDS leaves alone
held=$(nfcount eids held) late=$(nfcount eids record_late) holding=$(nfcount eids holding)
[ "$late" = 0 ] && [ "$holding" = 0 ] && [ "$(nfcount eids held_released)" = "$held" ] ||
  fail "embark-ids: of $held packets held for their records $late went on without them, $holding still wait"
ok "embark-ids held $held packets that came before their records, all released when they came (longest wait $(nfcount eids hold_wait_max_us) us)"
ok "same decisions on ciphertext and plaintext: $(for r in small.html mid.bin big.bin denied keyword; do printf '%s=%s ' $r "${DECISION[e.$r]}"; done)"

# --- the cloud capture ------------------------------------------------------------------
"$CTL" --ctl "$T/e2d.ctl" capture stop CA >/dev/null || fail "capture stop CA"
"$CTL" --ctl "$T/e2d.ctl" capture stop CB >/dev/null || fail "capture stop CB"
for c in a b; do
  python3 "$HERE/gw_cloud_check.py" "$T/cloud-$c.pcap" --addr 10.9.0.1 --addr 10.9.0.2 --addr 10.9.0.3 --addr 10.9.0.200 \
    --text SECRET-MARKER --text "$KW" --text "GET /" --text "HTTP/1.1" --text nginx --text small.html \
    --text X-Note --chunks "$T/www/big.bin" --chunks "$T/www/mid.bin" --min-frames 200 >"$T/check-$c.txt" ||
    { head -20 "$T/check-$c.txt"; fail "plaintext or an enterprise address in e2d's capture of gateway $c's frames"; }
done
ok "e2d's capture of the cloud side: $(tail -1 "$T/check-a.txt") from gw A, $(tail -1 "$T/check-b.txt") from gw B; only Embark IPv6, no enterprise address, none of the pages' or requests' bytes"

# --- a clean stop -------------------------------------------------------------------------
for p in "${NF_PIDS[@]}"; do kill -TERM "$p"; done
for p in "${NF_PIDS[@]}"; do rc=0; wait "$p" || rc=$?; [ $rc = 0 ] || fail "an NF exited with $rc on SIGTERM"; done
kill -TERM "$E2D_PID"
rc=0; wait "$E2D_PID" || rc=$?
[ $rc = 0 ] || fail "e2d exited with $rc on SIGTERM"
for p in "${GW_PIDS[@]}"; do
  kill -TERM "$p"
  rc=0; wait "$p" || rc=$?
  [ $rc = 0 ] || fail "a gateway exited with status $rc"
done
! grep -qi "$(head -c 64 "$T/k")" "$T"/*.log "$T"/*.out "$T"/*.err || fail "the key's hex digits in a log"
ok "NFs, e2d and both gateways stopped cleanly; the key in no log"
