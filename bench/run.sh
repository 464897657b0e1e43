#!/usr/bin/env bash
# The home-directory copy benchmark, in one command (as root):
#
#   bash bench/run.sh [--files 100000] [--runs 3] [--scenarios tmpfs,efs,sftp,bigfile] [homebench flags...]
#   bash bench/run.sh --table [homebench flags...]
#
# --table runs the shapes of issue 12 in one go and prints one Markdown table: on
# tmpfs the 100k home-like tree, 20,000 tiny files, one flat directory of 2,000
# files and 2,000 files in directories of 100; on the emulated EFS the 1,000-file
# home, the flat and the 100-file-directory trees, the mover also through 4 mounts
# (--to-mount); the rerun over each finished copy; the 1 GiB file with the RSS.
#
# Builds the mover, migrator-copy-home (copy-home alone, without the AWS SDK; static,
# as the README builds it for an EFS host), and homebench, installs the compared
# tools when missing, and runs bench/cmd/homebench with the mover; all flags pass
# through (`go run ./bench/cmd/homebench -h` lists them): `-mover bench/out/migrator`
# times `migrator copy-home` instead (the same code, plus the SDK's ~0.07 s start-up). Prints a table of medians, speedups
# and the project's performance targets, and writes JSON to bench/out/.
#
# Timings share the machine with whatever else runs: run it on a quiet host, and
# compare ratios rather than absolute seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "bench/run.sh: run as root (every tool chowns to another UID; FUSE mounts)" >&2
  exit 1
fi

declare -A want=(
  [/usr/bin/rsync]=rsync
  [/usr/bin/scp]=openssh-client
  [/usr/bin/sftp]=openssh-client
  [/usr/lib/openssh/sftp-server]=openssh-sftp-server
)
missing=()
for f in "${!want[@]}"; do [ -e "$f" ] || missing+=("${want[$f]}"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p bench/out
echo "== building migrator-copy-home, migrator and homebench"
CGO_ENABLED=0 go build -o bench/out/migrator-copy-home ./cmd/migrator-copy-home
go build -o bench/out/migrator ./cmd/migrator
go build -o bench/out/homebench ./bench/cmd/homebench

args=()
for a in "$@"; do
  if [ "$a" = --table ]; then
    args+=(-scenarios "tmpfs,efs,bigfile" -tmpfs-shapes "home,tiny,flat,dirs100" -efs-shapes "home,flat,dirs100"
      -efs-mounts 4 -runs 5 -efs-runs 3 -efs-baseline-runs 1 -bigfile-runs 5 -markdown)
  else
    args+=("$a")
  fi
done
exec bench/out/homebench -mover bench/out/migrator-copy-home "${args[@]}"
