#!/usr/bin/env bash
# The whole test suite: ruff, mypy --strict on src, pytest (real vLLM on CPU included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The report test renders HTML in headless Chromium (Debian's package); install it once when we can.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/dev/null \
    || echo "warning: could not install chromium; the Chromium render test will be skipped" >&2
fi
VENV=${ROPEGUARD_VENV:-.venv}
"$VENV/bin/ruff" check src tests bench tools
"$VENV/bin/ruff" format --check src tests bench tools
"$VENV/bin/mypy" src
"$VENV/bin/pytest" "$@"
