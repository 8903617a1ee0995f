#!/bin/bash
docker run --gpus all vllm/vllm-openai:v0.11.0 --model Qwen/Qwen3-8B --max-model-len 131072 --rope-scaling '{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}'
