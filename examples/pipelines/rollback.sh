#!/usr/bin/env bash
# Rollback stage: repoint `current` at DECKHAND_VERSION (must be a kept release) or, when
# that is empty, at the last version in `history` that differs from the current one.
# Reports the target with `::version X` so the following verify stage checks it, and with
# `::live X` that the target now runs it.
set -euo pipefail
# shellcheck source=pipelines/_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

require_root
require_name "environment (DECKHAND_ENVIRONMENT)" "$ENVIRONMENT"
if [ -n "$VERSION" ]; then require_name "version (DECKHAND_VERSION)" "$VERSION"; fi

root="$(service_root)"
[ -d "$root/releases" ] || die "$SERVICE has never been deployed to $ENVIRONMENT; nothing to roll back"
lock_service "$root"
current="$(current_version "$root")"
kept="$(find "$root/releases" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' | sort -V | tr '\n' ' ')"
kept="${kept% }"

if [ -n "$VERSION" ]; then
  target="$VERSION"
  [ -d "$root/releases/$target" ] || die "release $target of $SERVICE is not kept in $ENVIRONMENT; available: ${kept:-none}"
else
  target=""
  if [ -f "$root/history" ]; then
    while IFS= read -r v; do
      if [ -z "$v" ] || [ "$v" = "$current" ]; then continue; fi
      if [ -d "$root/releases/$v" ]; then target="$v"; break; fi
      say "skipping $v: its release was pruned"
    done < <(tac "$root/history")
  fi
  [ -n "$target" ] || die "nothing to roll back to: $SERVICE in $ENVIRONMENT has no release other than ${current:-the current one}"
fi

if [ "$target" = "$current" ]; then
  say "$SERVICE in $ENVIRONMENT is already on $target; nothing to switch"
else
  switch_current "$root" "$target"
  say "rolled back $SERVICE in $ENVIRONMENT: ${current:-nothing} -> $target"
fi
echo "::version $target"
# The target runs $target now (switched or already there), whatever the verify says.
echo "::live $target"
