FROM vllm/vllm-openai:v0.14.0
RUN pip install transformers==4.57.1
# rope_scaling is applied after rope_parameters were built, then unused on 0.12-0.23 + transformers 4
CMD ["--model", "Qwen/Qwen3-8B", "--max-model-len", "131072", \
     "--hf-overrides", "{\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 32768, \"rope_theta\": 1000000}}"]
