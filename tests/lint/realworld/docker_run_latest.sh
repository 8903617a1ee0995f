#!/bin/bash
# vllm-project/vllm docs/deployment/docker.md: `docker run ... vllm/vllm-openai:latest --model ...`.
docker run --runtime nvidia --gpus all \
    -v ~/.cache/huggingface:/root/.cache/huggingface \
    -p 8000:8000 --ipc=host \
    vllm/vllm-openai:latest \
    --model Qwen/Qwen3-8B --max-model-len 32768
