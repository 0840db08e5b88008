#!/usr/bin/env bash
# make bench: gateway vs raw SignalWithStartWorkflow on one dev server, and
# sign-up to email latency. Not part of make test. Flags pass through:
#   scripts/bench.sh -events 5000 -concurrency 32
set -euo pipefail
cd "$(dirname "$0")/.."
NUDGE_TEMPORAL_BIN=$(scripts/temporal.sh)
export NUDGE_TEMPORAL_BIN
go run ./scripts/bench "$@"
