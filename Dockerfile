# syntax=docker/dockerfile:1

# Nudge: one binary, `nudge worker | gateway | migrate | dev | simulate`.
#
#   docker build -t nudge .
#   docker run --rm nudge gateway        # or worker, migrate, ...
#
# The Go version follows go.mod's `go` line (1.26.x).

# ---- build -------------------------------------------------------------------
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0

# Modules first, so this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

# Then the source (templates are embedded, so they come along here).
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -o /nudge ./cmd/nudge

# ---- runtime -----------------------------------------------------------------
# Alpine rather than distroless: busybox `wget` lets docker-compose.yml
# health-check the gateway's /healthz; ca-certificates for SMTP/Twilio/Slack/
# Temporal Cloud over TLS; tzdata so time.LoadLocation finds zones.
FROM alpine:3.22 AS runtime
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S -g 10001 nudge \
 && adduser -S -D -H -u 10001 -G nudge nudge \
 && install -d -o nudge -g nudge /var/lib/nudge
COPY --from=build /nudge /usr/local/bin/nudge
# A writable working directory: the default NUDGE_DATABASE_URL
# (sqlite://.data/nudge.db) is relative to it.
WORKDIR /var/lib/nudge
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/nudge"]
