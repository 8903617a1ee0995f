"""What rules see: one launch with its effective env, engine version, model spec and plan access.

The model and the plan come through two narrow seams (`ModelResolver`, `Planner`) so that lint uses
the same config reader and the same planner as `ropeguard plan`, loads each model once per run, and
still works (model-free rules only) when a model cannot be resolved.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packaging.version import Version

from ropeguard.engines.vllm import encode_overrides
from ropeguard.errors import RopeguardError
from ropeguard.lint.launch import ALLOW_LONG_ENV, Launch, Override, Value, parse_length, truthy
from ropeguard.models.spec import ROPE_TYPE_ALIASES, ModelSpec
from ropeguard.validation import MAX_NUMBER, MAX_TOKEN_COUNT

_ROPE_KEYS = ("rope_parameters", "rope_scaling")


class ModelResolver:
    """Model id / folder -> ModelSpec through ropeguard's reader, cached for the whole run."""

    def __init__(self, *, offline: bool | None = None, model_config: str | None = None) -> None:
        self.offline = offline
        self.model_config = model_config
        self._cache: dict[str, ModelSpec | None] = {}
        self.problems: dict[str, str] = {}

    def resolve(self, model: str | None) -> ModelSpec | None:
        key = self.model_config or model
        if not key or "$" in key or "{{" in key:
            return None
        if key not in self._cache:
            self._cache[key] = self._load(key)
        return self._cache[key]

    def _load(self, model: str) -> ModelSpec | None:
        try:
            reader = importlib.import_module("ropeguard.models.reader")
        except ImportError:
            self.problems[model] = "the model reader is not available"
            return None
        load: Callable[..., ModelSpec] = reader.load_model_spec
        try:
            return load(model, offline=self.offline)
        except RopeguardError as error:
            self.problems[model] = error.message
            return None


@dataclass(frozen=True)
class PlannedFix:
    """What `plan` says the launch should carry for its served length."""

    hf_overrides: dict[str, Any]
    factor: float
    max_model_len: int
    env: dict[str, str]


