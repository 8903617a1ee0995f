#!/bin/bash
vllm serve Qwen/Qwen3-8B --max-model-len 65536 \
  --hf-overrides '{"rope_parameters": {"rope_type": "yarn", "factor": 2.0,}}'
