#!/bin/sh
# YaRN against max_position_embeddings (40960) instead of the native 32768.
exec python -m vllm.entrypoints.openai.api_server --model Qwen/Qwen3-8B \
  --max-model-len 131072 \
  --hf-overrides '{"rope_parameters": {"rope_type": "yarn", "factor": 3.2, "original_max_position_embeddings": 40960, "rope_theta": 1000000}, "max_position_embeddings": 131072}'
