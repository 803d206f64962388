#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Runs one libFuzzer target for CTest (see e2_fuzzer in cmake/E2.cmake).
#
#   fuzz-run.sh FUZZER SEED RUNS [SEED_CORPUS_DIR...]
#
# The seed corpora stay read only: libFuzzer writes what it finds into the first
# corpus directory it is given, so that is a fresh temporary directory, removed on
# exit, and the seed directories come after it. A fixed SEED and a fixed number of
# RUNS (not a time limit) make two runs execute the same inputs. On failure the
# failing input is printed (hex dump and base64), so that a CI log alone is enough
# to replay it. The script also fails if a seed corpus changed during the run.
set -u

if [ $# -lt 3 ]; then
	echo "usage: $0 FUZZER SEED RUNS [SEED_CORPUS_DIR...]" >&2
	exit 2
fi
fuzzer=$1 seed=$2 runs=$3
shift 3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/e2-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# One "sha256  path" line per file of the seed corpora, in a stable order.
listing() {
	for d in "$@"; do
		find "$d" -type f | LC_ALL=C sort | while IFS= read -r f; do
			sha256sum "$f"
		done
	done
}

for d in "$@"; do
	if [ ! -d "$d" ]; then
		echo "fuzz-run: seed corpus '$d' is not a directory" >&2
		exit 2
	fi
done
before=$(listing "$@")

mkdir "$tmp/new" "$tmp/artifacts"
# libFuzzer feeds the operands of traced comparisons back into its mutations, filed
# under the address of the comparing code, so with address space randomisation two
# runs with the same seed drift apart: run without it where the system lets us.
norandom=
if setarch "$(uname -m)" -R true 2>/dev/null; then
	norandom="setarch $(uname -m) -R"
else
	echo "fuzz-run: cannot turn off address randomisation; runs may not repeat exactly" >&2
fi
# -reload=0: do not re-read the corpus every few seconds, which would make the
# inputs depend on timing.
$norandom "$fuzzer" -seed="$seed" -runs="$runs" -reload=0 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$tmp/artifacts/" "$tmp/new" "$@"
rc=$?

for f in "$tmp"/artifacts/*; do
	[ -f "$f" ] || continue
	size=$(wc -c <"$f")
	echo "---- fuzz-run: failing input $(basename "$f") ($size bytes), hex:"
	od -A x -t x1z -v "$f"
	echo "---- base64 (to replay, decode it with 'base64 -d >crash' and run '$(basename "$fuzzer") crash'):"
	base64 "$f"
	echo "---- end of $(basename "$f")"
done

# What the run found, as one digest over the units it wrote: two runs that executed the
# same inputs write the same units, so equal digests are what "the run repeats" means.
units=$(find "$tmp/new" -type f | wc -l)
digest=$(find "$tmp/new" -type f -exec sha256sum {} + | awk '{print $1}' | LC_ALL=C sort | sha256sum | cut -c1-16)
echo "fuzz-run: $(basename "$fuzzer") seed=$seed runs=$runs new_units=$units units_digest=$digest"

after=$(listing "$@")
if [ "$before" != "$after" ]; then
	echo "fuzz-run: the seed corpus changed during the run:" >&2
	printf '%s\n' "$before" >"$tmp/before"
	printf '%s\n' "$after" >"$tmp/after"
	diff "$tmp/before" "$tmp/after" >&2
	[ $rc -ne 0 ] || rc=1
fi
exit $rc
