"""Family knowledge the config.json itself does not state: class defaults and native-context rules.

Two small tables, kept as data so that adding a family is adding a row:

- `CLASS_DEFAULTS`: values transformers fills in from the config class when config.json leaves a
  field out (Gemma 3's published text_config has no max_position_embeddings or rope_theta).
- `NATIVE_RULES`: families whose native context is not `max_position_embeddings`, each with the
  sentence that says where the number comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# model_type -> {field: default}, read from the transformers config classes (5.19).
CLASS_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "gemma3_text": {
        "max_position_embeddings": 131072,
        "rope_theta": 1_000_000.0,
        "rope_local_base_freq": 10_000.0,
        "sliding_window_pattern": 6,
        "vocab_size": 262208,
        "tie_word_embeddings": True,
        "num_key_value_heads": 4,
        "head_dim": 256,
    },
    "gemma3": {"tie_word_embeddings": True},
    # Gemma 2 and Cohere configs leave tie_word_embeddings out: their classes default to tied.
    "gemma2": {
        "tie_word_embeddings": True,
        "head_dim": 256,
        "sliding_window": 4096,
        "rope_theta": 10_000.0,
        "max_position_embeddings": 8192,
    },
    "cohere": {"tie_word_embeddings": True, "rope_theta": 10_000.0, "max_position_embeddings": 8192},
    "cohere2": {"tie_word_embeddings": True, "max_position_embeddings": 8192},
    "llama4_text": {
        "attention_chunk_size": 8192,
        "no_rope_layer_interval": 4,
        "interleave_moe_layer_step": 1,
        "intermediate_size_mlp": 16384,
        "head_dim": 128,
        "rope_theta": 500_000.0,
        "tie_word_embeddings": False,
    },
    "llama": {"rope_theta": 10_000.0, "max_position_embeddings": 2048},
    "mistral": {"rope_theta": 10_000.0, "max_position_embeddings": 4096 * 32},
    "qwen2": {"rope_theta": 10_000.0, "max_position_embeddings": 32768},
    "qwen3": {"rope_theta": 10_000.0, "max_position_embeddings": 32768},
    "qwen3_moe": {"rope_theta": 10_000.0, "max_position_embeddings": 32768},
    "qwen3_next": {"rope_theta": 10_000.0, "partial_rotary_factor": 0.25, "full_attention_interval": 4},
    "phi3": {"rope_theta": 10_000.0, "max_position_embeddings": 4096},
    "deepseek_v3": {"rope_theta": 10_000.0},
    "gpt_oss": {"rope_theta": 150_000.0},
}


# model_type -> how its layers attend when config.json has no `layer_types`, by layer index (the rule
# of the transformers 5.19 config class's __post_init__).
def _gemma2_kinds(layers: int, _: Mapping[str, Any]) -> list[str]:
    # Gemma2Config: "sliding_attention" if (i + 1) % 2 else "full_attention": even indices slide.
    return ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(layers)]


def _llama4_kinds(layers: int, cfg: Mapping[str, Any]) -> list[str]:
    # Llama4TextConfig: no_rope_layers[i] == 1 means the layer uses RoPE with chunked local attention;
    # 0 marks the NoPE layers (every no_rope_layer_interval-th), which attend to everything.
    uses_rope = cfg.get("no_rope_layers") or [
        int((i + 1) % int(cfg.get("no_rope_layer_interval") or 4) != 0) for i in range(layers)
    ]
    return ["chunked_attention" if flag else "full_attention" for flag in uses_rope]


LAYER_PATTERNS: Mapping[str, Callable[[int, Mapping[str, Any]], list[str]]] = {
    "gemma2": _gemma2_kinds,
    "llama4_text": _llama4_kinds,
    "llama4": _llama4_kinds,
}

# Architectures with no rotary position embedding at all: nothing for ropeguard to scale.
NO_ROPE_MODEL_TYPES: Mapping[str, str] = {
    "nemotron_h": "a Mamba-2 hybrid whose few attention layers use no position embedding",
    "mamba": "a state-space model",
    "mamba2": "a state-space model",
    "falcon_mamba": "a state-space model",
    "rwkv": "a recurrent model",
    "jamba": "a Mamba hybrid whose attention layers use no position embedding",
    "gpt2": "learned absolute position embeddings",
    "gpt_bigcode": "learned absolute position embeddings",
    "opt": "learned absolute position embeddings",
    "bloom": "ALiBi positions",
    "mpt": "ALiBi positions",
}


@dataclass(frozen=True)
class NativeRule:
    """A family whose native context differs from (or needs explaining beyond) max_position_embeddings.

    A rule matches when `model_types` contains the config's model_type (or is empty), `name` (a regex,
    case-insensitive) matches the model id / path (or is None), and `applies(config_facts)` is true.
    `native` is the number, or None to keep `max_position_embeddings` and only explain it.
    """

    key: str
    model_types: tuple[str, ...]
    name: str | None
    applies: Callable[[Mapping[str, Any]], bool]
    native: int | None
    source: str  # may use {max_pos}

    def matches(self, model: str, model_type: str, facts: Mapping[str, Any]) -> bool:
        if self.model_types and model_type not in self.model_types:
            return False
        if self.name is not None and not re.search(self.name, model, flags=re.IGNORECASE):
            return False
        return self.applies(facts)


def _always(_: Mapping[str, Any]) -> bool:
    return True


def _qwen3_40960(facts: Mapping[str, Any]) -> bool:
    # 2507 and Next releases say 262144 and mean it; only the 40960 layout is 32768 natively.
    return facts.get("max_position_embeddings") == 40960 and facts.get("rope_type") == "default"


def _unscaled(facts: Mapping[str, Any]) -> bool:
    return facts.get("rope_type") == "default"


# First match wins: put name rules before model_type rules.
NATIVE_RULES: tuple[NativeRule, ...] = (
    NativeRule(
        key="ropeguard-tiny",
        model_types=(),
        name=r"tiny-qwen3-2k",
        applies=_always,
        native=2048,
        source="trained at 2048 tokens by ropeguard, see its model card "
        "(max_position_embeddings 8192 only sizes the rotary cache)",
    ),
    NativeRule(
        key="qwen3-40960",
        model_types=("qwen3", "qwen3_moe"),
        name=None,
        applies=_qwen3_40960,
        native=32768,
        source="Qwen3 model card: 'natively supports context lengths of up to 32,768 tokens'; "
        "max_position_embeddings 40960 is 32768 for output plus 8192 for the prompt",
    ),
    NativeRule(
        key="qwen3-262144",
        model_types=("qwen3", "qwen3_moe", "qwen3_next"),
        name=None,
        applies=lambda facts: facts.get("max_position_embeddings") == 262144,
        native=None,
        source="config.json max_position_embeddings {max_pos}; the Qwen3 2507 / Next model cards: "
        "'262,144 tokens natively'",
    ),
    NativeRule(
        key="gemma2",
        model_types=("gemma2",),
        name=None,
        applies=_unscaled,
        native=None,
        source="config.json max_position_embeddings {max_pos}; the Gemma 2 technical report trains at "
        "8192 tokens",
    ),
    NativeRule(
        key="qwen2.5",
        model_types=("qwen2",),
        name=None,
        applies=_unscaled,
        native=None,
        source="config.json max_position_embeddings {max_pos}; the Qwen2.5 model card extends it to "
        "131,072 tokens with static YaRN factor 4",
    ),
)


def find_native_rule(model: str, model_type: str, facts: Mapping[str, Any]) -> NativeRule | None:
    """The first rule that matches, or None."""
    for rule in NATIVE_RULES:
        if rule.matches(model, model_type, facts):
            return rule
    return None
