/opt/venv/bin/vllm serve deepseek-ai/DeepSeek-V3 --host 0.0.0.0 --port 8000 --max-model-len 163840 --tensor-parallel-size 8 --pipeline-parallel-size 2 --distributed-executor-backend ray
