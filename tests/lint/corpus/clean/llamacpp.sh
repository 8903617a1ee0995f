#!/bin/bash
# A llama.cpp launch (its own --rope-scaling flag, not vLLM RG101): Qwen3-8B native 32768 x 4 = -c 131072.
./llama-server -m qwen3-8b-q4_k_m.gguf -c 131072 --rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768
