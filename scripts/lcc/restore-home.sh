#!/bin/bash
# studio-migrator restore-home.sh (lifecycle configuration): restores the newest
# complete backup of this profile or space (same name, from BACKUP_SOURCE_DOMAIN) into
# the home, in the layout of README "Backups to S3": modes, symlinks, hardlinks, empty
# directories and mtimes from the manifest. Only when the home is empty, an earlier
# restore was interrupted, or RESTORE_FORCE=1; a local file newer than the backup's is
# never replaced. Writes its own marker (restored/<id>.json under this domain).
# Returns at once and works in the background unless BACKUP_FOREGROUND=1.
# Needs bash, the AWS CLI, coreutils and grep.
set -euo pipefail
export LC_ALL=C # names are bytes
VERSION=lcc-1
BACKUP_BUCKET=${BACKUP_BUCKET:?set BACKUP_BUCKET}
BACKUP_PREFIX=${BACKUP_PREFIX-studio-backups}
HOME_DIR=${HOME_DIR:-/home/sagemaker-user}
RESOURCE_METADATA=${RESOURCE_METADATA:-/opt/ml/metadata/resource-metadata.json}
S3_ENDPOINT_URL=${S3_ENDPOINT_URL:-}
RESTORE_FORCE=${RESTORE_FORCE:-0}
BACKUP_LOG=${BACKUP_LOG:-${TMPDIR:-/tmp}/studio-migrator-restore.log}
BACKUP_LOCK=${BACKUP_LOCK:-${TMPDIR:-/tmp}/studio-migrator-restore.lock}
STAGING=.studio-migrator-restore.tmp

