#!/bin/bash
# studio-migrator backup-home.sh (lifecycle configuration): backs the home up to S3 in
# the layout of README "Backups to S3" (the Go package internal/backup reads and writes
# the same). Only new or changed files are uploaded; a manifest keeps modes, symlinks,
# hardlinks, empty directories and mtimes; the completion marker is written last, so a
# run killed half-way is never taken as complete and never touches older backups.
# Returns at once and works in the background (log: BACKUP_LOG) unless BACKUP_FOREGROUND=1.
# Needs bash, the AWS CLI, coreutils, findutils and grep.
set -euo pipefail
export LC_ALL=C # names are bytes
VERSION=lcc-1
BACKUP_BUCKET=${BACKUP_BUCKET:?set BACKUP_BUCKET}
BACKUP_PREFIX=${BACKUP_PREFIX-studio-backups}
HOME_DIR=${HOME_DIR:-/home/sagemaker-user}
RESOURCE_METADATA=${RESOURCE_METADATA:-/opt/ml/metadata/resource-metadata.json}
S3_ENDPOINT_URL=${S3_ENDPOINT_URL:-}
# Paths (relative to the home, find -path patterns, space-separated) left out.
BACKUP_EXCLUDES=${BACKUP_EXCLUDES-.cache .conda/pkgs .local/share/Trash .npm/_cacache lost+found .studio-migrator-restore.tmp}
BACKUP_INTERVAL=${BACKUP_INTERVAL:-0} # seconds between runs while the app runs; 0 = once
BACKUP_LOG=${BACKUP_LOG:-${TMPDIR:-/tmp}/studio-migrator-backup.log}
BACKUP_LOCK=${BACKUP_LOCK:-${TMPDIR:-/tmp}/studio-migrator-backup.lock}

log() { echo "$(date -u +%FT%TZ) backup-home: $*"; }
s3() { aws ${S3_ENDPOINT_URL:+--endpoint-url "$S3_ENDPOINT_URL"} s3 "$@" --only-show-errors; }
s3api() { aws ${S3_ENDPOINT_URL:+--endpoint-url "$S3_ENDPOINT_URL"} s3api "$@"; }
field() { grep -o "\"$1\" *: *\"[^\"]*\"" "$RESOURCE_METADATA" | head -n1 | sed 's/.*"\([^"]*\)"$/\1/' || true; }
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

if [ "${BACKUP_FOREGROUND:-0}" != 1 ]; then
  BACKUP_FOREGROUND=1 nohup bash "$0" >>"$BACKUP_LOG" 2>&1 </dev/null &
  echo "backup-home: backing up $HOME_DIR in the background (pid $!), log: $BACKUP_LOG"
  exit 0
fi

# Who we are: Studio Classic (UserProfileName) or a space (SpaceName).
DOMAIN=${BACKUP_DOMAIN:-$(field DomainId)}
SPACE=$(field SpaceName)
if [ -n "${BACKUP_NAME:-}" ]; then KIND=${BACKUP_KIND:-profile}; NAME=$BACKUP_NAME
elif [ -n "$SPACE" ]; then KIND=space; NAME=$SPACE
else KIND=profile; NAME=$(field UserProfileName); fi
if [ -z "$DOMAIN" ] || [ -z "$NAME" ]; then
  log "cannot tell the domain and profile or space from $RESOURCE_METADATA; not backing up" >&2
  exit 1
fi
KEYBASE="${BACKUP_PREFIX:+${BACKUP_PREFIX%/}/}$DOMAIN/$KIND/$NAME"
BASE="s3://$BACKUP_BUCKET/$KEYBASE"

