#!/bin/bash
# Shape of Gunther-Schulz/local-llm-coding-setup start-llama-server-native.sh: Qwen2.5-Coder-14B
# (native 32768) served at 81920 with `--rope-scale 2.5` and no `--rope-scaling`, which llama.cpp
# applies as linear interpolation (the GGUF names no scaling type). Also served past native unscaled.
cd /workspace/llama.cpp-native/build/bin

./llama-server \
  --model /workspace/models/qwen2.5-coder-14b-q4_k_m/qwen2.5-coder-14b-instruct-q4_k_m.gguf \
  --host 0.0.0.0 \
  --port 8000 \
  --ctx-size 81920 \
  --rope-scale 2.5 \
  --flash-attn on

./llama-server -m /workspace/models/qwen2.5-coder-14b-instruct-q4_k_m.gguf --ctx-size 65536 --port 8001