log() { echo "$(date -u +%FT%TZ) restore-home: $*"; }
s3() { aws ${S3_ENDPOINT_URL:+--endpoint-url "$S3_ENDPOINT_URL"} s3 "$@" --only-show-errors; }
s3api() { aws ${S3_ENDPOINT_URL:+--endpoint-url "$S3_ENDPOINT_URL"} s3api "$@"; }
field() { grep -o "\"$1\" *: *\"[^\"]*\"" "$RESOURCE_METADATA" | head -n1 | sed 's/.*"\([^"]*\)"$/\1/' || true; }
unhex() { local f="" i; for ((i = 0; i < ${#2}; i += 2)); do f+="\\x${2:i:2}"; done; printf -v "$1" "%b" "$f"; }

if [ "${BACKUP_FOREGROUND:-0}" != 1 ]; then
  BACKUP_FOREGROUND=1 nohup bash "$0" >>"$BACKUP_LOG" 2>&1 </dev/null &
  echo "restore-home: restoring into $HOME_DIR in the background (pid $!), log: $BACKUP_LOG"
  exit 0
fi

DOMAIN=$(field DomainId)
SRC_DOMAIN=${BACKUP_SOURCE_DOMAIN:-$DOMAIN}
SPACE=$(field SpaceName)
if [ -n "${BACKUP_NAME:-}" ]; then KIND=${BACKUP_KIND:-profile}; NAME=$BACKUP_NAME
elif [ -n "$SPACE" ]; then KIND=space; NAME=$SPACE
else KIND=profile; NAME=$(field UserProfileName); fi
if [ -z "$DOMAIN" ] || [ -z "$NAME" ]; then
  log "cannot tell the domain and profile or space from $RESOURCE_METADATA; not restoring" >&2
  exit 1
fi
P=${BACKUP_PREFIX:+${BACKUP_PREFIX%/}/}
KEYBASE="$P$SRC_DOMAIN/$KIND/$NAME"
BASE="s3://$BACKUP_BUCKET/$KEYBASE"
MARKBASE="s3://$BACKUP_BUCKET/$P$DOMAIN/$KIND/$NAME/restored"
STAGE="$HOME_DIR/$STAGING"

if [ -L "$STAGE" ] || { [ -e "$STAGE" ] && [ ! -d "$STAGE" ]; }; then log "$STAGE is not a directory; not restoring" >&2; exit 1; fi
if [ ! -d "$STAGE" ] && [ "$RESTORE_FORCE" != 1 ] &&
  [ -n "$(find "$HOME_DIR" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)" ]; then
  log "$HOME_DIR is not empty; not restoring (RESTORE_FORCE=1 to restore anyway, keeping newer local files)"
  exit 0
fi

if ! mkdir "$BACKUP_LOCK" 2>/dev/null; then
  pid=$(cat "$BACKUP_LOCK/pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then log "another restore (pid $pid) is running"; exit 0; fi
  rm -rf "$BACKUP_LOCK"
  mkdir "$BACKUP_LOCK" || exit 0
fi
echo $$ >"$BACKUP_LOCK/pid"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP" "$BACKUP_LOCK"' EXIT
if [ -z "${AWS_CONFIG_FILE:-}" ] && [ ! -e "${HOME:-/nonexistent}/.aws/config" ]; then
  printf '[default]\ns3 =\n  max_concurrent_requests = 64\n  max_queue_size = 10000\n' >"$TMP/aws-config"
  export AWS_CONFIG_FILE="$TMP/aws-config"
fi

marker() { # status run files downloaded kept errors
  printf '{"run":"%s","writer":"lcc","version":"%s","status":"%s","sourceDomain":"%s","started":"%s","finished":"%s","files":%d,"downloaded":%d,"kept":%d,"errors":%d}\n' \
    "$2" "$VERSION" "$1" "$SRC_DOMAIN" "$STARTED" "$(date -u +%FT%TZ)" "$3" "$4" "$5" "$6" >"$TMP/marker.json"
  s3 cp "$TMP/marker.json" "$MARKBASE/$(date -u +%Y%m%dT%H%M%S.%NZ).json" --content-type application/json
}
STARTED=$(date -u +%FT%TZ)
RUN=$(s3api list-objects-v2 --bucket "$BACKUP_BUCKET" --prefix "$KEYBASE/complete/" --query 'Contents[].Key' --output text |
  tr '\t' '\n' | grep '\.json$' | sed 's|.*/||; s|\.json$||' | LC_ALL=C sort | tail -n1 || true)
if [ -z "$RUN" ]; then
  log "no complete backup of $KIND $NAME under $BASE; nothing to restore"
  marker no-backup - 0 0 0 0
  exit 0
fi
log "restoring run $RUN of $KIND $NAME from $BASE into $HOME_DIR"
s3 cp "$BASE/manifests/$RUN.tsv" "$TMP/manifest.tsv"
[ "$(head -n1 "$TMP/manifest.tsv")" = "#studio-migrator-manifest v1" ] || { log "$RUN: not a v1 manifest" >&2; exit 1; }

# Read and check the whole manifest before writing anything: no absolute path, no
# ".." or empty component, nothing below an entry that is not a directory.
declare -a T M MT R E PA TG IN
declare -A type=() runs=() xruns=()
n=0
while IFS=$'\t' read -r ty mode mt _ ino r enc p tgt; do
  case $ty in d | f | l) ;; *) continue ;; esac
  if [ "$enc" = x ]; then
    hp=$p ht=$tgt; unhex p "$hp"; unhex tgt "$ht"
    if [ $((${#hp} / 2)) != "${#p}" ] || [ $((${#ht} / 2)) != "${#tgt}" ]; then
      log "refusing the manifest of $RUN: bad hex name \"$hp\"; nothing restored" >&2; exit 2
    fi
  fi
  case "/$p/" in //* | */../* | */./* | *//*)
    log "refusing the manifest of $RUN: unsafe path \"$p\" (absolute, \"..\", \".\" or empty component); nothing restored" >&2
    exit 2 ;;
  esac
  d=$p
  while [[ $d == */* ]]; do
    d=${d%/*}
    if [ -n "${type[$d]:-}" ] && [ "${type[$d]}" != d ]; then
      log "refusing the manifest of $RUN: \"$p\" is below \"$d\", which is not a directory; nothing restored" >&2
      exit 2
    fi
  done
  [ -z "${type[$p]:-}" ] || { log "refusing the manifest of $RUN: \"$p\" listed twice" >&2; exit 2; }
  type[$p]=$ty
  T[n]=$ty; M[n]=$mode; MT[n]=$mt; R[n]=$r; E[n]=$enc; PA[n]=$p; TG[n]=$tgt; IN[n]=$ino
  if [ "$ty" = f ]; then
    [[ $r =~ ^[0-9]{8}T[0-9.]+Z-[0-9a-fx]+$ ]] || { log "refusing the manifest of $RUN: bad run \"$r\"" >&2; exit 2; }
    if [ "$enc" = x ]; then xruns[$r]=1; else runs[$r]=1; fi
  fi
  n=$((n + 1))
done < <(tail -n +2 "$TMP/manifest.tsv")

# Download every run's files into the staging folder (a resumed restore downloads
# only what is missing), then move each into place.
mkdir -p "$STAGE"
for r in "${!runs[@]}"; do s3 sync "$BASE/data/$r/" "$STAGE/data/$r/" --exclude '../*' --exclude '*/../*'; done
for r in "${!xruns[@]}"; do s3 sync "$BASE/xdata/$r/" "$STAGE/xdata/$r/" --exclude '*/*'; done

# safe DIR: no component of DIR (below the home) is a symlink or a non-directory.
safe() {
  local d=$1 c=$HOME_DIR
  [ -n "$d" ] || return 0
  while :; do
    c="$c/${d%%/*}"
    if [ -L "$c" ] || { [ -e "$c" ] && [ ! -d "$c" ]; }; then return 1; fi
    [[ $d == */* ]] || return 0
    d=${d#*/}
  done
}
files=0 placed=0 kept=0 errors=0
declare -A first=()
for ((i = 0; i < n; i++)); do
  p=${PA[i]}; dst="$HOME_DIR/$p"; parent=""
  [[ $p != */* ]] || parent=${p%/*}
  if ! safe "$parent"; then log "not restored (a parent is a symlink or a file): $p"; errors=$((errors + 1)); continue; fi
  [ -z "$parent" ] || mkdir -p "$HOME_DIR/$parent"
  case ${T[i]} in
  d) if [ -L "$dst" ] || ! mkdir -p "$dst"; then log "not restored (in the way): $p"; errors=$((errors + 1)); fi ;;
  f)
    files=$((files + 1))
    if [ -e "$dst" ] || [ -L "$dst" ]; then
      if [ -d "$dst" ] && [ ! -L "$dst" ]; then log "not restored (a directory is in the way): $p"; errors=$((errors + 1)); continue; fi
      if [ "$(stat -c %Y "$dst")" -gt "${MT[i]%.*}" ]; then log "kept the newer local file: $p"; kept=$((kept + 1)); T[i]=k; continue; fi
    fi
    if [ "${IN[i]}" != - ] && [ -n "${first[${IN[i]}]:-}" ]; then
      ln -f -- "$HOME_DIR/${first[${IN[i]}]}" "$dst" && placed=$((placed + 1)) && T[i]=h || errors=$((errors + 1))
      continue
    fi
    if [ "${E[i]}" = x ]; then src="$STAGE/xdata/${R[i]}/$(printf '%s' "$p" | od -An -v -tx1 | tr -d ' \n')"; else src="$STAGE/data/${R[i]}/$p"; fi
    if [ -f "$src" ] && mv -f -- "$src" "$dst"; then
      placed=$((placed + 1)); [ "${IN[i]}" = - ] || first[${IN[i]}]=$p
    else log "not restored (download missing): $p"; errors=$((errors + 1)); T[i]=k; fi ;;
  esac
done
# Owner: the home's (when run as root), before the modes (chown clears setuid bits).
if [ "$(id -u)" = 0 ]; then chown -hR "$(stat -c %u:%g "$HOME_DIR")" -- "$HOME_DIR"; fi
for ((i = 0; i < n; i++)); do
  [ "${T[i]}" = f ] || continue
  chmod "${M[i]}" -- "$HOME_DIR/${PA[i]}" && touch -m -d "@${MT[i]}" -- "$HOME_DIR/${PA[i]}" || errors=$((errors + 1))
done
# Symlinks last, so no restored link is ever in a path written above.
for ((i = 0; i < n; i++)); do
  [ "${T[i]}" = l ] || continue
  p=${PA[i]}; dst="$HOME_DIR/$p"; parent=""
  [[ $p != */* ]] || parent=${p%/*}
  if ! safe "$parent" || { [ -d "$dst" ] && [ ! -L "$dst" ]; }; then log "not restored (in the way): $p"; errors=$((errors + 1)); continue; fi
  if [ -L "$dst" ] && [ "$(readlink -- "$dst")" = "${TG[i]}" ]; then :; else ln -sfn -- "${TG[i]}" "$dst"; fi
  touch -h -m -d "@${MT[i]}" -- "$dst" || true
done
for ((i = n - 1; i >= 0; i--)); do
  [ "${T[i]}" = d ] || continue
  chmod "${M[i]}" -- "$HOME_DIR/${PA[i]}" && touch -m -d "@${MT[i]}" -- "$HOME_DIR/${PA[i]}" || errors=$((errors + 1))
done
if [ "$(id -u)" = 0 ]; then find "$HOME_DIR" -type l -exec chown -h "$(stat -c %u:%g "$HOME_DIR")" {} + 2>/dev/null || true; fi
rm -rf -- "$STAGE"
status=complete; [ "$errors" = 0 ] || status=partial
marker "$status" "$RUN" "$files" "$placed" "$kept" "$errors"
log "restored run $RUN: $files files ($placed placed, $kept newer local kept), $errors errors"
