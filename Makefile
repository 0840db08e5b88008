# The two commands a new user needs: `make dev` and `make test`.
.PHONY: dev test fuzz bench chaos temporal

# Temporal dev server + Web UI, worker and gateway; leaves them running.
dev:
	scripts/dev.sh

# Every test, with a real Temporal dev server for the end-to-end ones.
test:
	scripts/test.sh

# Each Go fuzz target in turn for FUZZTIME (default 30s); make test runs their seed corpora.
fuzz:
	scripts/fuzz.sh

# Gateway throughput against raw SignalWithStart, and signup-to-email latency.
bench:
	scripts/bench.sh

# Failure scenarios (kill -9, slow and uncertain SMTP, outages, MySQL restart) on a real stack; not part of make test.
chaos:
	scripts/chaos.sh

# Build the Temporal CLI into ./bin if there is none (make dev and make test do this too).
temporal:
	scripts/temporal.sh
