#!/usr/bin/env bash
# payments-api 3.1.0 - payments API
# Stand-in application for the Deckhand example pipeline: it only reports who it is.
set -euo pipefail
case "${1:-}" in
  --health) echo "payments-api 3.1.0 ok" ;;
  *)        echo "payments-api 3.1.0: payments API (would listen on :8443)" ;;
esac
