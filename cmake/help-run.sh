#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every program answers --help: exit status 0 and its usage (a "usage:" line or a
# SYNOPSIS) within 10 s, doing nothing else. An option parser's refusal says "--help
# lists the options" (common/opts.c), so that must hold for every program we install.
#
#   help-run.sh PROGRAM...
set -uo pipefail
# anything a program writes into its working directory lands here, not in the build tree
work=$(mktemp -d /tmp/e2-help.XXXXXX) || exit 2
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
failed=0
for prog in "$@"; do
  name=$(basename "$prog")
  out=$(timeout -k 1 10 "$prog" --help 2>&1 </dev/null)
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL $name --help: exit status $rc: $(head -n 2 <<<"$out")"
    failed=$((failed + 1))
  elif ! grep -qiE '^ *usage:|^SYNOPSIS' <<<"$out"; then
    echo "FAIL $name --help: no usage in: $(head -n 2 <<<"$out")"
    failed=$((failed + 1))
  else
    echo "ok   $name"
  fi
done
echo "help: programs=$# failed=$failed"
[ $failed -eq 0 ]
