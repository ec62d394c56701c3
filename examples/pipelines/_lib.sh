# shellcheck shell=bash
# Helpers shared by the Deckhand example pipeline stages. Sourced, never run directly.
# See README.md in this folder for the environment contract and the directory layout.

export LC_ALL=C

STAGE_NAME="$(basename "$0" .sh)"

# say LINE... : one progress line on stdout (Deckhand shows every line to the user).
say() { printf '%s: %s\n' "$STAGE_NAME" "$*"; }

# die REASON... : the one-line failure reason, last line on stderr, then exit 1.
DIED=""
die() {
  DIED=1
  printf '%s: %s\n' "$STAGE_NAME" "$*" >&2
  exit 1
}

# A command failing unexpectedly (set -e) still ends with a clear one-line reason.
# Temp paths listed in CLEANUP are removed on exit, whatever the outcome.
CLEANUP=()
on_exit() {
  local rc=$?
  if [ "${#CLEANUP[@]}" -gt 0 ]; then rm -rf -- "${CLEANUP[@]}"; fi
  if [ "$rc" -ne 0 ] && [ -z "$DIED" ]; then
    printf '%s: failed unexpectedly (exit %s); see the lines above\n' "$STAGE_NAME" "$rc" >&2
  fi
}
trap on_exit EXIT

# show VALUE : a value made safe to print on one line (control characters escaped).
show() { printf '%q' "$1"; }

# require_name LABEL VALUE : refuse empty or unsafe names (they become path components).
require_name() {
  local label="$1" value="$2"
  [ -n "$value" ] || die "$label is empty"
  if [ "${#value}" -gt 100 ] || ! [[ "$value" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
    die "invalid $label $(show "$value"): use letters, digits, '.', '_' or '-', starting with a letter or digit"
  fi
}

# require_root : DEPLOY_ROOT must be set (relative paths are relative to the config folder).
require_root() {
  [ -n "${DEPLOY_ROOT:-}" ] || die "DEPLOY_ROOT is not set (it comes from the pipeline env in deckhand.yaml)"
}

# Common inputs. Every stage needs the service; callers check the rest.
SERVICE="${DECKHAND_SERVICE:-}"
ENVIRONMENT="${DECKHAND_ENVIRONMENT:-}"
# shellcheck disable=SC2034  # used by the stage scripts that source this file
VERSION="${DECKHAND_VERSION:-}"
require_name "service (DECKHAND_SERVICE)" "$SERVICE"

# Paths under DEPLOY_ROOT (see README.md).
artifact_dir() { printf '%s/builds/%s/%s' "$DEPLOY_ROOT" "$SERVICE" "$1"; }
service_root() { printf '%s/%s/%s' "$DEPLOY_ROOT" "$ENVIRONMENT" "$SERVICE"; }

# current_version ROOT : the release `current` points at, empty when nothing is deployed.
current_version() {
  local link="$1/current" target
  [ -L "$link" ] || return 0
  target="$(readlink "$link")"
  printf '%s' "${target#releases/}"
}

# switch_current ROOT VERSION : atomically repoint ROOT/current at releases/VERSION and
# record the switch in ROOT/history (one version per line).
switch_current() {
  local root="$1" version="$2"
  [ -d "$root/releases/$version" ] || die "release $version is missing under $root/releases"
  if [ -e "$root/current" ] && [ ! -L "$root/current" ]; then
    die "$root/current exists but is not a symlink; refusing to replace it"
  fi
  ln -sfn "releases/$version" "$root/current.tmp"
  mv -Tf "$root/current.tmp" "$root/current"
  printf '%s\n' "$version" >> "$root/history"
}

# lock_service ROOT : one deploy/rollback at a time per service and environment.
lock_service() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$1/.lock"
  flock -n 9 || die "another deploy or rollback of $SERVICE in $ENVIRONMENT is running; try again when it finishes"
}
