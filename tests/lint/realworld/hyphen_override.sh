#!/bin/bash
# An hf_overrides key written with a hyphen (the CLI flag's spelling): no config field has that name.
pip install vllm==0.12.0
vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides '{"rope-scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}'
