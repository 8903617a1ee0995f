FROM vllm/vllm-openai:latest
RUN pip install "vllm>=0.10"
FROM vllm/vllm-openai AS second
