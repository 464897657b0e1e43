# The migrator binary for the worker (docker-compose.yml) and for running the CLI
# next to it: docker compose run --rm worker status JOB
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/migrator ./cmd/migrator

FROM debian:bookworm-slim
# ca-certificates: TLS to AWS and rediss://; openssh-client: known_hosts handling
# for sftp:// locations.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/migrator /usr/local/bin/migrator
# Root: the worker re-owns copied files to the new UIDs (chown needs root or
# CAP_CHOWN on the mounted EFS, which must allow root access: ClientRootAccess).
USER root
ENTRYPOINT ["migrator"]
CMD ["worker"]
