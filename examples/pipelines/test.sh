#!/usr/bin/env bash
# Test stage: check the build artifact of DECKHAND_VERSION is complete and intact.
set -euo pipefail
# shellcheck source=pipelines/_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

require_root
require_name "version (DECKHAND_VERSION)" "$VERSION"

art="$(artifact_dir "$VERSION")"
[ -d "$art" ] || die "no build artifact for $SERVICE $VERSION at $art; run the build stage first"
[ -f "$art/MANIFEST.sha256" ] || die "artifact $art has no MANIFEST.sha256"

# 1. Every file listed in the manifest is present and unchanged.
if ! report="$(cd "$art" && sha256sum --quiet --strict -c MANIFEST.sha256 2>&1)"; then
  printf '%s\n' "$report" | head -n 5
  die "checksum mismatch in $art: $(printf '%s\n' "$report" | head -n 1)"
fi
listed="$(wc -l < "$art/MANIFEST.sha256")"
say "checksums ok ($listed files)"

# 2. No file was added after the build.
actual="$(cd "$art" && find . -type f ! -name MANIFEST.sha256 | wc -l)"
[ "$actual" -eq "$listed" ] || die "artifact $art has $actual files but its manifest lists $listed"

# 3. The artifact is the version we were asked for.
[ -f "$art/VERSION" ] || die "artifact $art has no VERSION file"
declared="$(tr -d '[:space:]' < "$art/VERSION")"
[ "$declared" = "$VERSION" ] || die "artifact VERSION says $(show "$declared"), expected $VERSION"
say "VERSION matches ($VERSION)"

# 4. It can be health-checked once deployed.
[ -f "$art/healthcheck.sh" ] || die "artifact $art has no healthcheck.sh"
[ -x "$art/healthcheck.sh" ] || die "$art/healthcheck.sh is not executable"
for f in "$art"/*.sh; do
  bash -n "$f" 2>/dev/null || die "shell syntax error in $(basename "$f")"
done
say "healthcheck.sh present and executable; scripts parse"
