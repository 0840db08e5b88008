#!/usr/bin/env bash
# Prints the path of a Temporal CLI: the one on PATH, else ./bin/temporal,
# built once from source with the Go toolchain (no other download needed).
set -euo pipefail
cd "$(dirname "$0")/.."

# v1.5.1 is the newest CLI tag `go install` accepts: later tags' go.mod has a
# local replace directive.
version=v1.5.1

if [ -n "${NUDGE_TEMPORAL_BIN:-}" ] && [ -x "$NUDGE_TEMPORAL_BIN" ]; then
  echo "$NUDGE_TEMPORAL_BIN"; exit 0
fi
if command -v temporal >/dev/null 2>&1; then
  command -v temporal; exit 0
fi
if [ -x bin/temporal ]; then
  echo "$PWD/bin/temporal"; exit 0
fi
echo "Building the Temporal CLI $version into ./bin (once; about 5 minutes on 2 cores)..." >&2
mkdir -p bin
GOBIN="$PWD/bin" go install "github.com/temporalio/cli/cmd/temporal@$version" >&2
echo "$PWD/bin/temporal"
