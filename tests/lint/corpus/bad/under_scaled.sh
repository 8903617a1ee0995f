#!/bin/bash
# vllm==0.33.0
pip install vllm==0.33.0
vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides '{"rope_parameters": {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 32768, "rope_theta": 1000000}, "max_position_embeddings": 131072}'
