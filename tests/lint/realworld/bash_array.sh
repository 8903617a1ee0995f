#!/usr/bin/env bash
# Array-built command lines (shape of scripts such as InferenceMAX's benchmark launchers).
set -euo pipefail
cmd=( vllm serve Qwen/Qwen3-8B --port 8000 )
cmd+=( --tensor-parallel-size 1 )
cmd+=( --max-model-len 131072 )
echo "running: ${cmd[*]}"
exec "${cmd[@]}"
