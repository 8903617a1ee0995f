"""ModelSpecs built by hand from FACTS.md section 4 (until the registry can be used in tests)."""

from __future__ import annotations

from ropeguard.models.spec import MlaSpec, ModelSpec, MoeSpec, RopeSpec


def qwen3_8b(**changes: object) -> ModelSpec:
    spec = ModelSpec(
        model="Qwen/Qwen3-8B",
        model_type="qwen3",
        architectures=["Qwen3ForCausalLM"],
        config_source="registry",
        max_position_embeddings=40960,
        native_context=32768,
        native_context_source="Qwen docs: 32768 native (40960 = 32768 output + 8192 prompt)",
        rope=RopeSpec(rope_type="default", rope_theta=1e6, rotary_dim=128),
        hidden_size=4096,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        intermediate_size=12288,
        vocab_size=151936,
        tie_word_embeddings=False,
        dtype="bfloat16",
        layer_types=["full_attention"] * 36,
    )
    return spec.model_copy(update=changes)


def llama31_8b() -> ModelSpec:
    return ModelSpec(
        model="meta-llama/Llama-3.1-8B-Instruct",
        model_type="llama",
        config_source="registry",
        max_position_embeddings=131072,
        native_context=131072,
        native_context_source="config max_position_embeddings (llama3 x8 over 8192 pretraining)",
        rope=RopeSpec(
            rope_type="llama3",
            rope_theta=5e5,
            rotary_dim=128,
            params={
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
            },
        ),
        hidden_size=4096,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        intermediate_size=14336,
        vocab_size=128256,
        layer_types=["full_attention"] * 32,
    )


def gpt_oss_20b() -> ModelSpec:
    return ModelSpec(
        model="openai/gpt-oss-20b",
        model_type="gpt_oss",
        config_source="registry",
        max_position_embeddings=131072,
        native_context=131072,
        native_context_source="config",
        rope=RopeSpec(
            rope_type="yarn",
            rope_theta=150000.0,
            rotary_dim=64,
            params={
                "factor": 32.0,
                "original_max_position_embeddings": 4096,
                "beta_fast": 32.0,
                "beta_slow": 1.0,
                "truncate": False,
            },
        ),
        hidden_size=2880,
        num_hidden_layers=24,
        num_attention_heads=64,
        num_key_value_heads=8,
        head_dim=64,
        intermediate_size=2880,
        vocab_size=201088,
        layer_types=["sliding_attention", "full_attention"] * 12,
        sliding_window=128,
        moe=MoeSpec(num_experts=32, num_experts_per_tok=4, moe_intermediate_size=2880),
        quantization="mxfp4",
    )


def deepseek_v3() -> ModelSpec:
    return ModelSpec(
        model="deepseek-ai/DeepSeek-V3",
        model_type="deepseek_v3",
        config_source="registry",
        max_position_embeddings=163840,
        native_context=163840,
        native_context_source="config",
        rope=RopeSpec(
            rope_type="yarn",
            rope_theta=10000.0,
            rotary_dim=64,
            params={
                "factor": 40.0,
                "original_max_position_embeddings": 4096,
                "beta_fast": 32,
                "beta_slow": 1,
                "mscale": 1.0,
                "mscale_all_dim": 1.0,
            },
        ),
        hidden_size=7168,
        num_hidden_layers=61,
        num_attention_heads=128,
        num_key_value_heads=128,
        head_dim=192,
        intermediate_size=18432,
        vocab_size=129280,
        layer_types=["mla"] * 61,
        mla=MlaSpec(
            kv_lora_rank=512, qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128, q_lora_rank=1536
        ),
        moe=MoeSpec(
            num_experts=256,
            num_experts_per_tok=8,
            moe_intermediate_size=2048,
            num_shared_experts=1,
            first_dense_layers=3,
        ),
        quantization="fp8",
    )


def gemma3_27b() -> ModelSpec:
    pattern = (["sliding_attention"] * 5 + ["full_attention"]) * 10 + ["sliding_attention"] * 2
    return ModelSpec(
        model="google/gemma-3-27b-it",
        model_type="gemma3",
        config_source="registry",
        text_config_key="text_config",
        max_position_embeddings=131072,
        native_context=131072,
        native_context_source="config",
        rope=RopeSpec(
            rope_type="linear", rope_theta=1e6, rotary_dim=128, params={"factor": 8.0}, local_rope_theta=1e4
        ),
        hidden_size=5376,
        num_hidden_layers=62,
        num_attention_heads=32,
        num_key_value_heads=16,
        head_dim=128,
        intermediate_size=21504,
        vocab_size=262208,
        tie_word_embeddings=True,
        layer_types=pattern,
        sliding_window=1024,
    )


def llama31_405b() -> ModelSpec:
    """meta-llama/Llama-3.1-405B-Instruct's config.json: hidden 16384, 126 layers, 128 heads, 8 KV heads,
    intermediate 53248, vocab 128256, llama3 x8 over 8192 (the same shape the vLLM LWS guide serves as
    TP 8 x PP 2 on two 8-GPU nodes, docs/deployment/frameworks/lws.md in vllm-project/vllm)."""
    # The 8B's rope and attention layout, scaled up: only the shape fields differ.
    return llama31_8b().model_copy(
        update={
            "model": "meta-llama/Llama-3.1-405B-Instruct",
            "hidden_size": 16384,
            "num_hidden_layers": 126,
            "num_attention_heads": 128,
            "intermediate_size": 53248,
            "layer_types": ["full_attention"] * 126,
        }
    )
