"""Family rules: what a model's name alone honestly tells, for ids and paths no config is found for.

When neither a config file, the Hugging Face cache, the hub nor ropeguard's registry knows a model
(offline lint of a deployment file naming `Qwen/Qwen2.5-32B-Instruct`, or a path such as
`/models/Qwen3-32B-FP8` that exists only on the serving machine), the name still says the family, and
a family fixes the rope: native context, rope_theta, the scaling the checkpoints ship,
max_position_embeddings. The shapes (and so weights and KV cache) are known only when the name gives
a size this table lists; otherwise the spec says so (`shape_known` false) and the memory plan is left
unknown.

Each family is one row of data: the fields every checkpoint of the family shares (`base`, in
config.json form) and the fields of each published size (`sizes`), written out from the published
config.json files of those checkpoints. Rows are tried in order; the first whose pattern matches the
name's last path component (lower-cased, quantisation suffix removed) wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Name suffixes that name a quantised checkpoint, and the quantization they mean for vLLM.
_QUANT_SUFFIXES: Mapping[str, str | None] = {
    "fp8": "fp8",
    "fp8-dynamic": "fp8",
    "awq": "awq",
    "gptq-int4": "gptq",
    "gptq-int8": "gptq",
    "gptq": "gptq",
    "int4": None,
    "int8": None,
    "bnb-4bit": None,
    "gguf": None,
}
_SUFFIX_ALTERNATIVES = "|".join(sorted(map(re.escape, _QUANT_SUFFIXES), key=len, reverse=True))
_QUANT_RE = re.compile(r"-(" + _SUFFIX_ALTERNATIVES + r")$")


def _qwen2(hidden: int, layers: int, heads: int, kv: int, inter: int, *, tied: bool) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "intermediate_size": inter,
        "tie_word_embeddings": tied,
        "vocab_size": 151936 if tied else 152064,
    }


def _qwen3(hidden: int, layers: int, heads: int, kv: int, inter: int, *, tied: bool) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "intermediate_size": inter,
        "tie_word_embeddings": tied,
        "head_dim": 128,
        "vocab_size": 151936,
    }


def _qwen3_moe(
    hidden: int, layers: int, heads: int, kv: int, experts: int, expert_size: int, **extra: Any
) -> dict[str, Any]:
    return {
        "model_type": "qwen3_moe",
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "intermediate_size": expert_size * 8,
        "moe_intermediate_size": expert_size,
        "num_experts": experts,
        "num_experts_per_tok": 8,
        "head_dim": 128,
        "vocab_size": 151936,
        "tie_word_embeddings": False,
        **extra,
    }


def _llama(
    hidden: int, layers: int, heads: int, inter: int, *, tied: bool = False, head_dim: int = 128
) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": 8,
        "intermediate_size": inter,
        "tie_word_embeddings": tied,
        "head_dim": head_dim,
        "vocab_size": 128256,
    }


def _llama3_scaling(factor: float) -> dict[str, Any]:
    return {
        "rope_type": "llama3",
        "factor": factor,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    }


_LLAMA4_TEXT = {
    "model_type": "llama4_text",
    "hidden_size": 5120,
    "num_hidden_layers": 48,
    "num_attention_heads": 40,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "intermediate_size": 8192,
    "intermediate_size_mlp": 16384,
    "attention_chunk_size": 8192,
    "num_experts_per_tok": 1,
    "rope_theta": 500000.0,
    "vocab_size": 202048,
}


# Qwen2.5's published shapes (hidden, layers, heads, KV heads, intermediate; config.json of each size).
_QWEN25_SIZES: Mapping[str, Mapping[str, Any]] = {
    "0.5b": _qwen2(896, 24, 14, 2, 4864, tied=True),
    "1.5b": _qwen2(1536, 28, 12, 2, 8960, tied=True),
    "3b": _qwen2(2048, 36, 16, 2, 11008, tied=True),
    "7b": _qwen2(3584, 28, 28, 4, 18944, tied=False),
    "14b": _qwen2(5120, 48, 40, 8, 13824, tied=False),
    "32b": _qwen2(5120, 64, 40, 8, 27648, tied=False),
    "72b": _qwen2(8192, 80, 64, 8, 29568, tied=False),
}


@dataclass(frozen=True)
class FamilyRule:
    key: str
    name: str  # regex over the lower-cased basename; group "size" is the size label
    native: int
    source: str  # where the native context comes from
    base: Mapping[str, Any]
    sizes: Mapping[str, Mapping[str, Any]]
    exclude: str | None = None  # names that look alike but are other families (-1M, VL, Next...)
    # The published shape to fall back on for the rope's head_dim when the size is unknown.
    reference_size: str | None = None
    # Wrapper models (Llama 4): the text fields sit under this key.
    text_config_key: str | None = None
    notes: tuple[str, ...] = field(default=())


FAMILY_RULES: tuple[FamilyRule, ...] = (
    FamilyRule(
        key="qwen2.5-coder",
        name=r"^qwen2\.5-coder-(?P<size>[\d.]+b)",
        native=32768,
        source="Qwen2.5-Coder model cards: 32,768 tokens natively (YaRN factor 4 for 131,072)",
        base={"model_type": "qwen2", "max_position_embeddings": 32768, "rope_theta": 1_000_000.0},
        # Coder has Qwen2.5's shapes size for size (its model cards), without a 72B.
        sizes={size: shape for size, shape in _QWEN25_SIZES.items() if size != "72b"},
        exclude=r"-1m|vl",
        reference_size="7b",
    ),
    FamilyRule(
        key="qwen2.5",
        name=r"^qwen2\.5-(?P<size>[\d.]+b)",
        native=32768,
        source="Qwen2.5 model cards: 32,768 tokens natively (YaRN factor 4 for 131,072)",
        base={"model_type": "qwen2", "max_position_embeddings": 32768, "rope_theta": 1_000_000.0},
        sizes=_QWEN25_SIZES,
        # -1M: dual chunk attention, trained to 262144 (a config of its own); VL/Omni/Math differ.
        exclude=r"-1m|vl|omni|math",
        reference_size="7b",
    ),
    FamilyRule(
        key="qwen3-coder",
        name=r"^qwen3-coder-(?P<size>\d+b-a\d+b)",
        native=262144,
        source="Qwen3-Coder model cards: 262,144 tokens natively",
        base={"model_type": "qwen3_moe", "max_position_embeddings": 262144},
        sizes={
            "480b-a35b": _qwen3_moe(6144, 62, 96, 8, 160, 2560, rope_theta=10_000_000.0),
            "30b-a3b": _qwen3_moe(2048, 48, 32, 4, 128, 768, rope_theta=10_000_000.0),
        },
    ),
    FamilyRule(
        key="qwen3-2507",
        name=r"^qwen3-(?P<size>[\d.]+b(?:-a\d+b)?)-(?:instruct|thinking)-2507",
        native=262144,
        source="Qwen3 2507 model cards: 262,144 tokens natively",
        base={"model_type": "qwen3", "max_position_embeddings": 262144},
        sizes={
            "4b": {**_qwen3(2560, 36, 32, 8, 9728, tied=True), "rope_theta": 5_000_000.0},
            "30b-a3b": _qwen3_moe(2048, 48, 32, 4, 128, 768, rope_theta=10_000_000.0),
            "235b-a22b": _qwen3_moe(4096, 94, 64, 4, 128, 1536, rope_theta=5_000_000.0),
        },
    ),
    FamilyRule(
        key="qwen3",
        name=r"^qwen3-(?P<size>[\d.]+b(?:-a\d+b)?)",
        native=32768,
        source="Qwen3 model cards: 'natively supports context lengths of up to 32,768 tokens' "
        "(max_position_embeddings 40960); YaRN factor 4 for 131,072",
        base={"model_type": "qwen3", "max_position_embeddings": 40960, "rope_theta": 1_000_000.0},
        sizes={
            "0.6b": _qwen3(1024, 28, 16, 8, 3072, tied=True),
            "1.7b": _qwen3(2048, 28, 16, 8, 6144, tied=True),
            "4b": _qwen3(2560, 36, 32, 8, 9728, tied=True),
            "8b": _qwen3(4096, 36, 32, 8, 12288, tied=False),
            "14b": _qwen3(5120, 40, 40, 8, 17408, tied=False),
            "32b": _qwen3(5120, 64, 64, 8, 25600, tied=False),
            "30b-a3b": _qwen3_moe(2048, 48, 32, 4, 128, 768),
            "235b-a22b": _qwen3_moe(4096, 94, 64, 4, 128, 1536),
        },
        exclude=r"2507|next|vl|coder|embedding|reranker|omni",
        reference_size="8b",
    ),
    FamilyRule(
        key="llama-3.2",
        name=r"^(?:meta-)?llama-3\.2-(?P<size>\d+b)",
        native=131072,
        source="Llama 3.2 model cards: 128K tokens, by its own llama3 rope scaling (factor 32 over 8192)",
        base={
            "model_type": "llama",
            "max_position_embeddings": 131072,
            "rope_theta": 500_000.0,
            "rope_scaling": _llama3_scaling(32.0),
        },
        sizes={
            "1b": _llama(2048, 16, 32, 8192, tied=True, head_dim=64),
            "3b": {**_llama(3072, 28, 24, 8192, tied=True), "head_dim": 128},
        },
        exclude=r"vision",
    ),
    FamilyRule(
        key="llama-3.1",
        name=r"^(?:meta-)?llama-3\.[13]-(?P<size>\d+b)",
        native=131072,
        source="Llama 3.1 / 3.3 model cards: 128K tokens, by their own llama3 rope scaling "
        "(factor 8 over 8192)",
        base={
            "model_type": "llama",
            "max_position_embeddings": 131072,
            "rope_theta": 500_000.0,
            "rope_scaling": _llama3_scaling(8.0),
        },
        sizes={
            "8b": _llama(4096, 32, 32, 14336),
            "70b": _llama(8192, 80, 64, 28672),
            "405b": _llama(16384, 126, 128, 53248),
        },
        reference_size="8b",
    ),
    FamilyRule(
        key="llama-3",
        name=r"^(?:meta-)?llama-3-(?P<size>\d+b)",
        native=8192,
        source="Meta Llama 3 model cards: 8K tokens",
        base={"model_type": "llama", "max_position_embeddings": 8192, "rope_theta": 500_000.0},
        sizes={"8b": _llama(4096, 32, 32, 14336), "70b": _llama(8192, 80, 64, 28672)},
        reference_size="8b",
    ),
    FamilyRule(
        key="llama-4",
        name=r"^llama-4-(?P<size>scout|maverick)",
        native=0,  # per size below
        source="Llama 4 model cards: Scout 10M tokens (llama3 scaling factor 16 over 8192), Maverick 1M",
        base={"model_type": "llama4"},
        sizes={
            "scout": {
                **_LLAMA4_TEXT,
                "num_local_experts": 16,
                "interleave_moe_layer_step": 1,
                "max_position_embeddings": 10485760,
                "rope_scaling": {**_llama3_scaling(16.0), "high_freq_factor": 1.0},
                "native": 10485760,
            },
            "maverick": {
                **_LLAMA4_TEXT,
                "num_local_experts": 128,
                "interleave_moe_layer_step": 2,
                "max_position_embeddings": 1048576,
                "native": 1048576,
            },
        },
        text_config_key="text_config",
    ),
)


@dataclass(frozen=True)
class FamilyMatch:
    rule: FamilyRule
    size: str
    size_known: bool
    quantization: str | None
    config: dict[str, Any]  # config.json form, ready for the reader
    native: int


def _basename(model: str) -> str:
    return model.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()


def strip_quant_suffix(name: str) -> tuple[str, str | None]:
    """('qwen3-32b', 'fp8') for 'qwen3-32b-fp8'; the quantization is None when the suffix is vague."""
    match = _QUANT_RE.search(name)
    if match is None:
        return name, None
    return name[: match.start()], _QUANT_SUFFIXES[match.group(1)]


def match_family(model: str) -> FamilyMatch | None:
    """The family rule the model's name matches (None: no family known), with its config."""
    name, quantization = strip_quant_suffix(_basename(model))
    for rule in FAMILY_RULES:
        found = re.search(rule.name, name)
        if found is None or (rule.exclude is not None and re.search(rule.exclude, name)):
            continue
        size = found.group("size")
        shape = rule.sizes.get(size)
        size_known = shape is not None
        if shape is None:
            if rule.reference_size is None:
                return FamilyMatch(rule, size, False, quantization, {}, rule.native)
            shape = rule.sizes[rule.reference_size]
        fields = {**rule.base, **shape}
        native = int(fields.pop("native", rule.native))
        if quantization is not None:
            fields["quantization_config"] = {"quant_method": quantization}
        if rule.text_config_key is not None:
            text = {key: value for key, value in fields.items() if key != "model_type"}
            text["model_type"] = shape.get("model_type", fields["model_type"])
            config = {"model_type": rule.base["model_type"], rule.text_config_key: text}
        else:
            config = fields
        return FamilyMatch(rule, size, size_known, quantization, config, native)
    return None
