#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# `e2ctl autoscale`: a load trace through the controller's scaling rule gives the verdicts
# test_autoscale.c expects of e2_autoscale_step (out after sustain, the cooldown, three in
# at once, never below --min), one line per trace line; bad knobs and bad trace lines are
# refused naming the option or the line.
set -euo pipefail
E2CTL=${1:?usage: test_e2ctl_autoscale.sh E2CTL}
fail() { echo "FAIL: $*"; exit 1; }
verdicts() { "$E2CTL" autoscale "$@" | awk '{print $1, $2, $3}' | paste -sd '|' -; }

got=$(printf '%s\n' '# time loads' '0 0.9' '1 0.9' '2 0.9' '' '3 0.5 0.5' '10 0.9 0.9 0.9' '40 0.9 0.9' \
  '43 0.9 0.9' '50 0.1 0.1 0.1 0.1' '53 0.1 0.1 0.1 0.1' '80 0.1 0.1 0.1 0.1' '83 0.1 0.1 0.1 0.1' | verdicts --sustain 2 --cooldown 30)
want='hold - 0|hold - 0|out 0 1|hold - 0|hold - 0|out 0 1|hold - 0|hold - 0|hold - 0|in 0 3|hold - 0'
[ "$got" = "$want" ] || fail "verdicts: got '$got', want '$want'"
echo "ok - out after sustain, held by the cooldown, three in at once"

got=$(printf '0 0.1 0.1 0.1\n5 0.1 0.1 0.1\n' | verdicts --sustain 1 --min 2)
[ "$got" = 'hold - 0|in 0 1' ] || fail "--min 2: got '$got'"
got=$(printf '0 0.9 -\n5 0.9 -\n' | verdicts --sustain 1 --max 2)
[ "$got" = 'hold - 0|hold - 0' ] || fail "--max 2 with an unknown load: got '$got'"
echo "ok - never below --min nor above --max; an unknown load is no reason to scale in"

refused() { # WANT ARGS... (the trace on stdin): exit status 1 or 2 and WANT on stderr
  local want=$1 err rc=0
  shift
  err=$("$E2CTL" autoscale "$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" = 1 ] || [ "$rc" = 2 ] || fail "'$*' exited $rc, not refused"
  grep -qF -- "$want" <<<"$err" || fail "'$*': '$err' does not say '$want'"
}
refused 'scale_in_below 0.9 is not below scale_out_above 0.8' --in-below 0.9 </dev/null
refused '--min 3 is above --max 2' --min 3 --max 2 </dev/null
refused '--sustain' --sustain soon </dev/null
refused "unknown option" --often </dev/null
printf '1 0.5\n0.5 0.5\n' | refused '<stdin>:2: TIME 0.5 is before'
printf '1 0.5\nx 0.5\n' | refused '<stdin>:2: TIME=x'
printf '# c\n1 half\n' | refused '<stdin>:2: LOAD=half'
printf '1\n' | refused '<stdin>:1: no load after the time'
printf '1 %s\n' "$(seq -s ' ' 40 | sed 's/[0-9]*/0.1/g')" | refused '<stdin>:1: too many words'
echo "ok - bad knobs and bad lines refused, naming the option or the line"
