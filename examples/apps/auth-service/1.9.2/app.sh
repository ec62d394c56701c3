#!/usr/bin/env bash
# auth-service 1.9.2 - login and token service
# Stand-in application for the Deckhand example pipeline: it only reports who it is.
set -euo pipefail
case "${1:-}" in
  --health) echo "auth-service 1.9.2 ok" ;;
  *)        echo "auth-service 1.9.2: login and token service (would listen on :8081)" ;;
esac
