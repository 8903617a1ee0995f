#!/usr/bin/env bash
# From an old guide: the rope flags were removed in vLLM 0.11.1.
vllm serve Qwen/Qwen3-8B \
  --max-model-len 131072 \
  --rope-scaling '{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}' \
  --rope-theta 1000000
