#!/bin/bash
# 40960 is what the config allows, but Qwen3 was trained on 32768.
vllm serve Qwen/Qwen3-8B --max-model-len 40960
