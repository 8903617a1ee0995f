#!/bin/bash
# Qwen's Qwen3-8B model card (huggingface.co/Qwen/Qwen3-8B, "Processing Long Texts", llama.cpp):
# `llama-server ... -c 131072 --rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768`. Correct: clean.
llama-server -m qwen3-8b-q4_k_m.gguf -c 131072 -fa on \
    --rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768
