#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# A CLI test that checks both the exit status and the output (CTest's
# PASS_REGULAR_EXPRESSION alone ignores the exit status, so a crash after the
# expected text would pass).
#
#   expect.sh STATUS REGEX COMMAND [ARGS...]
#
# Passes when COMMAND exits with exactly STATUS and its combined stdout and stderr
# match the extended regular expression REGEX.
if [ $# -lt 3 ]; then
	echo "usage: $0 STATUS REGEX COMMAND [ARGS...]" >&2
	exit 2
fi
want=$1 regex=$2
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne "$want" ]; then
	echo "expect: '$1' exited with $rc, not $want" >&2
	exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq -- "$regex"; then
	echo "expect: the output of '$1' does not match /$regex/" >&2
	exit 1
fi
exit 0
