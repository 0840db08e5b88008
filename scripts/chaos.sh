#!/usr/bin/env bash
# make chaos: failure scenarios against a real stack on loopback (Temporal
# dev server, worker and gateway processes, an SMTP server the harness
# steers, SQLite and the local MariaDB). Not part of make test. Flags pass
# through:
#   scripts/chaos.sh -only poison,uncertain -signups 50
set -euo pipefail
cd "$(dirname "$0")/.."
temporal_bin=$(scripts/temporal.sh)
bin_dir=$(mktemp -d)
trap 'rm -rf "$bin_dir"' EXIT
echo "Building nudge and the chaos harness..." >&2
go build -o "$bin_dir/nudge" ./cmd/nudge
go build -o "$bin_dir/chaos" ./scripts/chaos
"$bin_dir/chaos" -nudge "$bin_dir/nudge" -temporal "$temporal_bin" "$@"
