from vllm import LLM

llm = LLM(
    model="Qwen/Qwen3-8B",
    max_model_len=131072,
    hf_overrides={
        "rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 1000000.0},
        "max_position_embeddings": 131072,
    },
)
