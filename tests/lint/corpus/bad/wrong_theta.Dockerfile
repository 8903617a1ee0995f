FROM vllm/vllm-openai:v0.33.0
ENTRYPOINT ["vllm", "serve", "Qwen/Qwen3-8B"]
CMD ["--max-model-len", "131072", "--hf-overrides", "{\"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 32768, \"rope_theta\": 10000}, \"max_position_embeddings\": 131072}"]
