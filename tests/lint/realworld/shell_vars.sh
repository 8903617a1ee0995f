#!/bin/bash
# Serve-script shape common in Qwen/QwenLM docs and user repos: defaults via ${VAR:-default}.
MODEL=${MODEL:-Qwen/Qwen3-8B}
MAX_LEN="${MAX_LEN:-131072}"
PORT=8000
vllm serve "$MODEL" --port $PORT --max-model-len ${MAX_LEN}