class Planner:
    """(spec, target, engine version) -> PlannedFix via `ropeguard.plan.make_plan`, cached."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, str], PlannedFix | None] = {}

    def plan(self, spec: ModelSpec, target: int, engine_version: str) -> PlannedFix | None:
        key = (spec.model, target, engine_version)
        if key not in self._cache:
            self._cache[key] = self._make(spec, target, engine_version)
        return self._cache[key]

    @staticmethod
    def _make(spec: ModelSpec, target: int, engine_version: str) -> PlannedFix | None:
        # Lazy: the planner (and its pydantic models) loads only for a launch that needs a fix, not
        # for the clean files that most of a lint run reads.
        from ropeguard.plan import make_plan

        try:
            plan = make_plan(spec, target, engine="vllm", engine_version=engine_version)
        except RopeguardError:
            return None  # a refused plan: the rule's message says why; there is no safe fix
        return PlannedFix(
            hf_overrides=dict(plan.hf_overrides or {}),
            factor=float(plan.factor),
            max_model_len=target,
            env=dict(plan.env),
        )


@dataclass
class RopeOverride:
    """The rope dict a launch applies, wherever it was written."""

    data: dict[str, Any]
    key: str  # "rope_parameters", "rope_scaling" or "--rope-scaling"
    origin: Override
    container: dict[str, Any]  # the dict holding `key` (top-level overrides or text_config)

    @property
    def rope_type(self) -> str | None:
        value = self.data.get("rope_type", self.data.get("type"))
        return ROPE_TYPE_ALIASES.get(str(value), str(value)) if value is not None else None

    def number(self, name: str) -> float | None:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        # NaN, 1e999 and 400-digit numbers are not numbers lint can judge (nor vLLM use)
        if isinstance(value, int) and abs(value) > MAX_NUMBER:
            return None
        return float(value) if math.isfinite(value) else None


@dataclass
class LaunchContext:
    launch: Launch
    env: dict[str, Value]
    engine_version: Version
    version_source: str
    transformers_version: str | None
    spec: ModelSpec | None
    planner: Planner
    _fix: str | None = field(default=None, init=False)
    _fixed: bool = field(default=False, init=False)

    @property
    def max_len(self) -> int | None:
        value = self.launch.max_model_len
        return parse_length(value.text) if value is not None else None

    @property
    def allow_long(self) -> bool:
        value = self.env.get(ALLOW_LONG_ENV)
        return value is not None and truthy(value.text)

    def rope_overrides(self) -> list[RopeOverride]:
        found: list[RopeOverride] = []
        for override in self.launch.overrides:
            if override.data is None:
                continue
            containers = [override.data]
            nested = override.data.get("text_config")
            # A model without a text_config (Qwen3) never reads what is nested there (RG304 says so).
            if isinstance(nested, dict) and not self.lacks_text_config:
                containers.append(nested)
            for container in containers:
                for key in _ROPE_KEYS:
                    value = container.get(key)
                    if not isinstance(value, dict):
                        continue
                    # Gemma 3 style: one rope dict per layer type ({"full_attention": {...}, ...}).
                    per_layer = [v for v in value.values() if isinstance(v, dict)]
                    if per_layer and len(per_layer) == len(value):
                        found.extend(RopeOverride(v, key, override, container) for v in per_layer)
                    else:
                        found.append(RopeOverride(value, key, override, container))
        flag = self.launch.rope_scaling_flag
        if flag is not None and flag.data is not None:
            found.append(RopeOverride(flag.data, "--rope-scaling", flag, flag.data))
        return found

    @property
    def lacks_text_config(self) -> bool:
        """The model is known and keeps its text fields at top level (no multimodal wrapper)."""
        return self.spec is not None and self.spec.text_config_key is None

    def opaque_override(self) -> bool:
        """An override lint cannot read (bad JSON, a `$VAR`): what it scales is unknown."""
        flag = self.launch.rope_scaling_flag
        return any(o.data is None for o in self.launch.overrides) or (flag is not None and flag.data is None)

    def override_max_position(self) -> int | None:
        for override in self.launch.overrides:
            for container in (override.data or {}, (override.data or {}).get("text_config") or {}):
                value = container.get("max_position_embeddings") if isinstance(container, dict) else None
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
        return None

    def target(self) -> int | None:
        """The length the launch means to serve: --max-model-len, else what its YaRN dict covers."""
        if self.max_len is not None:
            return self.max_len
        for rope in self.rope_overrides():
            factor, original = rope.number("factor"), rope.number("original_max_position_embeddings")
            if factor and original and 0 < factor * original <= MAX_TOKEN_COUNT:
                return int(factor * original)
        return None

    def fix(self) -> str | None:
        """The corrected override, as `plan` computes it for this model, target and engine version."""
        if self._fixed:
            return self._fix
        self._fixed = True
        target = self.target()
        if self.spec is None or target is None:
            return None
        planned = self.planner.plan(self.spec, target, str(self.engine_version))
        if planned is None:
            return None
        self._fix = (
            render_override(planned.hf_overrides, self.launch.source) if planned.hf_overrides else None
        )
        return self._fix

    def planned(self) -> PlannedFix | None:
        target = self.target()
        if self.spec is None or target is None:
            return None
        return self.planner.plan(self.spec, target, str(self.engine_version))


def override_json(overrides: dict[str, Any]) -> str:
    """The override's JSON text exactly as `plan` writes it (the vLLM engine's own encoder)."""
    return encode_overrides(overrides)


def render_override(overrides: dict[str, Any], source: str) -> str:
    """The fragment a file of this kind should carry (a flag for argv sources, a kwarg for Python)."""
    text = override_json(overrides)
    if source == "python":
        return f"hf_overrides={overrides!r}"
    return f"--hf-overrides '{text}'"
