#!/bin/bash
# The Qwen/Qwen3-8B model card's long-context line (written for vLLM before 0.11.1).
vllm serve Qwen/Qwen3-8B --rope-scaling '{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}' --max-model-len 131072
