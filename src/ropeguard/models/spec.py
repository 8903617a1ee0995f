"""ModelSpec: what ropeguard knows about a model, whatever layout its config.json used.

This is the contract between the config reader (models/reader.py, models/registry.py) and everything
that computes from a model (rope/, plan/, lint/). It is plain data: no I/O happens here.
Fields may be added (optional, with defaults); existing ones keep their meaning.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Rope types as transformers v5 names them. "default" means no scaling.
RopeType = Literal["default", "linear", "dynamic", "yarn", "llama3", "longrope", "deepseek_yarn"]
# Names other tools wrote for a rope type we know (phi-3's first release said "su"; multimodal Qwen's
# "mrope" splits positions by modality over plain rotary frequencies). The one table: the config
# reader, the rope math and lint all read rope types through it.
ROPE_TYPE_ALIASES: dict[str, str] = {"su": "longrope", "mrope": "default", "deepseek": "deepseek_yarn"}
# chunked_attention: Llama 4's local attention inside fixed chunks (KV bounded by the chunk size).
LayerKind = Literal["full_attention", "sliding_attention", "chunked_attention", "linear_attention", "mla"]
ConfigSource = Literal["local", "hub", "hub-cache", "registry", "family", "gguf"]
# How the facts were found: a real config (or GGUF header), ropeguard's registry entry, or only a
# family rule matched on the model's name (no weights known unless the size is).
ResolvedBy = Literal["config", "registry", "family"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RopeSpec(_Frozen):
    """The rotary embedding as the model ships it (before any ropeguard override)."""

    rope_type: RopeType = "default"
    rope_theta: float
    # The scaling parameters exactly as the config gives them (factor, original_max_position_embeddings,
    # low_freq_factor, short_factor, beta_fast, mscale, attention_factor, truncate, ...), with the
    # legacy `type` key already renamed to `rope_type` and `rope_theta` removed.
    params: dict[str, Any] = Field(default_factory=dict)
    # Rotary dimensions per head = head_dim * partial_rotary_factor (MLA: qk_rope_head_dim).
    rotary_dim: int
    partial_rotary_factor: float = 1.0
    # Gemma 3 style: a second base for sliding (local) layers.
    local_rope_theta: float | None = None

    @property
    def factor(self) -> float:
        return float(self.params.get("factor", 1.0))

    @property
    def original_max_position_embeddings(self) -> int | None:
        value = self.params.get("original_max_position_embeddings")
        return int(value) if value is not None else None


class MlaSpec(_Frozen):
    """Multi-head latent attention (DeepSeek V2/V3): the KV cache holds a latent, not heads."""

    kv_lora_rank: int
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int
    q_lora_rank: int | None = None


class MoeSpec(_Frozen):
    num_experts: int
    num_experts_per_tok: int
    moe_intermediate_size: int
    num_shared_experts: int = 0
    shared_expert_intermediate_size: int | None = None
    # Layers before this index are dense (DeepSeek's first_k_dense_replace); others are MoE
    # every `moe_layer_freq` layers.
    first_dense_layers: int = 0
    moe_layer_freq: int = 1
    # Explicit MoE layer indices (Llama 4's interleave_moe_layer_step puts them at step-1, 2*step-1,
    # ...); when set it wins over the two fields above.
    moe_layers: list[int] | None = None


class DualChunkSpec(_Frozen):
    """Qwen's dual chunk attention (`dual_chunk_attention_config`): a training-free extension past the
    trained window, run by an engine's dedicated attention backend, not by rope scaling."""

    chunk_size: int
    local_size: int
    original_max_position_embeddings: int


class ModelSpec(_Frozen):
    """One model's long-context facts, read from its config (or ropeguard's registry)."""

    model: str  # the id, folder or config path the user gave
    model_type: str
    architectures: list[str] = Field(default_factory=list)
    config_source: ConfigSource
    # Where the text model's fields sit: None at top level, or "text_config" for wrapped models
    # (Gemma 3, Llama 4, multimodal Qwen). Overrides must be nested under the same key.
    text_config_key: str | None = None

    max_position_embeddings: int
    native_context: int
    native_context_source: str  # a sentence saying where the number came from

    rope: RopeSpec
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    # None when the config leaves a weight-shape field out: the rope is still planned, the memory
    # plan is not (see `missing_weight_fields`).
    intermediate_size: int | None
    vocab_size: int | None
    tie_word_embeddings: bool = False
    dtype: str = "bfloat16"

    # Attention layout: one entry per layer. Sliding layers attend to `sliding_window` tokens.
    layer_types: list[LayerKind]
    sliding_window: int | None = None
    # Chunk length of `chunked_attention` layers (Llama 4's attention_chunk_size).
    attention_chunk_size: int | None = None
    mla: MlaSpec | None = None
    moe: MoeSpec | None = None

    # Weight quantization named by the config's quantization_config (fp8, awq, gptq, mxfp4...).
    quantization: str | None = None
    dual_chunk: DualChunkSpec | None = None

    resolved_by: ResolvedBy = "config"
    # True when the native context is the config's max_position_embeddings and nothing (a family
    # rule, the registry, a declared trained length, --native) confirms the model was trained that long.
    native_context_unconfirmed: bool = False
    # False for a family-level spec whose size the name does not give: the shapes are the family's
    # reference size (for the rope's head_dim only); weights and KV cache are unknown.
    shape_known: bool = True
    # Weight-shape fields the config lacks (intermediate_size, vocab_size): no weight count.
    missing_weight_fields: list[str] = Field(default_factory=list)
    # GGUF files: the quantisation named by general.file_type (Q4_1, Q8_0, F16, ...).
    gguf_file_type: str | None = None

    @property
    def serve_model(self) -> str:
        """What an engine loads: the folder holding config.json when the user named the file itself."""
        if self.config_source == "local" and self.model.endswith(".json"):
            return str(PurePath(self.model).parent)
        return self.model

    @property
    def has_own_scaling(self) -> bool:
        """True when the shipped config already extends the window (llama3, longrope, yarn, linear...)."""
        return self.rope.rope_type != "default"

    @property
    def full_attention_layers(self) -> int:
        return sum(1 for kind in self.layer_types if kind in ("full_attention", "mla"))
