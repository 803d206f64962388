#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every native NF's command line, through libe2nf's e2nf_args: an unknown option, an
# operand, a bad value of a shared or an own option, a missing required option and a
# missing file are each refused with exit status 2 and one line that names the program
# and the problem (never the whole manual); --help and -h print the manual and exit 0.
# Nothing here opens a port: every case ends before the NF would.
set -uo pipefail
BIN=${1:?usage: test_nf_cli.sh BUILD/native-nf}
T=$(mktemp -d /tmp/e2nf-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 cases=0

# expect NF STATUS TEXT ARGS...: e2nf-NF ARGS exits STATUS and says TEXT (stderr, or
# stdout for status 0) in at most 2 lines on stderr
expect() {
  local nf=$1 want=$2 text=$3 rc
  shift 3
  cases=$((cases + 1))
  "$BIN/e2nf-$nf" "$@" >"$T/out" 2>"$T/err"
  rc=$?
  local where="$T/err"
  [ "$want" = 0 ] && where="$T/out"
  if [ "$rc" != "$want" ] || ! grep -qF -- "$text" "$where" || [ "$(wc -l <"$T/err")" -gt 2 ]; then
    echo "FAIL: e2nf-$nf $*: status $rc (want $want), wanted '$text'"
    sed 's/^/  | /' "$T/err" | head -5
    fails=$((fails + 1))
  fi
}

# the shared cases, for every NF
for nf in fwd firewall nat lb meter vpn reasm ids httplog urlclass; do
  [ -x "$BIN/e2nf-$nf" ] || { echo "FAIL: $BIN/e2nf-$nf is not built"; fails=$((fails + 1)); continue; }
  expect $nf 2 "e2nf-$nf: unknown option --bogus (--help lists the options)" --bogus
  expect $nf 2 "e2nf-$nf: --ethdev takes no value" --ethdev=1
  expect $nf 2 "e2nf-$nf: unexpected argument 'extra'" --port /x extra
  expect $nf 2 "e2nf-$nf: --cpu=x: not a whole number" --cpu x
  expect $nf 2 "e2nf-$nf: --max-sleep-us=0" --max-sleep-us 0
  expect $nf 2 "e2nf-$nf: --port needs a value" --port
  expect $nf 0 "e2nf-$nf" --help
  expect $nf 0 "e2nf-$nf" -h
done

# what each one needs, and its own options' bad values
expect fwd 2 "e2nf-fwd: needs --port SOCK"
expect fwd 2 "e2nf-fwd: --tag takes ATTR=VALUE, not 'safe'" --port /x --tag safe
expect fwd 2 "e2nf-fwd: --tag: " --port /x --tag nosuch=1
expect fwd 2 "e2nf-fwd: --report-load=2" --port /x --report-load 2
for nf in nat lb meter vpn; do
  expect $nf 2 "e2nf-$nf: needs --config FILE" --port /x
done
for nf in nat lb meter; do
  expect $nf 2 "e2nf-$nf: configuration $T/none: cannot open" --config "$T/none" --check
done
expect vpn 2 "e2nf-vpn: $T/none: cannot open" --config "$T/none" --check
expect firewall 2 "e2nf-firewall: needs --rules FILE" --port /x
expect firewall 2 "e2nf-firewall: rules $T/none: cannot open" --rules "$T/none" --check
expect firewall 2 "e2nf-firewall: --flows=1" --flows 1
expect firewall 2 "e2nf-firewall: --idle-timeout=" --idle-timeout never
expect lb 2 "e2nf-lb: --flows=1" --flows 1
expect ids 2 "e2nf-ids: needs --rules FILE" --port /x
expect ids 2 "e2nf-ids: --matcher is hyperscan or ac, not 'grep'" --matcher grep
expect ids 2 "e2nf-ids: --flow-bytes=0" --flow-bytes 0
expect ids 2 "e2nf-ids: --stream-depth=-1" --stream-depth -1
expect reasm 2 "e2nf-reasm: needs --port SOCK"
expect reasm 2 "e2nf-reasm: --held-frames=0" --held-frames 0
expect reasm 2 "e2nf-reasm: --idle-timeout=0" --idle-timeout 0
expect reasm 0 "flows=1000" --flows 1000 --check
expect httplog 2 "e2nf-httplog: --http-port=0" --http-port 0
expect httplog 2 "e2nf-httplog: --http-port: at most 16 ports" $(for p in $(seq 1 17); do echo --http-port $p; done)
expect httplog 0 "3 HTTP port(s), not tagging" --http-port 80 --http-port 81 --http-port 82 --no-tag --check
expect httplog 0 "2 HTTP port(s), tagging url" --check
expect urlclass 2 "e2nf-urlclass: needs --categories FILE" --port /x
expect urlclass 2 "e2nf-urlclass: categories $T/none: cannot open" --categories "$T/none"
expect urlclass 2 "e2nf-urlclass: --http-port=70000" --http-port 70000

echo "$cases cases, $fails failed"
[ "$fails" = 0 ]
