#!/usr/bin/env bash
# auth-service 1.8.0 - login and token service
# Stand-in application for the Deckhand example pipeline: it only reports who it is.
set -euo pipefail
case "${1:-}" in
  --health) echo "auth-service 1.8.0 ok" ;;
  *)        echo "auth-service 1.8.0: login and token service (would listen on :8081)" ;;
esac
