"""Reading a model's config.json, in every layout it ships in, into a `ModelSpec`.

Layouts covered (each has a fixture in tests/models/fixtures/):

- transformers 4: `rope_scaling` dict (or null) and a top-level `rope_theta`;
  transformers 5: `rope_parameters` with `rope_theta` inside (Gemma 3: one dict per layer type).
- the legacy `type` key (renamed `rope_type`); Phi-3's `su` (= longrope); multimodal Qwen's `mrope`
  (positions split by modality, plain rotary frequencies: read as default).
- `torch_dtype` (v4) or `dtype` (v5).
- `text_config` wrappers (Gemma 3, Llama 4, newer multimodal Qwen): the text fields sit one level down.
- Phi-3's top-level `original_max_position_embeddings` (it wins over the one inside the dict).
- `partial_rotary_factor` (or GPT-NeoX's `rotary_pct`); an explicit `head_dim` wins over hidden/heads.
- MLA (DeepSeek V2/V3): rotary dims are `qk_rope_head_dim`, the KV cache holds a latent.
- Attention layouts: `layer_types`, Qwen2/3's `use_sliding_window` + `max_window_layers`, Gemma 3's
  `sliding_window_pattern`, Qwen3-Next's `full_attention_interval`, Mistral-style all-sliding.
- MoE fields of Qwen3-MoE / Qwen3-Next (`num_experts`), DeepSeek (`n_routed_experts`), gpt-oss and
  Mixtral (`num_local_experts`); `quantization_config.quant_method`.

Layouts the rope math does not cover (chatglm's `rope_ratio`, unknown rope types) raise
`UnsupportedLayoutError`; a file that is not JSON or lacks a needed field raises `ModelConfigError`
naming the field and the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast, get_args

from ropeguard import validation
from ropeguard.errors import ModelConfigError, UnsupportedLayoutError
from ropeguard.models import hub
from ropeguard.models.families import (
    CLASS_DEFAULTS,
    LAYER_PATTERNS,
    NO_ROPE_MODEL_TYPES,
    find_native_rule,
)
from ropeguard.models.family_rules import match_family, strip_quant_suffix
from ropeguard.models.registry import registry_entry, registry_entry_by_basename
from ropeguard.models.spec import (
    ROPE_TYPE_ALIASES,
    ConfigSource,
    DualChunkSpec,
    LayerKind,
    MlaSpec,
    ModelSpec,
    MoeSpec,
    ResolvedBy,
    RopeSpec,
    RopeType,
)

_ROPE_TYPES: frozenset[str] = frozenset(get_args(RopeType))
_LAYER_KINDS: frozenset[str] = frozenset(get_args(LayerKind))
# Parameters each rope type cannot do without.
_REQUIRED_PARAMS: Mapping[str, tuple[str, ...]] = {
    "linear": ("factor",),
    "dynamic": ("factor",),
    "yarn": ("factor",),
    "deepseek_yarn": ("factor",),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
    "longrope": ("short_factor", "long_factor"),
}
# A config.json may state its trained context itself under this key (and `<key>_source`, a sentence).
DECLARED_NATIVE_KEY = "ropeguard_native_context"
# Config keys that mean "this is not a layout ropeguard's math covers", with the reason.
_UNSUPPORTED_KEYS: Mapping[str, str] = {
    "rope_ratio": "chatglm-style rope_ratio scaling",
    "rotary_emb_fraction": "flash-attn style rotary_emb_fraction",
    "alibi": "ALiBi positions (no rotary embedding)",
}
# Integer fields that must be at least 1 (a divisor, a count of something that exists) or bounded
# tighter than validation.MAX_INTEGER (per-layer work grows with them); the rest may be 0.
_INT_BOUNDS: Mapping[str, tuple[int, int]] = {
    "num_hidden_layers": (1, validation.MAX_LAYERS),
    "num_attention_heads": (1, validation.MAX_INTEGER),
    "num_key_value_heads": (1, validation.MAX_INTEGER),
    "hidden_size": (1, validation.MAX_INTEGER),
    "head_dim": (1, validation.MAX_HEAD_DIM),
    "qk_rope_head_dim": (1, validation.MAX_HEAD_DIM),
    "qk_nope_head_dim": (0, validation.MAX_HEAD_DIM),
    "v_head_dim": (1, validation.MAX_HEAD_DIM),
    "max_position_embeddings": (1, validation.MAX_TOKEN_COUNT),
    "original_max_position_embeddings": (1, validation.MAX_TOKEN_COUNT),
    DECLARED_NATIVE_KEY: (1, validation.MAX_TOKEN_COUNT),
    "sliding_window": (0, validation.MAX_TOKEN_COUNT),
    "full_attention_interval": (1, validation.MAX_LAYERS),
    "sliding_window_pattern": (1, validation.MAX_LAYERS),
    "moe_layer_freq": (1, validation.MAX_LAYERS),
    "num_experts_per_tok": (1, validation.MAX_INTEGER),
}
# Rope parameters the math reads as numbers (checked finite where the config enters, not in the math).
_NUMERIC_PARAMS = (
    "factor",
    "low_freq_factor",
    "high_freq_factor",
    "beta_fast",
    "beta_slow",
    "attention_factor",
    "mscale",
    "mscale_all_dim",
    "extrapolation_factor",
)
_POSITIVE_PARAMS = ("factor", "low_freq_factor", "high_freq_factor")


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse one config.json; raise ModelConfigError naming the file when it is missing or not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ModelConfigError(f"{path}: cannot read it ({error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelConfigError(
            f"{path} is not JSON (line {error.lineno}, column {error.colno}: {error.msg})",
            hint="pass the model's config.json, or the folder that holds it",
        ) from None
    except (ValueError, RecursionError) as error:  # a 5,000-digit number; nesting deeper than the stack
        raise ModelConfigError(f"{path} cannot be read as a config ({str(error)[:80]})") from None
    if not isinstance(data, dict):
        raise ModelConfigError(f"{path} is not a JSON object (got {type(data).__name__})")
    return data


def spec_from_config(
    config: Mapping[str, Any],
    *,
    model: str,
    source: ConfigSource,
    native: int | None = None,
    native_source: str | None = None,
    origin: str | None = None,
    resolved_by: ResolvedBy = "config",
) -> ModelSpec:
    """Build a ModelSpec from a parsed config.json.

    model: the id, folder or path the user gave (kept in the spec, and matched by name rules).
    source: where the config came from ("local", "hub", "hub-cache", "registry").
    native / native_source: an explicit native context and the sentence saying where it came from
    (the `--native` flag, or the registry's own sentence); otherwise family rules and the config decide.
    origin: how errors name the config (a file path); defaults to `model`.
    resolved_by: "registry" / "family" when the config is ropeguard's own, not the model's file.
    """
    return _ConfigReader(config, model=model, origin=origin or model).read(
        source=source, native=native, native_source=native_source, resolved_by=resolved_by
    )


class _ConfigReader:
    """One pass over one config; keeps the text-level dict and how to name fields in errors."""

    def __init__(self, config: Mapping[str, Any], *, model: str, origin: str) -> None:
        if not isinstance(config, Mapping):
            raise ModelConfigError(f"{origin}: the config is not a JSON object")
        self.top = config
        self.model = model
        self.origin = origin
        self.text_config_key: str | None = None
        text = config
        wrapped = config.get("text_config")
        if isinstance(wrapped, Mapping) and "num_hidden_layers" not in config:
            text = wrapped
            self.text_config_key = "text_config"
        self.cfg: Mapping[str, Any] = text
        # The spec names the model by its top-level type (what engines dispatch on: "gemma3");
        # class defaults come from the text model's type ("gemma3_text") first.
        self.model_type = str(config.get("model_type") or text.get("model_type") or "")
        text_type = str(text.get("model_type") or self.model_type)
        self.text_type = text_type
        self.defaults: Mapping[str, Any] = {
            **CLASS_DEFAULTS.get(self.model_type, {}),
            **CLASS_DEFAULTS.get(text_type, {}),
        }

    # -- field access -------------------------------------------------------------------------

    def _field_name(self, key: str) -> str:
        return f"{self.text_config_key}.{key}" if self.text_config_key else key

    def get(self, key: str, default: Any = None) -> Any:
        """The text-level value, else the wrapper's, else the config class default."""
        for layer in (self.cfg, self.top):
            if key in layer and layer[key] is not None:
                return layer[key]
        return self.defaults.get(key, default)

    def require_int(self, key: str) -> int:
        value = self.get(key)
        if value is None:
            raise ModelConfigError(
                f"{self.origin}: config lacks the field '{self._field_name(key)}'",
                hint="pass the model's full config.json (or --native N when only the context is unknown)",
            )
        return self._as_int(key, value)

    def _as_int(self, key: str, value: Any) -> int:
        low, high = _INT_BOUNDS.get(key, (0, validation.MAX_INTEGER))
        what = f"{self.origin}: field '{self._field_name(key)}'"
        return validation.as_int(value, what, minimum=low, maximum=high, error=ModelConfigError)

    def _as_float(self, key: str, value: Any, *, positive: bool = False) -> float:
        what = f"{self.origin}: field '{self._field_name(key)}'"
        return validation.as_float(value, what, positive=positive, error=ModelConfigError)

    def _as_theta(self, key: str, value: Any) -> float:
        """A rotary base: above 1, or theta ** (-2i/d) does not fall and the rope math has no ramp."""
        theta = self._as_float(key, value, positive=True)
        if theta <= 1.0:
            raise ModelConfigError(
                f"{self.origin}: field '{self._field_name(key)}' must be above 1 (a rotary base), "
                f"got {theta:g}"
            )
        return theta

    # -- the whole spec -----------------------------------------------------------------------

    def optional_int(self, key: str, missing: list[str]) -> int | None:
        """A weight-shape field: None (and its name noted) when the config leaves it out."""
        value = self.get(key)
        if value is None:
            missing.append(self._field_name(key))
            return None
        return self._as_int(key, value)

    def read(
        self,
        *,
        source: ConfigSource,
        native: int | None,
        native_source: str | None,
        resolved_by: ResolvedBy = "config",
    ) -> ModelSpec:
        if not self.model_type:
            raise ModelConfigError(f"{self.origin}: config lacks the field 'model_type'")
        self._reject_unsupported()
        hidden_size = self.require_int("hidden_size")
        layers = self.require_int("num_hidden_layers")
        heads = self.require_int("num_attention_heads")
        kv_heads = self._as_int("num_key_value_heads", self.get("num_key_value_heads", heads))
        max_pos = self.require_int("max_position_embeddings")
        mla = self._mla()
        head_dim = self._head_dim(hidden_size, heads, mla)
        rope = self._rope(head_dim, mla)
        layer_types, window, chunk = self._layer_types(layers, max_pos, mla is not None)
        dual_chunk = self._dual_chunk()
        native_context, native_sentence, unconfirmed = self._native(
            max_pos, rope, explicit=native, explicit_source=native_source, dual_chunk=dual_chunk
        )
        missing: list[str] = []
        # Llama 4: intermediate_size is the experts' width, intermediate_size_mlp the dense layers'.
        dense_key = "intermediate_size_mlp" if self.get("intermediate_size_mlp") is not None else None
        intermediate = self.optional_int(dense_key or "intermediate_size", missing)
        vocab = self.optional_int("vocab_size", missing)
        moe = self._moe(missing)
        architectures = self.top.get("architectures") or self.cfg.get("architectures") or []
        if not isinstance(architectures, list):
            raise ModelConfigError(
                f"{self.origin}: field 'architectures' must be a list of class names, "
                f"got {validation.shown(architectures)}"
            )
        return ModelSpec(
            model=self.model,
            model_type=self.model_type,
            architectures=[str(a) for a in architectures],
            config_source=source,
            text_config_key=self.text_config_key,
            max_position_embeddings=max_pos,
            native_context=native_context,
            native_context_source=native_sentence,
            rope=rope,
            hidden_size=hidden_size,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            head_dim=head_dim,
            intermediate_size=intermediate,
            vocab_size=vocab,
            tie_word_embeddings=bool(self.get("tie_word_embeddings", False)),
            dtype=str(self.get("dtype") or self.get("torch_dtype") or "bfloat16"),
            layer_types=layer_types,
            sliding_window=window,
            attention_chunk_size=chunk,
            mla=mla,
            moe=moe,
            quantization=self._quantization(),
            dual_chunk=dual_chunk,
            resolved_by=resolved_by,
            native_context_unconfirmed=unconfirmed and resolved_by == "config",
            missing_weight_fields=missing,
        )

    def _reject_unsupported(self) -> None:
        for model_type in (self.model_type, self.text_type):
            if model_type in NO_ROPE_MODEL_TYPES:
                raise UnsupportedLayoutError(
                    f"{self.origin}: unsupported layout: model_type '{model_type}' has no rotary position "
                    f"embedding ({NO_ROPE_MODEL_TYPES[model_type]}); there is no rope to scale",
                    hint="ropeguard plans RoPE models only; serve this one within its trained length",
                )
        for key, what in _UNSUPPORTED_KEYS.items():
            if key in self.cfg or key in self.top:
                raise UnsupportedLayoutError(
                    f"{self.origin}: unsupported layout: {what} ('{key}' in model_type "
                    f"'{self.model_type or '?'}') is not a rope layout ropeguard can compute",
                    hint="ropeguard covers default/linear/dynamic/yarn/llama3/longrope rope configs",
                )
        if "max_position_embeddings" not in self.cfg and "seq_length" in self.cfg:
            raise UnsupportedLayoutError(
                f"{self.origin}: unsupported layout: model_type '{self.model_type or '?'}' gives its "
                "context as 'seq_length' with no max_position_embeddings"
            )

    def _head_dim(self, hidden_size: int, heads: int, mla: MlaSpec | None) -> int:
        if mla is not None:
            return mla.qk_nope_head_dim + mla.qk_rope_head_dim
        explicit = self.cfg.get("head_dim", self.defaults.get("head_dim"))
        if explicit is not None:
            return self._as_int("head_dim", explicit)
        if hidden_size % heads:
            raise ModelConfigError(
                f"{self.origin}: config lacks the field '{self._field_name('head_dim')}' and "
                f"hidden_size {hidden_size} is not a multiple of num_attention_heads {heads}"
            )
        if hidden_size // heads > validation.MAX_HEAD_DIM:
            raise ModelConfigError(
                f"{self.origin}: hidden_size {hidden_size} / num_attention_heads {heads} gives a head "
                f"dimension over {validation.MAX_HEAD_DIM}"
            )
        return hidden_size // heads

    def _mla(self) -> MlaSpec | None:
        if self.cfg.get("kv_lora_rank") is None:
            return None
        return MlaSpec(
            kv_lora_rank=self.require_int("kv_lora_rank"),
            qk_rope_head_dim=self.require_int("qk_rope_head_dim"),
            qk_nope_head_dim=self.require_int("qk_nope_head_dim"),
            v_head_dim=self.require_int("v_head_dim"),
            q_lora_rank=self._as_int("q_lora_rank", self.cfg["q_lora_rank"])
            if self.cfg.get("q_lora_rank") is not None
            else None,
        )

    # -- rope ---------------------------------------------------------------------------------

    def _rope_dicts(self) -> tuple[str, dict[str, Any], float | None]:
        """(key it came from, the full-attention rope dict, the sliding layers' theta if separate)."""
        key = "rope_parameters" if self.cfg.get("rope_parameters") is not None else "rope_scaling"
        raw = self.cfg.get(key)
        if raw is None:
            return key, {}, None
        if not isinstance(raw, Mapping):
            raise ModelConfigError(
                f"{self.origin}: field '{self._field_name(key)}' must be an object, got {raw!r}"
            )
        local_theta: float | None = None
        # transformers 5 Gemma 3 style: one rope dict per layer type.
        if raw and all(k in _LAYER_KINDS and isinstance(v, Mapping) for k, v in raw.items()):
            per_kind = cast(Mapping[str, Mapping[str, Any]], raw)
            sliding = per_kind.get("sliding_attention")
            if sliding is not None and sliding.get("rope_theta") is not None:
                local_theta = self._as_theta(f"{key}.sliding_attention.rope_theta", sliding["rope_theta"])
            full = per_kind.get("full_attention") or next(iter(per_kind.values()))
            return f"{key}.full_attention", dict(full), local_theta
        return key, dict(raw), None

    def _rope(self, head_dim: int, mla: MlaSpec | None) -> RopeSpec:
        key, params, local_theta = self._rope_dicts()
        raw_type = params.pop("rope_type", None)
        legacy_type = params.pop("type", None)
        rope_type = str(raw_type or legacy_type or "default")
        rope_type = ROPE_TYPE_ALIASES.get(rope_type, rope_type)
        if rope_type not in _ROPE_TYPES:
            raise UnsupportedLayoutError(
                f"{self.origin}: unsupported layout: rope type '{rope_type}' in "
                f"'{self._field_name(key)}' is not one ropeguard's math covers",
                hint=f"supported rope types: {', '.join(sorted(_ROPE_TYPES))}",
            )
        theta_value = params.pop("rope_theta", None)
        if theta_value is None:
            theta_value = self.get("rope_theta")
        if theta_value is None:
            raise ModelConfigError(
                f"{self.origin}: config lacks the field '{self._field_name('rope_theta')}'"
            )
        theta = self._as_theta("rope_theta", theta_value)
        if local_theta is None and self.get("rope_local_base_freq") is not None:
            local_theta = self._as_theta("rope_local_base_freq", self.get("rope_local_base_freq"))

        partial_value = params.pop("partial_rotary_factor", None)
        if partial_value is None:
            partial_value = self.get("partial_rotary_factor", self.get("rotary_pct", 1.0))
        partial = self._as_float("partial_rotary_factor", partial_value)
        if not 0.0 < partial <= 1.0:
            raise ModelConfigError(f"{self.origin}: partial_rotary_factor must be in (0, 1], got {partial}")

        self._check_params(key, params)
        if rope_type != "default":
            # Phi-3 layout: the top-level value is the one transformers uses.
            top_original = self.cfg.get("original_max_position_embeddings")
            if top_original is not None:
                params["original_max_position_embeddings"] = self._as_int(
                    "original_max_position_embeddings", top_original
                )
            for required in _REQUIRED_PARAMS.get(rope_type, ()):
                if params.get(required) is None:
                    raise ModelConfigError(
                        f"{self.origin}: {rope_type} rope config lacks the field "
                        f"'{self._field_name(key)}.{required}'"
                    )
            if rope_type == "longrope" and params.get("original_max_position_embeddings") is None:
                raise ModelConfigError(
                    f"{self.origin}: longrope config lacks the field "
                    f"'{self._field_name('original_max_position_embeddings')}'"
                )
        rotary_dim = mla.qk_rope_head_dim if mla is not None else int(head_dim * partial)
        if rotary_dim <= 0 or rotary_dim % 2:
            raise ModelConfigError(
                f"{self.origin}: rotary dimension {rotary_dim} (head_dim {head_dim} x partial_rotary_factor "
                f"{partial}) must be a positive even number"
            )
        return RopeSpec(
            rope_type=cast(RopeType, rope_type),
            rope_theta=theta,
            params=params,
            rotary_dim=rotary_dim,
            partial_rotary_factor=partial,
            local_rope_theta=local_theta,
        )

    def _check_params(self, key: str, params: dict[str, Any]) -> None:
        """The rope dict's numbers are finite (and positive where the math divides by them)."""
        for name in _NUMERIC_PARAMS:
            if params.get(name) is not None:
                checked = self._as_float(f"{key}.{name}", params[name], positive=name in _POSITIVE_PARAMS)
                # Checked, but an integer stays an integer: the override ropeguard writes for the
                # engine repeats the model's own values as the model wrote them.
                if not (isinstance(params[name], int) and not isinstance(params[name], bool)):
                    params[name] = checked
        if params.get("original_max_position_embeddings") is not None:
            params["original_max_position_embeddings"] = self._as_int(
                "original_max_position_embeddings", params["original_max_position_embeddings"]
            )
        for name in ("short_factor", "long_factor"):
            factors = params.get(name)
            if factors is None:
                continue
            if not isinstance(factors, list) or len(factors) > validation.MAX_LAYERS:
                raise ModelConfigError(
                    f"{self.origin}: field '{self._field_name(f'{key}.{name}')}' must be a list of numbers, "
                    f"got {validation.shown(factors)}"
                )
            params[name] = [self._as_float(f"{key}.{name}", v, positive=True) for v in factors]
        # What the spec carries on (and plan writes out) must be JSON: no NaN, no 500-deep nesting.
        validation.json_compatible(
            params, f"{self.origin}: field '{self._field_name(key)}'", error=ModelConfigError
        )

    # -- attention layout ---------------------------------------------------------------------

    def _layer_types(
        self, layers: int, max_pos: int, is_mla: bool
    ) -> tuple[list[LayerKind], int | None, int | None]:
        """(one kind per layer, the sliding window, the chunk of chunked layers)."""
        if is_mla:
            return ["mla"] * layers, None, None
        pattern_rule = LAYER_PATTERNS.get(self.text_type) or LAYER_PATTERNS.get(self.model_type)
        window_value = self.cfg.get("sliding_window")
        if window_value is None and pattern_rule is not None:
            window_value = self.defaults.get("sliding_window")
        window = self._as_int("sliding_window", window_value) if window_value is not None else None
        explicit = self.cfg.get("layer_types")
        kinds: list[str]
        if explicit is not None:
            if not isinstance(explicit, list) or len(explicit) != layers:
                raise ModelConfigError(
                    f"{self.origin}: field '{self._field_name('layer_types')}' must list one kind per layer "
                    f"({layers})"
                )
            kinds = [str(kind) for kind in explicit]
        elif pattern_rule is not None:
            merged = {**self.defaults, **self.cfg}
            kinds = pattern_rule(layers, merged)
            if len(kinds) != layers:
                raise ModelConfigError(
                    f"{self.origin}: field '{self._field_name('no_rope_layers')}' must list one flag per "
                    f"layer ({layers})"
                )
        elif self.get("full_attention_interval") is not None:
            interval = self._as_int("full_attention_interval", self.get("full_attention_interval"))
            kinds = ["linear_attention" if (i + 1) % interval else "full_attention" for i in range(layers)]
        elif self.cfg.get("use_sliding_window") is False:
            # Qwen2.5 / Qwen3 ship a sliding_window value with use_sliding_window false: it is unused.
            kinds, window = ["full_attention"] * layers, None
        elif self.cfg.get("use_sliding_window") is True and window is not None:
            first_sliding = self._as_int("max_window_layers", self.get("max_window_layers", layers))
            kinds = ["sliding_attention" if i >= first_sliding else "full_attention" for i in range(layers)]
        elif self.get("sliding_window_pattern") is not None and window is not None:
            pattern = self._as_int("sliding_window_pattern", self.get("sliding_window_pattern"))
            kinds = ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(layers)]
        elif window is not None:
            kinds = ["sliding_attention"] * layers  # Mistral / Phi-3: every layer slides
        else:
            kinds = ["full_attention"] * layers
        unknown = sorted(set(kinds) - _LAYER_KINDS)
        if unknown:
            raise UnsupportedLayoutError(
                f"{self.origin}: unsupported layout: layer kind(s) {', '.join(unknown)} in "
                f"'{self._field_name('layer_types')}'"
            )
        # A window as long as the whole context never slides (Phi-3-mini-128k says 262144).
        if window is not None and window >= max_pos:
            kinds = ["full_attention" if kind == "sliding_attention" else kind for kind in kinds]
        if "sliding_attention" not in kinds:
            window = None
        chunk: int | None = None
        if "chunked_attention" in kinds:
            chunk_value = self.get("attention_chunk_size")
            chunk = self._as_int("attention_chunk_size", chunk_value) if chunk_value is not None else None
            if chunk is None or chunk >= max_pos:
                # No chunk (or one as long as the context): the layer attends to everything.
                kinds = ["full_attention" if kind == "chunked_attention" else kind for kind in kinds]
                chunk = None
        return [cast(LayerKind, kind) for kind in kinds], window, chunk

    # -- MoE and quantization -----------------------------------------------------------------

    def _moe(self, missing: list[str]) -> MoeSpec | None:
        experts_key = next(
            (k for k in ("n_routed_experts", "num_experts", "num_local_experts") if self.cfg.get(k)), None
        )
        if experts_key is None:
            return None
        experts = self._as_int(experts_key, self.cfg[experts_key])
        if experts <= 1:
            return None
        per_token = self.cfg.get("num_experts_per_tok", self.cfg.get("experts_per_token"))
        if per_token is None:
            raise ModelConfigError(
                f"{self.origin}: MoE config lacks the field '{self._field_name('num_experts_per_tok')}'"
            )
        moe_size = self.cfg.get("moe_intermediate_size", self.cfg.get("intermediate_size"))
        if moe_size is None:
            missing.append(self._field_name("moe_intermediate_size"))
            return None
        shared_size = self.cfg.get("shared_expert_intermediate_size")
        moe_layers: list[int] | None = None
        if self.text_type in ("llama4_text", "llama4"):
            # Llama4TextMoe always adds one shared expert as wide as the routed ones, and puts the MoE
            # layers at step-1, 2*step-1, ... (Llama4TextConfig), the others dense.
            shared_size = moe_size
            step = self._as_int("interleave_moe_layer_step", self.get("interleave_moe_layer_step", 1))
            explicit_layers = self.cfg.get("moe_layers")
            moe_layers = (
                [self._as_int("moe_layers", i) for i in explicit_layers]
                if isinstance(explicit_layers, list)
                else list(
                    range(step - 1, self._as_int("num_hidden_layers", self.get("num_hidden_layers")), step)
                )
            )
        shared = self.cfg.get("n_shared_experts")
        if shared is None:
            shared = 1 if shared_size else 0
        return MoeSpec(
            num_experts=experts,
            num_experts_per_tok=self._as_int("num_experts_per_tok", per_token),
            moe_intermediate_size=self._as_int("moe_intermediate_size", moe_size),
            num_shared_experts=self._as_int("n_shared_experts", shared),
            shared_expert_intermediate_size=self._as_int("shared_expert_intermediate_size", shared_size)
            if shared_size
            else None,
            first_dense_layers=self._as_int(
                "first_k_dense_replace", self.cfg.get("first_k_dense_replace", 0)
            ),
            moe_layer_freq=self._as_int(
                "moe_layer_freq", self.cfg.get("moe_layer_freq", self.cfg.get("decoder_sparse_step", 1))
            ),
            moe_layers=moe_layers,
        )

    def _dual_chunk(self) -> DualChunkSpec | None:
        raw = self.get("dual_chunk_attention_config")
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise ModelConfigError(
                f"{self.origin}: field '{self._field_name('dual_chunk_attention_config')}' must be an "
                f"object, got {raw!r}"
            )
        values = {}
        for key in ("chunk_size", "local_size", "original_max_position_embeddings"):
            if raw.get(key) is None:
                raise ModelConfigError(
                    f"{self.origin}: dual_chunk_attention_config lacks the field "
                    f"'{self._field_name('dual_chunk_attention_config')}.{key}'"
                )
            values[key] = self._as_int(f"dual_chunk_attention_config.{key}", raw[key])
        return DualChunkSpec(**values)

    def _quantization(self) -> str | None:
        quant = self.get("quantization_config")
        if not isinstance(quant, Mapping):
            return None
        method = quant.get("quant_method")
        return str(method) if method else None

    # -- native context -----------------------------------------------------------------------

    def _native(
        self,
        max_pos: int,
        rope: RopeSpec,
        *,
        explicit: int | None,
        explicit_source: str | None,
        dual_chunk: DualChunkSpec | None,
    ) -> tuple[int, str, bool]:
        """(native context, the sentence saying where it came from, whether only max_pos says so)."""
        if explicit is not None:
            if explicit <= 0:
                raise ModelConfigError(f"native context must be positive, got {explicit}")
            return explicit, explicit_source or "given with --native", False
        declared = self.get(DECLARED_NATIVE_KEY)
        if declared is not None:
            # A model that states its own trained length (ropeguard's bundled tiny model does).
            number = self._as_int(DECLARED_NATIVE_KEY, declared)
            sentence = self.get(f"{DECLARED_NATIVE_KEY}_source") or f"config.json {DECLARED_NATIVE_KEY}"
            return number, str(sentence), False
        if dual_chunk is not None:
            # Qwen2.5-*-1M: trained to 262144; max_position_embeddings (1010000) is what dual chunk
            # attention reaches on top, with an engine backend of its own, not a trained window.
            trained = dual_chunk.original_max_position_embeddings
            return (
                trained,
                (
                    f"dual_chunk_attention_config.original_max_position_embeddings {trained} (the window the "
                    f"model was trained at); max_position_embeddings {max_pos} is reached by dual chunk "
                    "attention, not by rope scaling"
                ),
                False,
            )
        facts = {"max_position_embeddings": max_pos, "rope_type": rope.rope_type, **rope.params}
        rule = find_native_rule(self.model, self.model_type, facts)
        if rule is not None:
            native = rule.native if rule.native is not None else max_pos
            return native, rule.source.format(max_pos=max_pos), False
        if rope.rope_type == "default":
            return max_pos, f"config.json max_position_embeddings {max_pos}", True
        original = rope.original_max_position_embeddings
        factor = f"factor {rope.factor:g}" if "factor" in rope.params else "its own factors"
        over = f" over original_max_position_embeddings {original}" if original else ""
        if rope.rope_type in ("yarn", "deepseek_yarn") and original and original * rope.factor > max_pos:
            # Qwen2.5's card adds YaRN x4 over 32768 and keeps max_position_embeddings 32768: the
            # scaled window is original x factor (what vLLM <= 0.29 derives as max length too).
            scaled = int(original * rope.factor)
            return (
                scaled,
                (
                    f"original_max_position_embeddings {original} x {rope.rope_type} factor {rope.factor:g} "
                    f"in config.json (max_position_embeddings says {max_pos})"
                ),
                False,
            )
        return (
            max_pos,
            (
                f"config.json max_position_embeddings {max_pos}, reached by the model's own "
                f"{rope.rope_type} scaling ({factor}{over})"
            ),
            False,
        )


