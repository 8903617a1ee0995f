#!/bin/bash
# Shape of vllm-project/vllm examples/online_serving/run_cluster.sh usage with NVIDIA's NGC image:
# the NGC tag is a YY.MM container release, not a vLLM version.
docker run --gpus all --ipc=host -p 8000:8000 nvcr.io/nvidia/vllm:25.09-py3 \
    vllm serve Qwen/Qwen3-8B --max-model-len 131072
