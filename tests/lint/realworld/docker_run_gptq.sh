#!/bin/bash
# Shape of a README's docker run (Devstral GPTQ on two GPUs): a model id ropeguard cannot resolve
# offline, --max_model_len with underscores, the image unpinned.
export LLM_MODEL=mratsim/Devstral-Small-2505.w4a16-gptq
docker run \
  --gpus '"device=0,1"' --rm --name vllm_server \
  -v ~/.cache/huggingface:/root/.cache/huggingface \
  -p 8000:8000 --ipc=host vllm/vllm-openai:latest \
  --model $LLM_MODEL \
  --tokenizer_mode mistral --pipeline-parallel-size 2 \
  --gpu-memory-utilization 0.94 --max_model_len 48080
