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
