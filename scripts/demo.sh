#!/usr/bin/env bash
# From a fresh machine to the main job: set up .venv, then run ropeguard on a well-known model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
VENV=${ROPEGUARD_VENV:-.venv}
if [ "$#" -eq 0 ]; then
  set -- plan Qwen/Qwen3-8B --target 128k
fi
exec "$VENV/bin/ropeguard" "$@"
