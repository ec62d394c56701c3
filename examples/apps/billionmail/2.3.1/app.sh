#!/usr/bin/env bash
# billionmail 2.3.1 - self-hosted mail server
# Stand-in application for the Deckhand example pipeline: it only reports who it is.
set -euo pipefail
case "${1:-}" in
  --health) echo "billionmail 2.3.1 ok" ;;
  *)        echo "billionmail 2.3.1: self-hosted mail server (would listen on :8025)" ;;
esac
