#!/usr/bin/env bash
# make dev: the Temporal dev server (SQLite under .data/, Web UI on :8233),
# then Nudge's worker and gateway in one process. Ctrl-C stops both.
# Restarting keeps contacts and running journeys: both databases are files.
set -euo pipefail
cd "$(dirname "$0")/.."

temporal_bin=$(scripts/temporal.sh)
go build -o bin/nudge ./cmd/nudge
mkdir -p .data
port=${NUDGE_TEMPORAL_PORT:-7233}
ui_port=${NUDGE_TEMPORAL_UI_PORT:-8233}
export NUDGE_TEMPORAL_ADDRESS=${NUDGE_TEMPORAL_ADDRESS:-127.0.0.1:$port}
export NUDGE_TEMPORAL_UI_URL=${NUDGE_TEMPORAL_UI_URL:-http://localhost:$ui_port}

if "$temporal_bin" operator cluster health --address "$NUDGE_TEMPORAL_ADDRESS" >/dev/null 2>&1; then
  echo "Using the Temporal server already running at $NUDGE_TEMPORAL_ADDRESS."
else
  echo "Starting the Temporal dev server (log: .data/temporal.log)..."
  search_attributes=()
  for sa in $(bin/nudge search-attributes); do
    search_attributes+=(--search-attribute "$sa")
  done
  # The UI decodes payloads through the gateway's codec endpoint, for a
  # browser signed in at /codec/login with the admin key.
  codec=()
  if [ "${NUDGE_ENCRYPTION:-}" != off ]; then
    codec=(--ui-codec-endpoint "${NUDGE_PUBLIC_URL:-http://localhost:8080}/codec")
  fi
  "$temporal_bin" server start-dev \
    --ip 127.0.0.1 --port "$port" --ui-port "$ui_port" \
    --db-filename .data/temporal.db --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=NORMAL \
    --dynamic-config-value system.enableActivityEagerExecution=true \
    --dynamic-config-value matching.numTaskqueueReadPartitions=1 \
    --dynamic-config-value matching.numTaskqueueWritePartitions=1 \
    "${search_attributes[@]}" "${codec[@]}" --log-level warn >>.data/temporal.log 2>&1 &
  temporal_pid=$!
  trap 'kill $temporal_pid 2>/dev/null || true; wait $temporal_pid 2>/dev/null || true' EXIT
  for _ in $(seq 1 120); do
    "$temporal_bin" operator cluster health --address "$NUDGE_TEMPORAL_ADDRESS" >/dev/null 2>&1 && break
    kill -0 "$temporal_pid" 2>/dev/null || { echo "The Temporal dev server exited; see .data/temporal.log" >&2; exit 1; }
    sleep 0.5
  done
fi

bin/nudge dev
