#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs the real programs the tests
# drive when they are missing, then runs gofmt, go vet and the race-enabled tests.
# Missing programs are fatal inside the tests (MIGRATOR_STRICT_TESTS=1), so a green run
# means every real-component test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use, keyed by the file each provides.
declare -A want=(
  [/usr/bin/aws]=awscli                                  # AWS CLI v2: emulator wire-format test, LCC backup scripts
  [/usr/bin/shellcheck]=shellcheck                       # every shell script is linted (internal/backup)
  [/usr/lib/openssh/sftp-server]=openssh-sftp-server     # the real SFTP server behind our SSH test server
  [/usr/sbin/sshd]=openssh-server                        # a real sshd (default MaxSessions) for the SFTP tests
  [/usr/bin/ssh-keygen]=openssh-client                   # known_hosts handling in SFTP tests
  [/usr/bin/rsync]=rsync                                 # benchmark smoke test compares against it
  [/usr/bin/redis-server]=redis-server                   # jobs: the queue and job records (asynq)
)
missing=()
for f in "${!want[@]}"; do [ -e "$f" ] || missing+=("${want[$f]}"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: missing ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== gofmt"
mapfile -t gofiles < <(git ls-files '*.go' 2>/dev/null || find . -name '*.go')
unformatted=$(gofmt -l "${gofiles[@]}")
if [ -n "$unformatted" ]; then echo "not gofmt'ed:"; echo "$unformatted"; exit 1; fi

echo "== go vet"
go vet ./...

# The control-plane commands run on administrators' laptops; the mover (local
# homes), sftp-server and the worker's copies are Linux only, behind build tags
# (efs.ErrUnsupportedPlatform elsewhere). macOS must keep building and vetting.
# One target only: on a fresh machine each one compiles the whole dependency tree
# (the AWS SDK...) again, ~4 min on 2 cores; Windows is checked by hand (README).
echo "== cross-build and vet: darwin/arm64"
GOOS=darwin GOARCH=arm64 go build ./cmd/...
GOOS=darwin GOARCH=arm64 go vet ./...

echo "== go test -race"
export MIGRATOR_STRICT_TESTS=1
go test -race -count=1 -timeout 20m "$@" ./...
