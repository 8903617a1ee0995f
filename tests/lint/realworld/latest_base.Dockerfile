# Shape of bq1024/Llama-3.2-1B's Dockerfile (FROM vllm/vllm-openai:latest, exec-form CMD args
# continued over lines); the token line it had is left out.
FROM  vllm/vllm-openai:latest
EXPOSE 8000
CMD ["--host", "0.0.0.0",\
     "--model", "Qwen/Qwen2.5-0.5B-Instruct", \
     "--dtype", "bfloat16", \
     "--max-model-len", "8128"]
