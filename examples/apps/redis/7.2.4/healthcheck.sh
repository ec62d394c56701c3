#!/usr/bin/env bash
# Healthcheck for redis 7.2.4: exits 0 when the release is healthy.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want="redis $(cat "$here/VERSION") ok"
got=$("$here/app.sh" --health) || { echo "healthcheck: redis: app.sh --health failed" >&2; exit 1; }
if [ "$got" != "$want" ]; then
  echo "healthcheck: redis: expected '$want', got '$got'" >&2
  exit 1
fi
echo "healthcheck: $got"
