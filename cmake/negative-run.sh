#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A negative corpus: each file in DIR other than *.expect is one bad input for one entry
# point, and DIR/NAME.expect holds a line of text its refusal must contain.
#
#   negative-run.sh DIR LIMIT_MS -- COMMAND [ARGS...]
#
# In ARGS, {} is replaced by the case's path and {args} by the words of a NAME.args case
# (flags: one line, split at blanks). Every case must
#   - be refused: exit status 1..125 (not 0, not a signal, not a time-out),
#   - print the expected text (stdout and stderr together),
#   - finish within LIMIT_MS milliseconds (E2_NEGATIVE_SLACK multiplies it, e.g. under
#     sanitizers on a busy machine; the time is printed either way),
#   - leave no sanitizer report.
# Prints one line per case and a summary: "negative: DIR cases=N failed=N max_ms=M".
# E2_NEGATIVE_RECORD=1 writes each NAME.expect that says TODO from the refusal's first
# line: for adding cases; review what it wrote. In both, the corpus directory is cut out
# of the output, so messages name a case by its file name.
set -uo pipefail
dir=${1:?usage: negative-run.sh DIR LIMIT_MS -- COMMAND...}
limit=${2:?}
shift 2
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "negative-run: no command" >&2; exit 2; }
slack=${E2_NEGATIVE_SLACK:-1}
limit=$((limit * slack))
work=$(mktemp -d /tmp/e2-negative.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2

n=0 failed=0 max_ms=0
for input in "$dir"/*; do
  name=$(basename "$input")
  case $name in *.expect|README*) continue;; esac
  base=${name%.*}
  n=$((n + 1))
  if [ ! -f "$dir/$base.expect" ]; then
    echo "FAIL $name: no $base.expect"; failed=$((failed + 1)); continue
  fi
  want=$(head -n 1 "$dir/$base.expect")
  record=0
  [ "${E2_NEGATIVE_RECORD:-0}" = 1 ] && [ "$want" = TODO ] && record=1
  words=()
  [ "${name##*.}" = args ] && read -ra words <"$input"
  cmd=()
  for a in "$@"; do
    case $a in
      '{}') cmd+=("$input");;
      '{args}') cmd+=("${words[@]}");;
      *) cmd+=("${a//\{\}/$input}");;
    esac
  done
  t0=$(date +%s%N)
  out=$(timeout -k 1 20 "${cmd[@]}" 2>&1 </dev/null)
  rc=$?
  # messages name the case by its path: compare them with the corpus directory cut out
  out=${out//"$dir/"/}
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ $ms -gt $max_ms ] && max_ms=$ms
  why=
  if [ $record = 1 ] && [ $rc -ge 1 ] && [ $rc -le 125 ]; then
    want=$(printf '%s\n' "$out" | grep -v '^\s*$' | head -n 1 | cut -c1-300)
    printf '%s\n' "$want" >"$dir/$base.expect"
  fi
  if [ $rc -eq 0 ]; then why="accepted (exit 0)"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then why="hung (killed after 20 s)"
  elif [ $rc -gt 125 ]; then why="died (exit $rc)"
  # matched in the shell, not by a pipe into grep -q: no second process whose exit (or a
  # SIGPIPE under pipefail) could decide a case (a CI run once failed a case whose output
  # held the text)
  elif [[ $out =~ AddressSanitizer|LeakSanitizer|runtime\ error:|UndefinedBehaviorSanitizer ]]; then
    why="sanitizer report"
  elif [[ $out != *"$want"* ]]; then why="message lacks '$want'"
  elif [ $ms -gt $limit ]; then why="took $ms ms (limit $limit)"
  fi
  if [ -n "$why" ]; then
    failed=$((failed + 1))
    echo "FAIL $name: $why"
    printf '%s\n' "$out" | head -n 15 | sed 's/^/    /'
  else
    echo "ok   $name ($ms ms): $(printf '%s' "$out" | grep -F -- "$want" | head -n 1 | cut -c1-160)"
  fi
done
echo "negative: $(basename "$dir") cases=$n failed=$failed max_ms=$max_ms"
[ $n -gt 0 ] && [ $failed -eq 0 ]
