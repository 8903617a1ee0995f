# A base image, then vLLM reinstalled over it (seen in fine-tune repos that need a newer vLLM).
FROM vllm/vllm-openai:v0.8.5
RUN pip install --no-cache-dir vllm==0.12.0
ENTRYPOINT ["vllm", "serve", "Qwen/Qwen3-8B", "--max-model-len", "131072", "--rope-scaling", "{\"rope_type\":\"yarn\",\"factor\":4.0,\"original_max_position_embeddings\":32768}"]
