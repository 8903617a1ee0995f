from langchain.llms import LLM  # not vLLM's

llm = LLM(model="gpt-4", max_model_len=999999, hf_overrides={"rope_scaling": {"type": "yarn"}})
