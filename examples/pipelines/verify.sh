#!/usr/bin/env bash
# Verify stage: `current` must point at releases/<DECKHAND_VERSION>, that release must be
# the right version, and its healthcheck.sh must pass.
set -euo pipefail
# shellcheck source=pipelines/_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

require_root
require_name "environment (DECKHAND_ENVIRONMENT)" "$ENVIRONMENT"
require_name "version (DECKHAND_VERSION)" "$VERSION"

root="$(service_root)"
[ -L "$root/current" ] || die "nothing deployed: $root/current does not exist"
target="$(readlink "$root/current")"
[ "$target" = "releases/$VERSION" ] || die "current points to $(show "$target"), expected releases/$VERSION"
[ -d "$root/current/" ] || die "current points to releases/$VERSION but that directory is missing"
say "current -> releases/$VERSION"

release="$root/releases/$VERSION"
[ -f "$release/VERSION" ] || die "release $VERSION has no VERSION file"
declared="$(tr -d '[:space:]' < "$release/VERSION")"
[ "$declared" = "$VERSION" ] || die "release VERSION says $(show "$declared"), expected $VERSION"
[ -x "$release/healthcheck.sh" ] || die "release $VERSION has no executable healthcheck.sh"

# Run the healthcheck from inside the release; show its output, keep its last line for
# the failure reason.
log="$(mktemp)"
CLEANUP+=("$log")
rc=0
(cd "$release" && timeout 30 ./healthcheck.sh) > "$log" 2>&1 || rc=$?
cat "$log"
if [ "$rc" -ne 0 ]; then
  why="$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 || true)"
  why="${why#healthcheck: }"
  if [ "$rc" -eq 124 ]; then why="timed out after 30s"; fi
  die "healthcheck of $SERVICE $VERSION in $ENVIRONMENT failed (exit $rc): ${why:-no output}"
fi
say "$SERVICE $VERSION is healthy in $ENVIRONMENT"
