#!/usr/bin/env bash
# The S3 backup benchmark, in one command:
#
#   bash bench/s3bench/run.sh [-files 10000] [-size 4096] [-workers 64] [-transfers 64]
#
# Installs the AWS CLI v2 (Debian awscli) and rclone when missing (as root), then
# times internal/backup's Backup, `aws s3 sync` and `rclone copy --transfers 64` on
# the same generated home against the same in-process S3 server, first run and rerun.
# Timings share the machine with whatever else runs: note the load it prints.
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
[ -x /usr/bin/aws ] || missing+=(awscli)
[ -x /usr/bin/rclone ] || missing+=(rclone)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "run as root, or: sudo apt-get install ${missing[*]}" >&2; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
go run ./bench/s3bench "$@"
