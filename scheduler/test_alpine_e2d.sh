#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Alpine's plans are E2D commands: for every example graph, the plan `alpine plan` writes
# and the manual strawman's (which rewrites the graph) are applied, line by line, to a
# running e2d that holds the graph, and the result is read back from e2d: every queue the
# plan adds is in the graph, every scheduler node it adds is in the tree, every task sits
# on the worker the plan put it on, and the plan's graph (--graph-out) is what e2d now
# runs: its every module and edge, a queue the plan inserted allowed on an edge. That
# graph is also what `alpine check --graph` reads; plans carry no '#@' comments. A
# refused line fails the test with e2d's message. Every e2d is stopped by PID, even on
# failure.
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

# The manual strawman clones modules, of classes e2d may not have and exits onto ports
# that already have their output module: like base_config, a class e2d lacks becomes a
# hash_split with the gates the plan's graph uses, and a second output on a port a
# sink. Names and edges, which the read-back compares, stay as the plan wrote them.
for_e2d() { # PLAN PLANGRAPH CLASSES LIST OUT
  python3 - "$@" <<'PY'
import json, sys
plan, pgraph, classes, listing, out = sys.argv[1:]
g = json.load(open(pgraph))
known = {l.split()[0] for l in open(classes) if l[:1].strip() and not l.startswith("port:")}
gates = {}
for a, b in g["edges"]:
    name, _, gate = a.partition(":")
    gates[name] = max(gates.get(name, 1), int(gate or 0) + 1)
ports = set()  # those that have their output module already
for l in open(listing):
    w = l.split()
    if len(w) > 6 and w[1] == "port_out":
        ports.update(a[len("port="):] for a in w[6:] if a.startswith("port="))
lines = []
for line in open(plan):
    w = line.split()
    if w[:2] == ["module", "add"] and len(w) >= 4 and w[3] != "queue":
        name, cls, args = w[2], w[3], w[4:]
        port = next((a[len("port="):] for a in args if a.startswith("port=")), None)
        if cls == "port_out" and port in ports:
            line = "module add %s sink\n" % name
        elif cls == "port_out":
            ports.add(port)
        elif cls not in known:
            line = "module add %s hash_split gates=%d\n" % (name, gates.get(name, 1))
    lines.append(line)
open(out, "w").write("".join(lines))
PY
}

# The plan's graph against e2d's list: every module there, every edge FROM:G -> TO:I
# either there or split by one queue the plan inserted (FROM:G -> Q:0, Q:0 -> TO:I).
graph_in_e2d() { # PLANGRAPH PLAN LIST
  python3 - "$@" <<'PY'
import json, re, sys
pgraph, plan, listing = sys.argv[1:]
g = json.load(open(pgraph))
mods, out, section = set(), {}, None
for l in open(listing):
    w = l.split()
    if w[:1] in (["MODULE"], ["PORT"]):
        section = w[0]
        continue
    if section != "MODULE" or len(w) < 6:
        continue
    mods.add(w[0])
    for t in w[6:]:
        m = re.match(r"^(\d+)->(\S+):(\d+)$", t)
        if m:
            out[(w[0], int(m.group(1)))] = (m.group(2), int(m.group(3)))
queues = {w[2] for w in (l.split() for l in open(plan)) if w[:2] == ["module", "add"] and w[3:4] == ["queue"]}
def end(s):
    n, _, k = s.partition(":")
    return n, int(k or 0)
bad = ["module %s is not in e2d's graph" % m["name"] for m in g["modules"] if m["name"] not in mods]
for a, b in g["edges"]:
    f, t = end(a), end(b)
    got = out.get(f)
    if got and got[0] in queues and got[0] != t[0]:
        got = out.get((got[0], 0))
    if got != t:
        bad.append("edge %s -> %s: e2d has %s:%d -> %s" % (a, b, f[0], f[1], "%s:%d" % got if got else "nothing"))
if bad:
    print("; ".join(bad[:5]))
    sys.exit(1)
PY
}

