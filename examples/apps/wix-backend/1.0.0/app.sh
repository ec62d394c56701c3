#!/usr/bin/env bash
# wix-backend 1.0.0 - site backend API
# Stand-in application for the Deckhand example pipeline: it only reports who it is.
set -euo pipefail
case "${1:-}" in
  --health) echo "wix-backend 1.0.0 ok" ;;
  *)        echo "wix-backend 1.0.0: site backend API (would listen on :8082)" ;;
esac
