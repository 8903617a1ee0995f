"""What `inspect` prints about a ModelSpec (`ropeguard.inspect_model` reads one): rows, JSON."""

from __future__ import annotations

from ropeguard.models.spec import ModelSpec

INSPECT_SCHEMA_VERSION = 1
_SHAPE_ROWS = ("layers", "attention heads / kv heads", "attention layout")


def attention_layout(spec: ModelSpec) -> str:
    """Layers of each kind on one line, e.g. '12 full_attention + 12 sliding_attention (window 128)'."""
    counts: dict[str, int] = {}
    for layer in spec.layer_types:
        counts[layer] = counts.get(layer, 0) + 1
    parts = []
    for kind, count in counts.items():
        window = (
            f" (window {spec.sliding_window})" if kind == "sliding_attention" and spec.sliding_window else ""
        )
        parts.append(f"{count} {kind}{window}")
    return " + ".join(parts)


def _short(value: object) -> str:
    if isinstance(value, list):
        if len(value) > 4:
            return f"[{len(value)} values: {value[0]:g} .. {value[-1]:g}]"
        return "[" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def summary_rows(spec: ModelSpec) -> list[tuple[str, str]]:
    """(label, value) pairs a person reads: what `ropeguard inspect` prints as a table."""
    rope = spec.rope
    theta = f"{rope.rope_theta:g}"
    if rope.local_rope_theta is not None:
        theta += f" (sliding layers: {rope.local_rope_theta:g})"
    params = ", ".join(f"{key}={_short(value)}" for key, value in sorted(rope.params.items())) or "-"
    rotary = f"{rope.rotary_dim}"
    if rope.partial_rotary_factor != 1.0:
        rotary += f" (partial_rotary_factor {rope.partial_rotary_factor:g})"
    family = spec.model_type + (f" ({', '.join(spec.architectures)})" if spec.architectures else "")
    rows = [
        ("model", spec.model),
        ("family", family),
        (
            "config from",
            spec.config_source + (f", fields under {spec.text_config_key}" if spec.text_config_key else ""),
        ),
        ("native context", f"{spec.native_context}"),
        ("native context source", spec.native_context_source),
        ("max_position_embeddings", f"{spec.max_position_embeddings}"),
        ("rope type", rope.rope_type),
        ("rope theta", theta),
        ("existing scaling", params if spec.has_own_scaling else "none"),
        ("head_dim", f"{spec.head_dim}"),
        ("rotary dim", rotary),
        ("layers", f"{spec.num_hidden_layers}"),
        ("attention heads / kv heads", f"{spec.num_attention_heads} / {spec.num_key_value_heads}"),
        ("attention layout", attention_layout(spec)),
    ]
    if spec.resolved_by != "config":
        rows.insert(3, ("resolved by", spec.resolved_by))
    if not spec.shape_known:
        unknown = "unknown (family rule; the name gives no known size)"
        rows = [(label, unknown if label in _SHAPE_ROWS else value) for label, value in rows]
    if not spec.has_own_scaling and rope.params:
        rows.append(("rope parameters", params))
    if spec.mla is not None:
        mla = spec.mla
        rows.append(
            (
                "MLA",
                f"kv_lora_rank {mla.kv_lora_rank}, qk_rope_head_dim {mla.qk_rope_head_dim}, "
                f"qk_nope_head_dim {mla.qk_nope_head_dim}, v_head_dim {mla.v_head_dim}",
            )
        )
    if spec.moe is not None:
        moe = spec.moe
        shared = f", {moe.num_shared_experts} shared" if moe.num_shared_experts else ""
        rows.append(
            (
                "MoE",
                f"{moe.num_experts} experts, {moe.num_experts_per_tok} per token{shared}, "
                f"expert size {moe.moe_intermediate_size}",
            )
        )
    rows.append(("dtype", spec.dtype))
    rows.append(("quantization", spec.quantization or spec.gguf_file_type or "none"))
    return rows


def inspect_document(spec: ModelSpec) -> dict[str, object]:
    """The JSON document `inspect --json` prints: the ModelSpec plus a few derived facts."""
    return {
        "schema_version": INSPECT_SCHEMA_VERSION,
        **spec.model_dump(mode="json"),
        "has_own_scaling": spec.has_own_scaling,
        "full_attention_layers": spec.full_attention_layers,
        "attention_layout": attention_layout(spec),
    }
