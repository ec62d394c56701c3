#!/usr/bin/env bash
# redis 7.2.5 - in-memory cache
# Stand-in application for the Deckhand example pipeline: it only reports who it is.
set -euo pipefail
case "${1:-}" in
  --health) echo "redis 7.2.5 ok" ;;
  *)        echo "redis 7.2.5: in-memory cache (would listen on :6379)" ;;
esac
