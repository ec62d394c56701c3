#!/usr/bin/env bash
# Versions: print the releases of $DECKHAND_SERVICE that can be deployed, one per line, oldest
# first (newest last), the way build.sh picks the latest: folders of $APPS_DIR/<service>/ that
# hold a VERSION file, pre-releases (with a '-') left out.
set -euo pipefail
APPS_DIR="${APPS_DIR:-$(dirname "${BASH_SOURCE[0]}")/../apps}"
SERVICE="${DECKHAND_SERVICE:?DECKHAND_SERVICE is not set}"
case "$SERVICE" in *[!a-z0-9-]* | "") echo "bad service name" >&2; exit 2 ;; esac
src_root="$APPS_DIR/$SERVICE"
[ -d "$src_root" ] || { echo "no sources for $SERVICE under $APPS_DIR" >&2; exit 1; }
find "$src_root" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' | sort -V |
  while IFS= read -r v; do
    case "$v" in *-*) continue ;; esac
    if [ -f "$src_root/$v/VERSION" ]; then printf '%s\n' "$v"; fi
  done