def _looks_like_path(model: str) -> bool:
    return (
        model.startswith((".", "/", "~")) or model.endswith(".json") or model.count("/") > 1 or "\\" in model
    )


def load_model_spec(model: str, *, native: int | None = None, offline: bool | None = None) -> ModelSpec:
    """Read a model's config into a ModelSpec.

    model: a local config.json path, a local model folder (holding config.json), or a Hugging Face id.
    For an id: the Hugging Face cache first, then the hub (unless offline), then ropeguard's registry.
    native: the native context to use instead of the one found (the `--native` flag).
    offline: never touch the network; None follows HF_HUB_OFFLINE.

    Raises ModelConfigError (missing, not JSON, a field lacking, unknown id) or UnsupportedLayoutError.
    """
    native_source = "given with --native" if native is not None else None
    validation.path_name(model, "MODEL", error=ModelConfigError)
    try:
        path = Path(model).expanduser()
    except RuntimeError:  # `~name` of a user this machine does not know: not a path here, maybe an id
        path = Path(model)
    if path.suffix.lower() == ".gguf" and path.is_file():
        return gguf_spec(path, model=model, native=native)
    if path.is_dir():
        config_path = path / "config.json"
        if not config_path.is_file():
            raise ModelConfigError(f"{path}: folder has no config.json")
    else:
        config_path = path
    if config_path.is_file():
        return _confirmed(
            spec_from_config(
                read_config_file(config_path),
                model=model,
                source="local",
                native=native,
                native_source=native_source,
                origin=str(config_path),
            )
        )
    if _looks_like_path(model):
        # A path on the serving machine (`/models/Qwen3-32B-FP8` in a deployment file): its name.
        by_name = spec_from_name(model, native=native, why=f"{model} does not exist here")
        if by_name is not None:
            return by_name
        raise ModelConfigError(
            f"{model}: no such file or folder, and its name matches no registry entry or model family",
            hint="pass an existing model folder, its config.json, or a GGUF file",
        )

    if offline is None:
        offline = hub.hub_offline_from_env()
    cached = hub.cached_config(model)
    if cached is not None:
        return _confirmed(
            spec_from_config(
                read_config_file(cached),
                model=model,
                source="hub-cache",
                native=native,
                native_source=native_source,
                origin=f"{model} (cached {cached})",
            )
        )
    why_not_hub = "offline (HF_HUB_OFFLINE or --offline)"
    hub_error: ModelConfigError | None = None
    if not offline:
        try:
            downloaded = hub.download_config(model)
        except hub.HubUnavailable as error:
            why_not_hub = str(error)
        except ModelConfigError as error:
            # Gated (meta-llama without a token) or unknown to the hub: the registry may still know it.
            hub_error = error
        else:
            return _confirmed(
                spec_from_config(
                    read_config_file(downloaded),
                    model=model,
                    source="hub",
                    native=native,
                    native_source=native_source,
                    origin=f"{model} (hub config.json)",
                )
            )
    spec = registry_spec(model, native=native)
    if spec is not None:
        return spec
    if hub_error is not None:
        raise hub_error
    by_name = spec_from_name(model, native=native, why=f"the hub is not available ({why_not_hub})")
    if by_name is not None:
        return by_name
    raise ModelConfigError(
        f"unknown model {model!r}: not a local file or folder, not in the Hugging Face cache, "
        f"the hub is not available ({why_not_hub}), and neither ropeguard's registry nor its "
        "family rules know it",
        hint="pass a local model folder or the path of its config.json",
    )


