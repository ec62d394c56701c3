#!/usr/bin/env bash
# Deploy stage (Capistrano-style): copy the artifact to releases/<version>/, atomically
# repoint `current` at it (reported with `::live X`), record the switch in `history` and
# keep at most 5 releases.
set -euo pipefail
# shellcheck source=pipelines/_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

KEEP_RELEASES=5

require_root
require_name "environment (DECKHAND_ENVIRONMENT)" "$ENVIRONMENT"
require_name "version (DECKHAND_VERSION)" "$VERSION"

strategy="${DECKHAND_STRATEGY:-direct}"
percent="${DECKHAND_CANARY_PERCENT:-}"
case "$strategy" in
  direct | canary | blue-green) ;;
  *) die "unknown strategy $(show "$strategy") (expected direct, canary or blue-green)" ;;
esac
if [ -n "$percent" ]; then
  if ! [[ "$percent" =~ ^[0-9]{1,3}$ ]] || [ "$((10#$percent))" -lt 1 ] || [ "$((10#$percent))" -gt 100 ]; then
    die "invalid canary percent $(show "$percent") (expected 1-100)"
  fi
  percent="$((10#$percent))"
fi

art="$(artifact_dir "$VERSION")"
[ -f "$art/MANIFEST.sha256" ] || die "no build artifact for $SERVICE $VERSION at $art; run the build stage first"

root="$(service_root)"
mkdir -p "$root/releases" 2>/dev/null || die "cannot create $root/releases (check DEPLOY_ROOT=$DEPLOY_ROOT)"
lock_service "$root"
release="$root/releases/$VERSION"
previous="$(current_version "$root")"

# 1. The release directory: reuse an identical one, otherwise copy to a temp dir and
#    rename it into place (a half-copied release is never visible as releases/<version>).
if [ -d "$release" ] && cmp -s "$art/MANIFEST.sha256" "$release/MANIFEST.sha256" \
  && (cd "$release" && sha256sum --quiet --status -c MANIFEST.sha256); then
  say "release $VERSION already present and identical; reusing it"
else
  tmp="$(mktemp -d "$root/releases/.tmp-$VERSION.XXXXXX")"
  CLEANUP+=("$tmp")
  cp -R -p "$art/." "$tmp/"
  chmod 755 "$tmp"
  if [ -e "$release" ]; then
    old="$root/releases/.old-$VERSION.$$"
    CLEANUP+=("$old")
    mv -T "$release" "$old"
    mv -T "$tmp" "$release"
    say "copied artifact to $release (replacing a different copy of $VERSION)"
  else
    mv -T "$tmp" "$release"
    say "copied artifact to $release"
  fi
fi

# 2. The traffic strategy. This local target is one instance, so every strategy ends
#    with all traffic on the new release in a single switch.
case "$strategy" in
  direct) say "strategy: direct" ;;
  canary) say "strategy: canary${percent:+ $percent%} requested; this local target is a single instance, so all traffic switches at once" ;;
  blue-green) say "strategy: blue-green requested; this local target is a single instance, so all traffic switches at once" ;;
esac

# 3. Atomic switch of `current`, recorded in `history`.
switch_current "$root" "$VERSION"
say "current -> releases/$VERSION (was: ${previous:-nothing deployed})"
# Tell Deckhand at once: from here on the target runs the new release, whatever follows.
echo "::live $VERSION"

# 4. Keep the releases most recently switched to (at most $KEEP_RELEASES), never the
#    one `current` points at; delete the rest.
keep="$(tac "$root/history" | awk 'NF && !seen[$0]++' | head -n "$KEEP_RELEASES")"
removed=()
while IFS= read -r r; do
  [ "$r" = "$VERSION" ] && continue
  if ! grep -qxF -- "$r" <<< "$keep"; then
    rm -rf -- "${root:?}/releases/$r"
    removed+=("$r")
  fi
done < <(find "$root/releases" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' | sort -V)
if [ "${#removed[@]}" -gt 0 ]; then
  say "pruned old releases: ${removed[*]} (keeping $KEEP_RELEASES)"
fi
say "deployed $SERVICE $VERSION to $ENVIRONMENT"
