#!/usr/bin/env bash
# Healthcheck for payments-api 3.1.0: exits 0 when the release is healthy.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want="payments-api $(cat "$here/VERSION") ok"
got=$("$here/app.sh" --health) || { echo "healthcheck: payments-api: app.sh --health failed" >&2; exit 1; }
if [ "$got" != "$want" ]; then
  echo "healthcheck: payments-api: expected '$want', got '$got'" >&2
  exit 1
fi
echo "healthcheck: $got"
