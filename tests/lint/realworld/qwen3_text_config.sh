#!/bin/bash
# Qwen3 has no text_config (Qwen/Qwen3-8B config.json): an override nested there is never applied.
pip install vllm==0.12.0
vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides '{"text_config": {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768, "rope_theta": 1000000}}}'
