FROM vllm/vllm-openai:latest
RUN pip install "vllm>=0.10"
