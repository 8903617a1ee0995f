#!/bin/bash
# llama.cpp has its own --rope-scaling flag: not vLLM.
./llama-server -m qwen3-8b-q4_k_m.gguf -c 131072 --rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768
