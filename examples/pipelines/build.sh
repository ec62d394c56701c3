#!/usr/bin/env bash
# Build stage: pick the version (DECKHAND_VERSION, or the latest stable one), copy its
# source from $APPS_DIR/<service>/<version>/ into a fresh build artifact with a sha256
# manifest, and report the version with `::version X`.
set -euo pipefail
# shellcheck source=pipelines/_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

require_root
if [ -n "$VERSION" ]; then require_name "version (DECKHAND_VERSION)" "$VERSION"; fi
APPS_DIR="${APPS_DIR:-$(dirname "${BASH_SOURCE[0]}")/../apps}"

src_root="$APPS_DIR/$SERVICE"
[ -d "$src_root" ] || die "no sources for service $SERVICE (expected $src_root/<version>/)"

# Available versions: sub-folders holding a VERSION file, lowest to highest.
available=()
while IFS= read -r v; do
  [ -f "$src_root/$v/VERSION" ] && available+=("$v")
done < <(find "$src_root" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' | sort -V)
[ "${#available[@]}" -gt 0 ] || die "no versions of $SERVICE under $src_root"

if [ -n "$VERSION" ]; then
  if [ ! -f "$src_root/$VERSION/VERSION" ]; then
    die "version $VERSION of $SERVICE not found; available: ${available[*]}"
  fi
  say "building $SERVICE $VERSION (requested)"
else
  for v in "${available[@]}"; do
    case "$v" in *-*) ;; *) VERSION="$v" ;; esac # pre-releases (with a '-') are skipped
  done
  [ -n "$VERSION" ] || die "no stable version of $SERVICE (only pre-releases: ${available[*]}); ask for one explicitly"
  say "building $SERVICE $VERSION (latest stable of: ${available[*]})"
fi

declared="$(tr -d '[:space:]' < "$src_root/$VERSION/VERSION")"
[ "$declared" = "$VERSION" ] || die "$src_root/$VERSION/VERSION says $(show "$declared"), expected $VERSION"

# Fresh artifact: build in a temp dir next to the final one, then swap it in.
dest="$(artifact_dir "$VERSION")"
mkdir -p "$(dirname "$dest")" 2>/dev/null || die "cannot create $(dirname "$dest") (check DEPLOY_ROOT=$DEPLOY_ROOT)"
tmp="$(mktemp -d "$(dirname "$dest")/.tmp-$VERSION.XXXXXX")"
CLEANUP+=("$tmp")

cp -R -p "$src_root/$VERSION/." "$tmp/"
manifest="$(cd "$tmp" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)"
[ -n "$manifest" ] || die "$src_root/$VERSION contains no files"
printf '%s\n' "$manifest" > "$tmp/MANIFEST.sha256"
files="$(wc -l < "$tmp/MANIFEST.sha256")"
chmod 755 "$tmp"

rm -rf "$dest"
mv -T "$tmp" "$dest"
say "artifact $dest ($files files, sha256 manifest written)"
echo "::version $VERSION"
