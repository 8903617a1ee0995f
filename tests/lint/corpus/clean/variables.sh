#!/bin/bash
# Everything comes from the environment: nothing to judge, nothing to expand.
vllm serve "${MODEL}" --max-model-len "$MAX_LEN" --hf-overrides "$OVERRIDES" $EXTRA_ARGS
vllm serve $(cat model.txt) --max-model-len ${MAX_LEN:-32768}
vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides "$ROPE_OVERRIDES"
