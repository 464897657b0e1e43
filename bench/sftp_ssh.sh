#!/usr/bin/env bash
# The SFTP targets of issue 8, over loopback to a stock OpenSSH sshd (default
# MaxSessions), as root:
#   - small files: `migrator copy-home` to sftp:// (recommended mode: this program's
#     sftp-server on the far end) vs `rsync -a -e ssh`, FILES files (default 5000);
#   - one big file (default 1 GiB): the same vs OpenSSH `sftp put`.
# Prints the median of RUNS runs (default 3) of each, the ratios and the load.
# Usage: bash bench/sftp_ssh.sh [FILES] [BIG_MIB] [RUNS]
# BASE_BIN=/path/to/older/migrator also times that build, interleaved (before/after);
# a BASE_BIN named migrator-copy-home* is run as copy-home itself, and as its own far
# end (migrator-copy-home sftp-server).
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-5000}
BIG_MIB=${2:-1024}
RUNS=${3:-3}
[ "$(id -u)" -eq 0 ] || { echo "bench/sftp_ssh.sh: run as root (sshd, chown)" >&2; exit 1; }
for b in /usr/sbin/sshd rsync sftp python3; do
  command -v "$b" >/dev/null || { echo "missing $b (apt-get install openssh-server openssh-client rsync python3)" >&2; exit 1; }
done

W=$(mktemp -d /tmp/sftpbench.XXXXXX)
SSHD_PID=
cleanup() { [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

echo "== building the migrator"
CGO_ENABLED=0 go build -o "$W/migrator" ./cmd/migrator

echo "== starting sshd"
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$W/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$W/id"
cp "$W/id.pub" "$W/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$W/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $W/hostkey
PidFile none
AuthorizedKeysFile $W/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel ERROR
EOF
# Every SSH session runs its command through root's login shell, which reads
# ~/.bashrc. A slow one (pyenv's init takes seconds in the dev container) is paid
# once by rsync and once per SFTP session by the mover (8 by default), and would
# measure the shell instead of the tools: unless KEEP_BASHRC=1, sshd runs in a
# private mount namespace where root's ~/.bashrc is empty (nothing changes outside it).
: >"$W/empty_bashrc"
if [ "${KEEP_BASHRC:-0}" != 1 ] && [ -f "$HOME/.bashrc" ] && unshare -m true 2>/dev/null; then
  echo "   (root's ~/.bashrc hidden from sshd's sessions; KEEP_BASHRC=1 keeps it)"
  unshare -m sh -c "mount --bind '$W/empty_bashrc' '$HOME/.bashrc' && exec /usr/sbin/sshd -D -e -f '$W/sshd_config'" 2>"$W/sshd.log" &
else
  /usr/sbin/sshd -D -e -f "$W/sshd_config" 2>"$W/sshd.log" &
fi
SSHD_PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$W/hostkey.pub")" >"$W/known_hosts"
SSH="ssh -F /dev/null -p $PORT -i $W/id -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$W/known_hosts -o GlobalKnownHostsFile=/dev/null"
t0=$(date +%s.%N); $SSH root@127.0.0.1 true; t1=$(date +%s.%N)
echo "   one SSH login running true: $(python3 -c "print(f'{$t1-$t0:.2f}s')")"
mover() { # binary, copy-home arguments... (migrator, or migrator-copy-home: no subcommand)
  local bin=$1; shift
  local sub=(copy-home)
  case "$(basename "$bin")" in migrator-copy-home*) sub=() ;; esac
  "$bin" "${sub[@]}" --uid 200007 --progress none --known-hosts "$W/known_hosts" --identity "$W/id" \
    --ssh-config none --sftp-remote-command "$bin sftp-server" "$@"
}

echo "== generating $FILES small files and a $BIG_MIB MiB file"
python3 - "$W/src/home" "$FILES" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 50), "s%d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "f%05d" % i)
    with open(p, "wb") as f:
        f.write(os.urandom(int(random.lognormvariate(8.3, 1.0)) % 65536))
    os.chown(p, 200001, 200001)
