#!/usr/bin/env bash
# payments-api 3.2.0-rc.1 - payments API (release candidate)
# Stand-in application for the Deckhand example pipeline: it only reports who it is.
set -euo pipefail
case "${1:-}" in
  --health) echo "payments-api 3.2.0-rc.1 ok" ;;
  *)        echo "payments-api 3.2.0-rc.1: payments API (release candidate) (would listen on :8443)" ;;
esac
