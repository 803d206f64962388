#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Alpine's plans are E2D commands: for every example graph, the plan `alpine plan` writes
# is applied, line by line, to a running e2d that holds the graph, and the result is
# read back from e2d: every queue the plan adds is in the graph, every scheduler node it
# adds is in the tree, every task sits on the worker the plan put it on. A refused line
# fails the test with e2d's message. Every e2d is stopped by PID, even on failure.
#
#   test_alpine_e2d.sh ALPINE VSWITCH_BUILD_DIR EXAMPLES_DIR
set -euo pipefail
ALPINE=${1:?usage: test_alpine_e2d.sh ALPINE VSWITCH_BUILD_DIR EXAMPLES_DIR}
VS=${2:?}; EX=${3:?}
command -v python3 >/dev/null || { echo "skip: needs python3"; exit 77; }
T=$(mktemp -d /tmp/e2-alpine-e2d.XXXXXX)
PID=""
stop_e2d() {
  [ -n "$PID" ] || return 0
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}
cleanup() { stop_e2d; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/e2d.log" ] && tail -5 "$T/e2d.log" >&2; exit 1; }
ctl() { "$VS/e2ctl-dp" --ctl "$T/e2d.ctl" "$@"; }

# The graph as an E2D configuration: the example's own (e2d_config) or one made from
# its JSON modules and edges. Ports are null devices that receive nothing; a module of
# a class e2d does not have (Alpine's graphs name the seeds' Click elements) becomes a
# hash_split with as many output gates as the graph uses, which e2d schedules alike.
base_config() { # JSON OUT
  python3 - "$1" "$2" <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
g = json.load(open(src))
if g.get("e2d_config"):
    with open(os.path.join(os.path.dirname(src), g["e2d_config"])) as f, open(out, "w") as o:
        o.write(f.read())
    sys.exit(0)
gates = {}
def split(end):
    name, _, gate = end.partition(":")
    return name, int(gate or 0)
for a, b in g["edges"]:
    n, k = split(a)
    gates[n] = max(gates.get(n, 0), k + 1)
lines, ports = [], 0
real = {"port_in", "port_out", "queue", "sink"}
for m in g["modules"]:
    name, cls, args = m["name"], m.get("class", ""), m.get("args", "")
    if cls in ("port_in", "port_out"):
        port = dict(kv.split("=", 1) for kv in args.split()).get("port", "p%d" % ports)
        if not any(l.startswith("port add %s " % port) for l in lines):
            lines.append("port add %s pmd devargs=net_null%d,no-rx=1" % (port, ports))
            ports += 1
        lines.append("module add %s %s port=%s" % (name, cls, port))
    elif cls in real:
        lines.append("module add %s %s %s" % (name, cls, args))
    else:
        lines.append("module add %s hash_split gates=%d" % (name, max(gates.get(name, 1), 1)))
for a, b in g["edges"]:
    lines.append("connect %s %s" % (a, b))
open(out, "w").write("\n".join(lines) + "\n")
PY
}

start_e2d() { # CONFIG
  rm -f "$T/e2d.ctl"
  # no worker of e2d's own: the plan adds the workers it wants
  "$VS/e2d" --ctl "$T/e2d.ctl" --config "$1" --worker-core none --no-huge --mbufs 4095 \
    --file-prefix "alp$$" --log-level error >"$T/e2d.log" 2>&1 &
  PID=$!
  for _ in $(seq 200); do
    [ -S "$T/e2d.ctl" ] && return 0
    kill -0 "$PID" 2>/dev/null || fail "e2d refused $1: $(cat "$T/e2d.log")"
    sleep 0.05
  done
  fail "e2d did not start"
}

n_ok=0
for graph in "$EX"/*.json; do
  name=$(basename "$graph" .json)
  base_config "$graph" "$T/$name.conf" || fail "$name: cannot make its E2D configuration"
  "$ALPINE" plan "$graph" --workers 2 --out "$T/$name.plan" >"$T/alpine.out" 2>&1 ||
    fail "$name: alpine plan failed: $(tail -3 "$T/alpine.out")"
  grep -qv '^\(#.*\)\?$' "$T/$name.plan" || fail "$name: the plan is empty"
  start_e2d "$T/$name.conf"
  if ! ctl -f "$T/$name.plan" >"$T/apply.out" 2>&1; then
    at=$(sed -n 's/.*stopped at .*:\([0-9]*\)$/\1/p' "$T/apply.out")
    fail "$name: e2d refused plan line ${at:-?} '$(sed -n "${at:-0}p" "$T/$name.plan")': $(grep -v 'stopped at' "$T/apply.out" | tail -2)"
  fi
  list=$(ctl list); tree=$(ctl sched show); stats=$(ctl stats)
  for q in $(sed -n 's/^module add \([^ ]*\) queue.*/\1/p' "$T/$name.plan"); do
    echo "$list" | awk -v q="$q" '$1==q && $2=="queue" {f=1} END {exit !f}' || fail "$name: queue $q is not in e2d's graph"
  done
  # each queue sits on the edge the plan put it on: FROM[:GATE] -> queue -> the old peer
  while read -r from q; do
    m=${from%%:*}; g=0; [ "$m" = "$from" ] || g=${from#*:}
    echo "$list" | awk -v m="$m" -v e="$g->$q:0" '$1==m {for (i=7; i<=NF; i++) if ($i==e) f=1} END {exit !f}' ||
      fail "$name: $from does not lead to queue $q: $(echo "$list" | awk -v m="$m" '$1==m')"
    echo "$list" | awk -v q="$q" '$1==q {for (i=7; i<=NF; i++) if ($i ~ /^0->/ && $i !~ /\(none\)/) f=1} END {exit !f}' ||
      fail "$name: queue $q leads nowhere"
  done < <(sed -n 's/^insert \([^ ]*\) \([^ ]*\)$/\1 \2/p' "$T/$name.plan")
  [ "$(grep -c '^insert ' "$T/$name.plan")" = "$(grep -c '^module add [^ ]* queue' "$T/$name.plan")" ] ||
    fail "$name: the plan adds queues it does not insert"
  for node in $(sed -n 's/^sched add \([^ ]*\) .*/\1/p' "$T/$name.plan"); do
    echo "$tree" | grep -qw -- "$node" || fail "$name: scheduler node $node is not in e2d's tree: $tree"
  done
  while read -r task worker; do
    echo "$stats" | awk -v w="$worker" -v t="$task" '
      /^WORKER/ {s=1; next} s && $1==w {for (i=6; i<=NF; i++) if ($i==t) f=1} END {exit !f}' ||
      fail "$name: task $task is not on worker $worker: $(echo "$stats" | sed -n '/^WORKER/,$p')"
  done < <(sed -n 's/^task attach \([^ ]*\) worker=\([0-9]*\).*/\1 \2/p' "$T/$name.plan")
  stop_e2d
  echo "ok - $name: $(grep -cv '^\(#.*\)\?$' "$T/$name.plan") plan lines applied to a live e2d; queues, scheduler nodes and task placement read back"
  n_ok=$((n_ok + 1))
done
[ "$n_ok" -gt 0 ] || fail "no example graphs in $EX"
echo "all $n_ok Alpine plans applied to e2d"
