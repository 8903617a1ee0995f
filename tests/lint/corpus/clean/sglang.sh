#!/bin/bash
python -m sglang.launch_server --model-path Qwen/Qwen3-8B --context-length 131072 \
  --json-model-override-args '{"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}'
