# SPDX-License-Identifier: BSD-3-Clause
# Sourced by native-nf's end-to-end tests: namespaces joined to the host by veth pairs,
# e2d with native-NF ports between them, and everything stopped by PID on exit, even on
# failure. What each test keeps to itself is its chain (e2d.conf, the NFs) and its checks.
#
#   nn_need_root CMD...     exit 77 (skip) unless root and every CMD is there
#   nn_need_hugepages N     exit 77 unless N 2 MiB hugepages are free
#   nn_begin TAG            T (scratch dir), PREFIX (DPDK file prefix), PIDS (stopped on
#                           exit: TERM, then KILL); an EXIT trap that also removes the
#                           namespaces, links and DPDK files nn_* made
#   nn_ns NS IF HOSTIF ADDR [MTU]
#                           namespace NS (made if new: exit 77 if namespaces cannot be) with
#                           veth IF at ADDR/24, its host end HOSTIF up; no offloads (e2d and
#                           the NFs do none: whole, checksummed frames of at most the MTU),
#                           no IPv6 (no stray router solicitations in the counts)
#   nn_link A B             a veth pair in the host, both ends up, the same settings
#   nn_start_e2d [ARGS...]  e2d --native-nfs on $T/e2d.conf, control socket $T/e2d.ctl,
#                           log $T/e2d.log; E2D_PID; fails unless the socket opens
#   fail MSG                prints MSG and the tails of $T's logs, exits 1
#   ok MSG

nn_need_root() {
  [ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
  local c
  for c in "$@"; do command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || { echo "skip: needs $c"; exit 77; }; done
}

nn_need_hugepages() {
  local free
  free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
  [ "$free" -ge "$1" ] || { echo "skip: needs $1 free 2 MiB hugepages (have $free)"; exit 77; }
}

NN_NETNS=() NN_LINKS=()
nn_cleanup() {
  local p x
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for x in "${NN_NETNS[@]}"; do ip netns del "$x" 2>/dev/null || true; done
  for x in "${NN_LINKS[@]}"; do ip link del "$x" 2>/dev/null || true; done
  rm -f /dev/hugepages/"${PREFIX}"map_* 2>/dev/null || true
  rm -rf "/var/run/dpdk/$PREFIX" "$T"
}

nn_begin() {
  T=$(mktemp -d "/tmp/$1.XXXXXX")
  PREFIX=$1-$$
  PIDS=()
  trap nn_cleanup EXIT
}

fail() {
  local f
  echo "FAIL: $*"
  for f in "$T"/*.log "$T"/*.out "$T"/*.err "$T"/*.stats; do [ -e "$f" ] && { echo "--- $f"; tail -25 "$f"; }; done
  exit 1
}
ok() { echo "ok - $*"; }

nn_host_end() {
  sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" || true
  ethtool -K "$1" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip link set "$1" up
}

nn_ns() {
  local ns=$1 dev=$2 host=$3 addr=$4 mtu=${5:-}
  if ! ip netns list | grep -qw "$ns"; then
    ip netns add "$ns" || { echo "skip: cannot create network namespaces"; exit 77; }
    NN_NETNS+=("$ns")
    ip netns exec "$ns" ip link set lo up
  fi
  ip link add "$dev" netns "$ns" type veth peer name "$host" || { echo "skip: cannot create veth pairs"; exit 77; }
  NN_LINKS+=("$host")
  ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1" || true
  ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  [ -z "$mtu" ] || ip netns exec "$ns" ip link set "$dev" mtu "$mtu"
  ip netns exec "$ns" ip addr add "$addr/24" dev "$dev"
  ip netns exec "$ns" ip link set "$dev" up
  nn_host_end "$host"
}

nn_link() {
  ip link add "$1" type veth peer name "$2" || { echo "skip: cannot create veth pairs"; exit 77; }
  NN_LINKS+=("$1")
  nn_host_end "$1"
  nn_host_end "$2"
}

nn_start_e2d() {
  "$E2D" --native-nfs --ctl "$T/e2d.ctl" --config "$T/e2d.conf" --file-prefix "$PREFIX" --mbufs 8191 --table-mb 32 \
    --log-level error "$@" >"$T/e2d.log" 2>&1 &
  E2D_PID=$!
  PIDS+=("$E2D_PID")
  local _
  for _ in $(seq 200); do
    [ -S "$T/e2d.ctl" ] && return 0
    kill -0 "$E2D_PID" 2>/dev/null || fail "e2d exited at start"
    sleep 0.05
  done
  fail "e2d did not open its control socket"
}
