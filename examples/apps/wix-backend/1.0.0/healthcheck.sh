#!/usr/bin/env bash
# Healthcheck for wix-backend 1.0.0: exits 0 when the release is healthy.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want="wix-backend $(cat "$here/VERSION") ok"
got=$("$here/app.sh" --health) || { echo "healthcheck: wix-backend: app.sh --health failed" >&2; exit 1; }
if [ "$got" != "$want" ]; then
  echo "healthcheck: wix-backend: expected '$want', got '$got'" >&2
  exit 1
fi
echo "healthcheck: $got"
