#!/usr/bin/env bash
# Healthcheck for auth-service 1.8.0: exits 0 when the release is healthy.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want="auth-service $(cat "$here/VERSION") ok"
got=$("$here/app.sh" --health) || { echo "healthcheck: auth-service: app.sh --health failed" >&2; exit 1; }
if [ "$got" != "$want" ]; then
  echo "healthcheck: auth-service: expected '$want', got '$got'" >&2
  exit 1
fi
echo "healthcheck: $got"
