#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Integration test: real traffic through e2-fwd and e2-firewall, each running as a plain
# process between two veth pairs in network namespaces this script creates and deletes:
#
#   [client ns] c0 ==veth== n0 [nf ns: e2-fwd | e2-firewall] n1 ==veth== s0 [server ns]
#   10.77.0.1/24                                                         10.77.0.2/24
set -euo pipefail
fwd=${1:?usage: test_netns.sh E2_FWD E2_FIREWALL}
firewall=${2:?usage: test_netns.sh E2_FWD E2_FIREWALL}
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root for network namespaces"; exit 77; fi
PY=/usr/bin/python3

tag=e2l$$
C=$tag-c N=$tag-n S=$tag-s
work=$(mktemp -d /tmp/e2-legacy-netns.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in $C $N $S; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }

for ns in $C $N $S; do ip netns add "$ns"; done
ip -n $C link add name c0 type veth peer name n0 netns $N
ip -n $S link add name s0 type veth peer name n1 netns $N
ip -n $C addr add 10.77.0.1/24 dev c0
ip -n $S addr add 10.77.0.2/24 dev s0
for l in "$C c0" "$S s0" "$N n0" "$N n1" "$C lo" "$S lo" "$N lo"; do
  set -- $l; ip -n "$1" link set "$2" up
done

# Servers: a small page, a 3 MB file (GSO-sized TCP segments), and a second port.
mkdir -p "$work/www"
echo "hello from e2" > "$work/www/index.html"
head -c 3000000 /dev/urandom > "$work/www/big.bin"
for port in 8080 8081; do
  (cd "$work/www" && exec ip netns exec $S $PY -m http.server --bind 10.77.0.2 $port \
     >"$work/http$port.log" 2>&1) &
  pids+=($!)
done
for _ in $(seq 50); do
  ip netns exec $S curl -s -o /dev/null http://10.77.0.2:8080/ 2>/dev/null &&
    ip netns exec $S curl -s -o /dev/null http://10.77.0.2:8081/ 2>/dev/null && break
  sleep 0.1
done

# start_nf NAME CMD...: runs CMD in the NF namespace and waits for its first line.
start_nf() {
  local name=$1; shift
  ip netns exec $N "$@" >"$work/$name.log" 2>&1 &
  nf_pid=$!
  pids+=($nf_pid)
  for _ in $(seq 50); do
    [ -s "$work/$name.log" ] && return 0
    kill -0 $nf_pid 2>/dev/null || fail "$name exited at start"
    sleep 0.1
  done
  fail "$name did not start"
}
stop_nf() { kill -TERM "$nf_pid"; wait "$nf_pid" || fail "NF exited with an error"; }
client() { ip netns exec $C "$@"; }

# 0. Nothing connects the two sides without an NF.
client busybox ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1 && fail "traffic passes without an NF"

# 1. The forwarder passes everything, both ways.
start_nf fwd "$fwd" n0 n1
client busybox ping -c 3 -i 0.2 -W 2 10.77.0.2 >/dev/null || fail "ping through e2-fwd"
ip netns exec $S busybox ping -c 1 -W 2 10.77.0.1 >/dev/null || fail "reverse ping through e2-fwd"
[ "$(client curl -s --max-time 5 http://10.77.0.2:8080/)" = "hello from e2" ] ||
  fail "HTTP through e2-fwd"
got=$(client curl -s --max-time 10 http://10.77.0.2:8080/big.bin | sha256sum)
[ "$got" = "$(sha256sum < "$work/www/big.bin")" ] || fail "3 MB download through e2-fwd differs"
stop_nf
grep -Eq 'n0 rx=[1-9][0-9]* tx=[1-9]' "$work/fwd.log" || fail "e2-fwd counters: $(cat "$work/fwd.log")"
echo "ok: e2-fwd ping, HTTP, 3 MB download"

# 2. The firewall: the client may reach port 8080 and ping; nothing else may start.
cat > "$work/fw.rules" <<'RULES'
default drop
allow tcp  from 10.77.0.1 to 10.77.0.2 port 8080
allow icmp from 10.77.0.1 to any
RULES
"$firewall" --rules "$work/fw.rules" --check >/dev/null || fail "rules rejected"
ip -n $C neigh flush dev c0; ip -n $S neigh flush dev s0
start_nf firewall "$firewall" --rules "$work/fw.rules" n0 n1
client busybox ping -c 2 -i 0.2 -W 2 10.77.0.2 >/dev/null || fail "allowed ping through e2-firewall"
[ "$(client curl -s --max-time 5 http://10.77.0.2:8080/)" = "hello from e2" ] ||
  fail "allowed HTTP through e2-firewall"
got=$(client curl -s --max-time 10 http://10.77.0.2:8080/big.bin | sha256sum)
[ "$got" = "$(sha256sum < "$work/www/big.bin")" ] || fail "3 MB download through e2-firewall differs"
client curl -s --max-time 2 -o /dev/null http://10.77.0.2:8081/ && fail "denied port 8081 reachable"
ip netns exec $S busybox ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 && fail "server could ping the client"
stop_nf
grep -Eq 'new_allowed=[1-9].* dropped_rule=[1-9]' "$work/firewall.log" ||
  fail "firewall counters: $(cat "$work/firewall.log")"
echo "ok: e2-firewall allows 8080 and ping, drops 8081 and server-initiated ping"
echo "$(tail -n 1 "$work/firewall.log")"
