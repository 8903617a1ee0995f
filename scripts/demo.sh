#!/usr/bin/env bash
# From a fresh machine to the main job: set up .venv, then run `ropeguard demo` (or `ropeguard ARGS...`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
VENV=${ROPEGUARD_VENV:-.venv}
if [ "$#" -eq 0 ]; then
  set -- demo
fi
exec "$VENV/bin/ropeguard" "$@"
