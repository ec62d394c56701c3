#!/usr/bin/env bash
# Healthcheck for payments-api 3.2.0-rc.1: DELIBERATELY FAILS.
# This release candidate exists so users (and tests) can watch a verify stage fail and
# the automatic rollback kick in: "deploy payments-api 3.2.0-rc.1 to staging".
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/app.sh" --health >/dev/null || true
echo "healthcheck: (payments-api 3.2.0-rc.1 is a deliberately broken release candidate)" >&2
echo "healthcheck: payments-api $(cat "$here/VERSION") unhealthy: ledger database unreachable (connection refused on :5432)" >&2
exit 1
