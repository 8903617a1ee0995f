#!/usr/bin/env bash
set -euo pipefail
pip install vllm==0.33.0
MODEL=Qwen/Qwen3-8B   # a variable the script does not expand for lint
vllm serve "$MODEL" --max-model-len 131072 \
  --hf-overrides '{"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768, "rope_theta": 1000000.0}, "max_position_embeddings": 131072}'
vllm serve Qwen/Qwen3-8B \
  --max-model-len 131072 \
  --hf-overrides "{\"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 32768, \"rope_theta\": 1000000.0}, \"max_position_embeddings\": 131072}"
