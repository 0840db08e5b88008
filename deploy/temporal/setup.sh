#!/bin/sh
# Registers the search attributes Nudge sets on its workflows (see
# workflows/catalog.go) on the namespace it runs in, then checks they are
# there. Run once by the temporal-setup service in docker-compose.yml, with
# the temporalio/admin-tools image; safe to run again.
#
# Environment: TEMPORAL_ADDRESS (host:port of the frontend), NAMESPACE.
set -eu

: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS to the Temporal frontend, e.g. temporal:7233}"
: "${NAMESPACE:?set NAMESPACE to the namespace Nudge uses (NUDGE_TEMPORAL_NAMESPACE)}"
export TEMPORAL_ADDRESS

# temporalio/auto-setup registers the namespace shortly after the server is up.
tries=0
until temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -ge 120 ]; then
		echo "temporal-setup: namespace $NAMESPACE not found at $TEMPORAL_ADDRESS after 4 minutes" >&2
		exit 1
	fi
	echo "temporal-setup: waiting for namespace $NAMESPACE at $TEMPORAL_ADDRESS"
	sleep 2
done

# has NAME: the attribute is already registered on the namespace.
has() {
	temporal operator search-attribute list --namespace "$NAMESPACE" | grep -qw -- "$1"
}

# create NAME TYPE, unless it is already there (so a re-run does not fail).
create() {
	if has "$1"; then
		echo "temporal-setup: search attribute $1 already registered"
		return
	fi
	temporal operator search-attribute create --namespace "$NAMESPACE" --name "$1" --type "$2"
	echo "temporal-setup: registered search attribute $1 ($2)"
}

create ContactID Keyword
create Journey Keyword
create JourneyStep Keyword
create LeadScore Int
create LifecycleStage Keyword

for name in ContactID Journey JourneyStep LeadScore LifecycleStage; do
	if ! has "$name"; then
		echo "temporal-setup: search attribute $name is missing on namespace $NAMESPACE after registering it" >&2
		exit 1
	fi
done
echo "temporal-setup: search attributes ready on namespace $NAMESPACE"
