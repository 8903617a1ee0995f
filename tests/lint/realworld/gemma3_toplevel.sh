#!/bin/bash
# Gemma 3 is a multimodal wrapper: its rope settings live in text_config (google/gemma-3-27b-it config.json).
pip install vllm==0.12.0
vllm serve google/gemma-3-27b-it --max-model-len 131072 --hf-overrides '{"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}'
