# Offline-inference shape of vllm-project/vllm examples (LLM(...) with hf_overrides built first).
from vllm import LLM, SamplingParams

MODEL = "Qwen/Qwen3-8B"


def main() -> None:
    hf_overrides = {
        "rope_parameters": {
            "rope_type": "yarn",
            "factor": 4.0,
            "original_max_position_embeddings": 40960,
            "rope_theta": 1000000,
        },
        "max_position_embeddings": 131072,
    }
    llm = LLM(model=MODEL, hf_overrides=hf_overrides, max_model_len=131072)
    print(llm.generate(["hi"], SamplingParams(max_tokens=8)))