EOF
mkdir -p "$W/big"
head -c "$((BIG_MIB << 20))" /dev/urandom >"$W/big/big.bin"
mkdir -p "$W/dst"

now() { date +%s.%N; }
declare -A T
run() { # name, command...
  local name=$1; shift
  local t0 t1
  t0=$(now)
  "$@" >/dev/null 2>"$W/err" || { echo "$name failed:"; cat "$W/err"; exit 1; }
  t1=$(now)
  T[$name]+="$(python3 -c "print($t1-$t0)") "
}

for r in $(seq "$RUNS"); do
  echo "== run $r/$RUNS (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  rm -rf "$W/dst"/*; sync
  run rsync rsync -a -e "$SSH" "$W/src/home/" "root@127.0.0.1:$W/dst/rsync/"
  run mover-small mover "$W/migrator" --from "$W/src/home" --to "sftp://root@127.0.0.1:$PORT$W/dst/mover"
  diff -r "$W/src/home" "$W/dst/mover" >/dev/null
  if [ -n "${BASE_BIN:-}" ]; then
    run base-small mover "$BASE_BIN" --from "$W/src/home" --to "sftp://root@127.0.0.1:$PORT$W/dst/base"
    diff -r "$W/src/home" "$W/dst/base" >/dev/null
  fi
  rm -rf "$W/dst"/*; sync
  run sftp-put bash -c "echo 'put $W/big/big.bin $W/dst/sftp.bin' | sftp -q -b - -P $PORT -i $W/id -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$W/known_hosts -o GlobalKnownHostsFile=/dev/null root@127.0.0.1"
  rm -f "$W/dst/sftp.bin"; sync
  run mover-big mover "$W/migrator" --from "$W/big" --to "sftp://root@127.0.0.1:$PORT$W/dst/moverbig"
  cmp "$W/big/big.bin" "$W/dst/moverbig/big.bin"
  rm -rf "$W/dst/moverbig"; sync
  if [ -n "${BASE_BIN:-}" ]; then
    run base-big mover "$BASE_BIN" --from "$W/big" --to "sftp://root@127.0.0.1:$PORT$W/dst/basebig"
    cmp "$W/big/big.bin" "$W/dst/basebig/big.bin"
  fi
  echo "   rsync ${T[rsync]}/ mover ${T[mover-small]}/ base ${T[base-small]:-}/ sftp ${T[sftp-put]}/ mover ${T[mover-big]}/ base ${T[base-big]:-}"
done

python3 - "${T[rsync]}" "${T[mover-small]}" "${T[sftp-put]}" "${T[mover-big]}" "$FILES" "$BIG_MIB" "${T[base-small]:-}" "${T[base-big]:-}" <<'EOF'
import statistics, sys
med = [statistics.median(float(x) for x in a.split()) for a in sys.argv[1:5]]
rs, ms, sp, mb = med
files, mib = sys.argv[5], int(sys.argv[6])
if sys.argv[7]:
    bs, bb = (statistics.median(float(x) for x in a.split()) for a in sys.argv[7:9])
    print(f"BASE_BIN: small files {bs:.2f}s ({rs/bs:.2f}x rsync's speed), big file {bb:.2f}s ({sp/bb*100:.0f}% of sftp's throughput)")
print(f"small files ({files}): rsync -a -e ssh {rs:.2f}s, mover {ms:.2f}s: mover is {rs/ms:.2f}x rsync's speed (target >= 1.0)")
print(f"big file ({mib} MiB): sftp put {sp:.2f}s ({mib/sp:.0f} MiB/s), mover {mb:.2f}s ({mib/mb:.0f} MiB/s): {sp/mb*100:.0f}% of sftp's throughput (target >= 90%)")
EOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