# One run at a time: a lock directory holding the owner's pid (stale ones are broken).
if ! mkdir "$BACKUP_LOCK" 2>/dev/null; then
  pid=$(cat "$BACKUP_LOCK/pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then log "another backup (pid $pid) is running; leaving it"; exit 0; fi
  rm -rf "$BACKUP_LOCK"
  mkdir "$BACKUP_LOCK" || { log "lost the race for the lock; leaving it"; exit 0; }
fi
echo $$ >"$BACKUP_LOCK/pid"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP" "$BACKUP_LOCK"' EXIT
# More transfers in flight than the CLI's default 10, unless the user configured it.
if [ -z "${AWS_CONFIG_FILE:-}" ] && [ ! -e "${HOME:-/nonexistent}/.aws/config" ]; then
  printf '[default]\ns3 =\n  max_concurrent_requests = 64\n  max_queue_size = 10000\n' >"$TMP/aws-config"
  export AWS_CONFIG_FILE="$TMP/aws-config"
fi

# newest_complete prints the run ID of the newest completion marker, or nothing.
newest_complete() {
  s3api list-objects-v2 --bucket "$BACKUP_BUCKET" --prefix "$KEYBASE/complete/" --query 'Contents[].Key' --output text |
    tr '\t' '\n' | grep '\.json$' | sed 's|.*/||; s|\.json$||' | LC_ALL=C sort | tail -n1 || true
}

run_once() {
  local started run prev w stage ty mode mt sz nl ino p tgt enc kp kt r line sec frac
  local failed=0 files=0 dirs=0 links=0 bytes=0 up=0 upbytes=0 encoded=0 errors=0
  started=$(date -u +%FT%TZ)
  run=$(date -u +%Y%m%dT%H%M%S.%NZ)-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
  prev=$(newest_complete)
  if [ -n "$prev" ] && [[ ! $run > $prev ]]; then run="${prev}x"; fi
  w="$TMP/$run"; stage="$w/stage"
  mkdir -p "$stage/data" "$stage/xdata"
  log "run $run of $KIND $NAME (domain $DOMAIN) to $BASE (previous complete: ${prev:-none})"

  # Files already in S3: path -> "size mtime run" from the newest complete manifest.
  local -A old=() bad=() have=()
  if [ -n "$prev" ]; then
    s3 cp "$BASE/manifests/$prev.tsv" "$w/prev.tsv"
    while IFS=$'\t' read -r ty mode mt sz ino r enc p tgt; do
      [ "$ty" = f ] && old["$enc/$p"]="$sz $mt $r"
    done < <(tail -n +2 "$w/prev.tsv")
  fi

  local -a prune=() pats=()
  read -r -a pats <<<"$BACKUP_EXCLUDES"
  for p in "${pats[@]}"; do prune+=(-path "./$p" -o); done
  cd "$HOME_DIR"
  find . -mindepth 1 \( "${prune[@]}" -false \) -prune -o \( -type d -o -type f -o -type l \) \
    -printf '%y %m %T@ %s %n %D:%i\0%P\0%l\0' >"$w/list"
  # Names that cannot be S3 keys: not valid UTF-8, or a control character.
  while IFS= read -r -d '' p; do bad["$p"]=1; done < <(
    find . -mindepth 1 \( "${prune[@]}" -false \) -prune -o \( -type d -o -type f -o -type l \) -printf '%P\0%l\0' |
      LC_ALL=C.UTF-8 grep -zaxv $'[^\001-\037\177]*' || true)

  printf '#studio-migrator-manifest v1\n' >"$w/manifest.tsv"
  : >"$w/upload"
  while IFS=' ' read -r -d '' ty mode mt sz nl ino && IFS= read -r -d '' p && IFS= read -r -d '' tgt; do
    sec=${mt%.*}; frac=${mt#*.}000000000; mt="$sec.${frac:0:9}"
    enc=p; kp=$p; kt=$tgt
    if [ -n "${bad[$p]:-}" ] || { [ -n "$tgt" ] && [ -n "${bad[$tgt]:-}" ]; }; then
      enc=x; kp=$(hexof "$p"); kt=$(hexof "$tgt"); encoded=$((encoded + 1))
      log "name not valid as an S3 key, hex-encoded: $kp"
    fi
    case $ty in
    d) sz=0; r=-; ino=-; kt=; dirs=$((dirs + 1)) ;;
    l) r=-; ino=-; links=$((links + 1)) ;;
    f)
      kt=; [ "$nl" -gt 1 ] || ino=-
      read -r -a o <<<"${old["$enc/$kp"]:-- - -}"
      if [ "${o[0]}" = "$sz" ] && [ "${o[1]}" = "$mt" ]; then r=${o[2]}
      else
        r=$run; up=$((up + 1)); upbytes=$((upbytes + sz))
        if [ "$enc" = p ]; then printf '%s\0' "$HOME_DIR/$p" >>"$w/upload"
        else ln -s "$HOME_DIR/$p" "$stage/xdata/$kp"; fi
      fi
      files=$((files + 1)); bytes=$((bytes + sz)) ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ty" "$mode" "$mt" "$sz" "$ino" "$r" "$enc" "$kp" "$kt" >>"$w/manifest.tsv"
  done <"$w/list"

  # Upload through a tree of symlinks to the changed files (the CLI follows them), so
  # one CLI call sends them all, many in flight, under their real relative paths.
  if [ -s "$w/upload" ]; then
    xargs -0 cp -s --parents -t "$stage/data" <"$w/upload"
    s3 cp --recursive "$stage/data/${HOME_DIR#/}/" "$BASE/data/$run/" || { log "some uploads failed (checked below)"; failed=1; }
  fi
  if [ -n "$(ls -A "$stage/xdata")" ]; then
    s3 cp --recursive "$stage/xdata/" "$BASE/xdata/$run/" || { log "some uploads failed (checked below)"; failed=1; }
  fi
  # After a failed upload, keep in the manifest only the files that arrived (a file
  # that vanished or could not be read is left out and counted in errors).
  if [ "$failed" = 1 ]; then
    while IFS= read -r line; do have["$line"]=1; done < <(
      s3api list-objects-v2 --bucket "$BACKUP_BUCKET" --prefix "$KEYBASE/" --query 'Contents[].Key' --output text \
        --start-after "$KEYBASE/data/$run" | tr '\t' '\n' | grep -F -e "/data/$run/" -e "/xdata/$run/" || true)
    mv "$w/manifest.tsv" "$w/all.tsv"
    while IFS= read -r line; do
      IFS=$'\t' read -r ty mode mt sz ino r enc kp kt <<<"$line"
      if [ "$ty" = f ] && [ "$r" = "$run" ]; then
        if [ "$enc" = p ]; then p="$KEYBASE/data/$run/$kp"; else p="$KEYBASE/xdata/$run/$kp"; fi
        if [ -z "${have[$p]:-}" ]; then
          log "not backed up (upload failed): $kp"
          errors=$((errors + 1)); files=$((files - 1)); bytes=$((bytes - sz)); up=$((up - 1)); upbytes=$((upbytes - sz))
          continue
        fi
      fi
      printf '%s\n' "$line"
    done <"$w/all.tsv" >"$w/manifest.tsv"
  fi
  s3 cp "$w/manifest.tsv" "$BASE/manifests/$run.tsv" --content-type 'text/tab-separated-values; charset=utf-8'
  printf '{"run":"%s","writer":"lcc","version":"%s","status":"complete","started":"%s","finished":"%s","files":%d,"dirs":%d,"symlinks":%d,"bytes":%d,"uploaded":%d,"uploadedBytes":%d,"encoded":%d,"errors":%d}\n' \
    "$run" "$VERSION" "$started" "$(date -u +%FT%TZ)" "$files" "$dirs" "$links" "$bytes" "$up" "$upbytes" "$encoded" "$errors" >"$w/marker.json"
  s3 cp "$w/marker.json" "$BASE/complete/$run.json" --content-type application/json
  log "run $run complete: $files files ($bytes bytes), uploaded $up ($upbytes bytes), $encoded encoded names, $errors errors"
  rm -rf "$w"
}

while :; do
  # A subshell with errexit on: any failure ends the run before its marker.
  set +e; (set -e; run_once); rc=$?; set -e
  [ $rc = 0 ] || log "backup run failed (no marker written; the previous backup stays the newest)"
  [ "$BACKUP_INTERVAL" -gt 0 ] || exit $rc
  sleep "$BACKUP_INTERVAL"
done
