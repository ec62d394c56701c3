#!/usr/bin/env bash
# payments-api 3.0.2 - payments API
# Stand-in application for the Deckhand example pipeline: it only reports who it is.
set -euo pipefail
case "${1:-}" in
  --health) echo "payments-api 3.0.2 ok" ;;
  *)        echo "payments-api 3.0.2: payments API (would listen on :8443)" ;;
esac
