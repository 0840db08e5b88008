#!/usr/bin/env bash
# make fuzz: run each Go fuzz target in turn for FUZZTIME (default 30s),
# stopping at the first failure. The targets are found by grep (every
# `func FuzzXxx` in a _test.go file); name some to run only those:
#
#   scripts/fuzz.sh                       # all of them
#   FUZZTIME=2m scripts/fuzz.sh FuzzSegmentBatch
#
# FUZZMINIMIZETIME (default 5s) caps the time spent shrinking each new
# interesting input, which go test otherwise lets run for a minute: with
# the large webhook bodies, that would take most of a short run.
#
# A failing input is written to the package's testdata/fuzz/<Target>/,
# where it becomes a seed that `make test` runs from then on: fix the bug,
# keep the file. The seed corpora run with every `go test` already; this
# explores beyond them.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-30s}
minimize=${FUZZMINIMIZETIME:-5s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# "dir target" lines, sorted by package then target.
targets=$(grep -rH --include='*_test.go' --exclude-dir=bin --exclude-dir=.data --exclude-dir=.git \
  -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
  sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' | sort -u)
if [ -z "$targets" ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi

ran=0
while read -r dir name; do
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then
    continue
  fi
  ran=$((ran + 1))
  echo "--- $name (./$dir, $fuzztime)"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "./$dir" 2>&1 | tee "$log"; then
    echo >&2
    echo "FAILED: $name in ./$dir" >&2
    if input=$(grep -oE 'Failing input written to [^ ]+' "$log" | head -n1 | sed 's/^Failing input written to //'); [ -n "$input" ]; then
      echo "The failing input is in ./$dir/$input" >&2
      echo "Re-run it with: go test -run '^${name}/$(basename "$input")\$' ./$dir" >&2
    else
      echo "No failing input was written (the target did not build, or the failure is in its set-up): see the output above." >&2
    fi
    exit 1
  fi
done <<<"$targets"

if [ "$ran" -eq 0 ]; then
  echo "no fuzz target named $*" >&2
  exit 1
fi
echo "--- all $ran fuzz targets ran for $fuzztime each without a failure"
