#!/bin/bash
vllm serve Qwen/Qwen3-8B --max-model-len 131072 \
  --rope-scaling '{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}'
