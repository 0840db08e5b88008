#!/usr/bin/env bash
# make test: formatting, vet, workflowcheck over the workflow code, and every
# test. The end-to-end tests start a real Temporal dev server from the CLI
# (built once into ./bin). Store tests also run on MySQL when
# NUDGE_TEST_MYSQL_DSN is set; .ci/run sets it to the local MariaDB.
set -euo pipefail
cd "$(dirname "$0")/.."

NUDGE_TEMPORAL_BIN=$(scripts/temporal.sh)
export NUDGE_TEMPORAL_BIN
# Here, a missing Temporal CLI fails the end-to-end tests instead of skipping them.
export NUDGE_REQUIRE_E2E=1

echo "--- gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './bin/*' -not -path './.data/*'))
if [ -n "$unformatted" ]; then
  echo "These files need gofmt: $unformatted" >&2
  exit 1
fi
echo "--- go vet"
go vet ./...
echo "--- workflowcheck"
go run go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0 ./workflows/...
echo "--- go test"
go test -count=1 "$@" ./...
