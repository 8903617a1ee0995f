#!/bin/bash
# camelCase and hyphenated keys are not config fields: vLLM sets them and nothing reads them.
pip install vllm==0.33.0
vllm serve Qwen/Qwen3-8B --max-model-len 32768 --hf-overrides '{"ropeParameters": {"rope_type": "default"}, "max-position-embeddings": 40960}'
