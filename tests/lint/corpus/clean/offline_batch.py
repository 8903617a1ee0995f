from vllm import LLM, SamplingParams

MAX = 131072
llm = LLM(model="Qwen/Qwen3-8B", max_model_len=32768)
other = LLM(model="Qwen/Qwen3-8B", max_model_len=MAX, hf_overrides=build_overrides())
print(llm.generate(["hi"], SamplingParams(max_tokens=8)))