# Plan KIND (plan or manual) for GRAPH, check it with its graph, apply it to a live e2d
# holding the graph, read it back.
plan_apply_read_back() { # GRAPH KIND
  local graph=$1 kind=$2 name rc
  name=$(basename "$graph" .json)
  local plan="$T/$name.$kind.plan" pgraph="$T/$name.$kind.json" what="$name ($kind)"
  if [ "$kind" = plan ]; then set -- plan "$graph"; else set -- strawman manual "$graph"; fi
  "$ALPINE" "$@" --workers 2 --out "$plan" --graph-out "$pgraph" >"$T/alpine.out" 2>&1 ||
    fail "$what: alpine failed: $(tail -3 "$T/alpine.out")"
  grep -qv '^\(#.*\)\?$' "$plan" || fail "$what: the plan is empty"
  ! grep -n '^[[:space:]]*#@' "$plan" || fail "$what: the plan still carries '#@' comments"
  rc=0; "$ALPINE" check "$graph" "$plan" --graph "$pgraph" >"$T/check.out" 2>&1 || rc=$?
  # 4: an SLO error of 1% or more, a verdict on the plan and not a failure to read it
  [ $rc = 0 ] || [ $rc = 4 ] || fail "$what: alpine check --graph refused it: $(tail -3 "$T/check.out")"
  start_e2d "$T/$name.conf"
  ctl classes >"$T/classes" && ctl list >"$T/before" || fail "$what: e2d does not answer"
  for_e2d "$plan" "$pgraph" "$T/classes" "$T/before" "$T/e2d.plan" || fail "$what: cannot adapt the plan"
  if ! ctl -f "$T/e2d.plan" >"$T/apply.out" 2>&1; then
    at=$(sed -n 's/.*stopped at .*:\([0-9]*\)$/\1/p' "$T/apply.out")
    fail "$what: e2d refused plan line ${at:-?} '$(sed -n "${at:-0}p" "$T/e2d.plan")': $(grep -v 'stopped at' "$T/apply.out" | tail -2)"
  fi
  list=$(ctl list); tree=$(ctl sched show); stats=$(ctl stats)
  for q in $(sed -n 's/^module add \([^ ]*\) queue.*/\1/p' "$plan"); do
    echo "$list" | awk -v q="$q" '$1==q && $2=="queue" {f=1} END {exit !f}' || fail "$what: queue $q is not in e2d's graph"
  done
  # each queue sits on the edge the plan put it on: FROM[:GATE] -> queue -> the old peer
  while read -r from q; do
    m=${from%%:*}; g=0; [ "$m" = "$from" ] || g=${from#*:}
    echo "$list" | awk -v m="$m" -v e="$g->$q:0" '$1==m {for (i=7; i<=NF; i++) if ($i==e) f=1} END {exit !f}' ||
      fail "$what: $from does not lead to queue $q: $(echo "$list" | awk -v m="$m" '$1==m')"
    echo "$list" | awk -v q="$q" '$1==q {for (i=7; i<=NF; i++) if ($i ~ /^0->/ && $i !~ /\(none\)/) f=1} END {exit !f}' ||
      fail "$what: queue $q leads nowhere"
  done < <(sed -n 's/^insert \([^ ]*\) \([^ ]*\)$/\1 \2/p' "$plan")
  [ "$(grep -c '^insert ' "$plan")" = "$(grep -c '^module add [^ ]* queue' "$plan")" ] ||
    fail "$what: the plan adds queues it does not insert"
  for node in $(sed -n 's/^sched add \([^ ]*\) .*/\1/p' "$plan"); do
    grep -qw -- "$node" <<<"$tree" || fail "$what: scheduler node $node is not in e2d's tree: $tree"
  done
  while read -r task worker; do
    echo "$stats" | awk -v w="$worker" -v t="$task" '
      /^WORKER/ {s=1; next} s && $1==w {for (i=6; i<=NF; i++) if ($i==t) f=1} END {exit !f}' ||
      fail "$what: task $task is not on worker $worker: $(echo "$stats" | sed -n '/^WORKER/,$p')"
  done < <(sed -n 's/^task attach \([^ ]*\) worker=\([0-9]*\).*/\1 \2/p' "$plan")
  echo "$list" >"$T/after"
  why=$(graph_in_e2d "$pgraph" "$plan" "$T/after") || fail "$what: the plan's graph is not what e2d runs: $why"
  stop_e2d
  echo "ok - $what: $(grep -cv '^\(#.*\)\?$' "$plan") plan lines applied to a live e2d; queues, scheduler nodes, task placement and the plan's graph read back"
}

n_ok=0
for graph in "$EX"/*.json; do
  name=$(basename "$graph" .json)
  base_config "$graph" "$T/$name.conf" || fail "$name: cannot make its E2D configuration"
  plan_apply_read_back "$graph" plan
  plan_apply_read_back "$graph" manual
  n_ok=$((n_ok + 1))
done
[ "$n_ok" -gt 0 ] || fail "no example graphs in $EX"
echo "all $n_ok Alpine plans and manual strawmen applied to e2d"
