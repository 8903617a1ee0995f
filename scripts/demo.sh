#!/usr/bin/env bash
# From a fresh machine to the main job: set up the repository's .venv, then run `ropeguard demo`, or
# `ropeguard ARGS...` when given arguments, in the folder this is called from:
#
#   bash scripts/demo.sh                                  # the demo; runs land in ./ropeguard-runs/
#   bash ~/ropeguard/scripts/demo.sh lint deploy/         # lint ./deploy of the project you are in
#
# Set-up messages go to stderr, so `demo.sh plan MODEL --target 128k --json` prints only the JSON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/bootstrap.sh"
VENV=${ROPEGUARD_VENV:-.venv}
case "$VENV" in
  /*) ;;
  *) VENV="$root/$VENV" ;;  # bootstrap.sh reads a relative ROPEGUARD_VENV against the repository
esac
if [ "$#" -eq 0 ]; then
  set -- demo
fi
exec "$VENV/bin/ropeguard" "$@"