def _confirmed(spec: ModelSpec) -> ModelSpec:
    """Clear `native_context_unconfirmed` when the registry or a family rule, by name, agrees."""
    if not spec.native_context_unconfirmed:
        return spec
    name = spec.serve_model.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    entry = registry_entry(spec.model) or registry_entry_by_basename(strip_quant_suffix(name)[0])
    family = match_family(name)
    natives = {entry.native_context if entry else None, family.native if family and family.config else None}
    if spec.native_context in natives:
        return spec.model_copy(update={"native_context_unconfirmed": False})
    return spec


def spec_from_name(model: str, *, native: int | None = None, why: str) -> ModelSpec | None:
    """A spec from the model's name alone: a registry entry of that basename, else a family rule.

    None when neither knows the name. `why` says why no config was read (it ends up in the source).
    Raises ModelConfigError when the family is known but its rope depends on a size the name lacks.
    """
    base, quantization = strip_quant_suffix(model.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower())
    entry = registry_entry_by_basename(base)
    if entry is not None:
        spec = registry_spec(entry.id, native=native)
        if spec is not None:
            return spec.model_copy(
                update={
                    "model": model,
                    "quantization": quantization or spec.quantization,
                    "native_context_source": f"{spec.native_context_source} (by name: {why})",
                }
            )
    found = match_family(model)
    if found is None:
        return None
    rule = found.rule
    if not found.config:
        raise ModelConfigError(
            f"{model}: family {rule.key} is known, but its rope settings differ by size and size "
            f"{found.size!r} is not one ropeguard lists ({', '.join(rule.sizes)})",
            hint="pass the model's config.json (or its folder)",
        )
    size_note = "" if found.size_known else f"; size {found.size!r} unknown, so no weights or KV cache"
    sentence = f"ropeguard family rule {rule.key} (from the name; {why}{size_note}): {rule.source}"
    spec = spec_from_config(
        found.config,
        model=model,
        source="family",
        native=native if native is not None else found.native,
        native_source="given with --native" if native is not None else sentence,
        origin=f"ropeguard family rule {rule.key}",
        resolved_by="family",
    )
    if found.size_known:
        return spec
    return spec.model_copy(update={"shape_known": False, "missing_weight_fields": ["the model size"]})


