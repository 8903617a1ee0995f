#!/usr/bin/env bash
# The whole test suite: ruff, mypy --strict on src, pytest (real vLLM on CPU included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
VENV=${ROPEGUARD_VENV:-.venv}
"$VENV/bin/ruff" check src tests bench tools
"$VENV/bin/ruff" format --check src tests bench tools
"$VENV/bin/mypy" src
"$VENV/bin/pytest" "$@"
