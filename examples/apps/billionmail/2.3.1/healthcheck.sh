#!/usr/bin/env bash
# Healthcheck for billionmail 2.3.1: exits 0 when the release is healthy.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want="billionmail $(cat "$here/VERSION") ok"
got=$("$here/app.sh" --health) || { echo "healthcheck: billionmail: app.sh --health failed" >&2; exit 1; }
if [ "$got" != "$want" ]; then
  echo "healthcheck: billionmail: expected '$want', got '$got'" >&2
  exit 1
fi
echo "healthcheck: $got"