def registry_spec(model_id: str, *, native: int | None = None) -> ModelSpec | None:
    """The ModelSpec of a registered model (config_source "registry"), or None if it is unknown.

    native: overrides the registry's native context (the `--native` flag).
    """
    entry = registry_entry(model_id)
    if entry is None:
        return None
    return spec_from_config(
        entry.config,
        model=entry.id,
        source="registry",
        native=native if native is not None else entry.native_context,
        native_source=None if native is not None else f"ropeguard registry: {entry.native_context_source}",
        origin=f"ropeguard registry entry {entry.id}",
        resolved_by="registry",
    )


def gguf_spec(path: Path, *, model: str, native: int | None = None) -> ModelSpec:
    """A GGUF file's ModelSpec (config_source "gguf"), read from its metadata alone."""
    # Lazy: only GGUF files need the binary header reader (reading a config.json never loads it).
    from ropeguard.models.gguf_file import config_from_gguf, file_type_name, read_gguf_metadata

    metadata, tensors = read_gguf_metadata(path)
    origin = str(path)
    config = config_from_gguf(metadata, tensors, origin=origin)
    spec = spec_from_config(
        config,
        model=model,
        source="gguf",
        native=native,
        native_source="given with --native" if native is not None else None,
        origin=origin,
    )
    arch = metadata["general.architecture"]
    sentence = spec.native_context_source.replace(
        "config.json max_position_embeddings", f"GGUF {arch}.context_length"
    )
    return spec.model_copy(
        update={
            "native_context_source": sentence,
            "gguf_file_type": file_type_name(metadata.get("general.file_type")),
        }
    )
